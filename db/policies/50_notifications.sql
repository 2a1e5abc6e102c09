-- Notifications domain: calendar-invite state, written by definer functions. (Reminders have no
-- table of their own: the job reads the sessions; its watermark, app.reminder_watermark, is read and
-- written by the job's definer function only, so no role is granted anything on it.)

-- Invites: visible to whoever can see the session (the sessions policies decide).
GRANT SELECT ON app.session_invites TO autodoc_customer, autodoc_mechanic, autodoc_admin;
DROP POLICY IF EXISTS "people see invites of sessions they can see" ON app.session_invites;
CREATE POLICY "people see invites of sessions they can see" ON app.session_invites FOR SELECT
  TO autodoc_customer, autodoc_mechanic, autodoc_admin
  USING (EXISTS (SELECT 1 FROM app.sessions s WHERE s.id = session_id));

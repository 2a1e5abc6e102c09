-- Notifications domain: calendar-invite state and reminders, written by definer functions.

-- Invites and reminders: visible to whoever can see the session (the sessions policies decide).
GRANT SELECT ON app.session_invites, app.session_reminders TO autodoc_customer, autodoc_mechanic, autodoc_admin;
DROP POLICY IF EXISTS "people see invites of sessions they can see" ON app.session_invites;
CREATE POLICY "people see invites of sessions they can see" ON app.session_invites FOR SELECT
  TO autodoc_customer, autodoc_mechanic, autodoc_admin
  USING (EXISTS (SELECT 1 FROM app.sessions s WHERE s.id = session_id));
DROP POLICY IF EXISTS "people see reminders of sessions they can see" ON app.session_reminders;
CREATE POLICY "people see reminders of sessions they can see" ON app.session_reminders FOR SELECT
  TO autodoc_customer, autodoc_mechanic, autodoc_admin
  USING (EXISTS (SELECT 1 FROM app.sessions s WHERE s.id = session_id));

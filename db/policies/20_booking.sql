-- Booking domain: grants and row-level security (plans, booking settings, sessions, assignments,
-- events). Mechanics' rows are in 22_mechanics.sql, workshops in 25_admin_onboarding.sql,
-- customers, vehicles and favorites in 27_customer_self_service.sql.
-- Writes to sessions, assignments and events happen through SECURITY DEFINER api functions; the
-- grants below are what a caller (or a DBA doing SET ROLE) can do directly, and RLS narrows them.
-- The worker reads only the public reference data: everything it does with people's rows goes
-- through definer functions (outbox payloads, payments, hold release), so it holds no grant on
-- sessions, assignments or events (what version 0002 gave it was removed by migration 0015).

-- Helpers the policies use; SECURITY DEFINER so a policy on one table can look at another without
-- recursing through that table's policies. Evaluated once per statement as (SELECT ...).

-- my_assigned_session_ids(): sessions the calling mechanic has a live assignment for (booked with
-- them, offered to them, accepted by them). A withdrawn (rescheduled to someone else), declined or
-- expired assignment no longer shows the session, its vehicle, events, invites or reminders.
CREATE OR REPLACE FUNCTION app_private.my_assigned_session_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT coalesce(array_agg(a.session_id), '{}')
  FROM app.session_assignments a
  WHERE a.mechanic_id = app_private.current_user_id()
    AND a.status IN ('scheduled', 'offered', 'accepted')
$$;

-- my_session_vehicle_ids(): vehicles of sessions booked with / offered to the calling mechanic.
CREATE OR REPLACE FUNCTION app_private.my_session_vehicle_ids() RETURNS uuid[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT coalesce(array_agg(DISTINCT s.vehicle_id), '{}')
  FROM app.sessions s
  WHERE s.vehicle_id IS NOT NULL
    AND (s.mechanic_id = app_private.current_user_id()
         OR s.id = ANY (app_private.my_assigned_session_ids()))
$$;

GRANT EXECUTE ON FUNCTION app_private.my_assigned_session_ids(), app_private.my_session_vehicle_ids()
  TO autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
-- used by SECURITY INVOKER api functions for input validation
GRANT EXECUTE ON FUNCTION app_private.require_choice(text, text, text[])
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

------------------------------------------------------------------ plans and booking settings (public reference data)
GRANT SELECT ON app.plans, app.booking_settings TO autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
GRANT INSERT, UPDATE, DELETE ON app.plans TO autodoc_admin;
GRANT UPDATE ON app.booking_settings TO autodoc_admin;

DROP POLICY IF EXISTS "everyone reads the plans" ON app.plans;
CREATE POLICY "everyone reads the plans" ON app.plans FOR SELECT USING (true);
DROP POLICY IF EXISTS "admins manage the plans" ON app.plans;
CREATE POLICY "admins manage the plans" ON app.plans FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

DROP POLICY IF EXISTS "everyone reads the booking settings" ON app.booking_settings;
CREATE POLICY "everyone reads the booking settings" ON app.booking_settings FOR SELECT USING (true);
DROP POLICY IF EXISTS "admins change the booking settings" ON app.booking_settings;
CREATE POLICY "admins change the booking settings" ON app.booking_settings FOR UPDATE TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

------------------------------------------------------------------ sessions, assignments, events
GRANT SELECT ON app.sessions, app.session_assignments, app.session_events
  TO autodoc_customer, autodoc_mechanic, autodoc_admin;
GRANT INSERT, UPDATE, DELETE ON app.sessions, app.session_assignments TO autodoc_admin;
GRANT INSERT ON app.session_events TO autodoc_admin;

DROP POLICY IF EXISTS "customers see their own sessions" ON app.sessions;
CREATE POLICY "customers see their own sessions" ON app.sessions FOR SELECT TO autodoc_customer
  USING (customer_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "mechanics see the sessions booked with or offered to them" ON app.sessions;
CREATE POLICY "mechanics see the sessions booked with or offered to them" ON app.sessions FOR SELECT
  TO autodoc_mechanic
  USING (mechanic_id = (SELECT app_private.current_user_id())
         OR id = ANY ((SELECT app_private.my_assigned_session_ids())::uuid[]));
DROP POLICY IF EXISTS "admins manage every session" ON app.sessions;
CREATE POLICY "admins manage every session" ON app.sessions FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

DROP POLICY IF EXISTS "customers see the assignments of their sessions" ON app.session_assignments;
CREATE POLICY "customers see the assignments of their sessions" ON app.session_assignments FOR SELECT
  TO autodoc_customer
  USING (EXISTS (SELECT FROM app.sessions s WHERE s.id = session_id
                   AND s.customer_id = (SELECT app_private.current_user_id())));
DROP POLICY IF EXISTS "mechanics see their own assignments" ON app.session_assignments;
CREATE POLICY "mechanics see their own assignments" ON app.session_assignments FOR SELECT TO autodoc_mechanic
  USING (mechanic_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins manage every assignment" ON app.session_assignments;
CREATE POLICY "admins manage every assignment" ON app.session_assignments FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

DROP POLICY IF EXISTS "customers see the events of their sessions" ON app.session_events;
CREATE POLICY "customers see the events of their sessions" ON app.session_events FOR SELECT TO autodoc_customer
  USING (EXISTS (SELECT FROM app.sessions s WHERE s.id = session_id
                   AND s.customer_id = (SELECT app_private.current_user_id())));
DROP POLICY IF EXISTS "mechanics see the events of their sessions" ON app.session_events;
CREATE POLICY "mechanics see the events of their sessions" ON app.session_events FOR SELECT TO autodoc_mechanic
  USING (EXISTS (SELECT FROM app.sessions s WHERE s.id = session_id));  -- the sessions policy narrows it
DROP POLICY IF EXISTS "admins read every event" ON app.session_events;
CREATE POLICY "admins read every event" ON app.session_events FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));
DROP POLICY IF EXISTS "admins append events" ON app.session_events;
CREATE POLICY "admins append events" ON app.session_events FOR INSERT TO autodoc_admin
  WITH CHECK ((SELECT app_private.is_admin()));

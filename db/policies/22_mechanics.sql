-- Mechanic directory and self-service: grants and row-level security (mechanics, their weekly
-- availability blocks and time off). Writes by mechanics go through api functions or these grants;
-- RLS keeps each mechanic to their own rows. The worker and anonymous callers get no grant on
-- availability or time off (what version 0002 gave the worker was removed by migration 0015).

------------------------------------------------------------------ mechanics (a public directory)
GRANT SELECT ON app.mechanics TO autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
GRANT INSERT, UPDATE, DELETE ON app.mechanics TO autodoc_admin;
GRANT UPDATE (display_name, bio, specialties, certifications, country, state_province, city, postal_code)
  ON app.mechanics TO autodoc_mechanic;

DROP POLICY IF EXISTS "everyone reads the mechanic directory" ON app.mechanics;
CREATE POLICY "everyone reads the mechanic directory" ON app.mechanics FOR SELECT USING (true);
DROP POLICY IF EXISTS "mechanics edit their own profile" ON app.mechanics;
CREATE POLICY "mechanics edit their own profile" ON app.mechanics FOR UPDATE TO autodoc_mechanic
  USING (user_id = (SELECT app_private.current_user_id()))
  WITH CHECK (user_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins manage every mechanic" ON app.mechanics;
CREATE POLICY "admins manage every mechanic" ON app.mechanics FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

------------------------------------------------------------------ mechanics' availability and time off
GRANT SELECT, INSERT, UPDATE, DELETE ON app.mechanic_availability_blocks, app.mechanic_time_off
  TO autodoc_mechanic, autodoc_admin;

DROP POLICY IF EXISTS "mechanics manage their own availability blocks" ON app.mechanic_availability_blocks;
CREATE POLICY "mechanics manage their own availability blocks" ON app.mechanic_availability_blocks FOR ALL
  TO autodoc_mechanic
  USING (mechanic_id = (SELECT app_private.current_user_id()))
  WITH CHECK (mechanic_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins manage every availability block" ON app.mechanic_availability_blocks;
CREATE POLICY "admins manage every availability block" ON app.mechanic_availability_blocks FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

DROP POLICY IF EXISTS "mechanics manage their own time off" ON app.mechanic_time_off;
CREATE POLICY "mechanics manage their own time off" ON app.mechanic_time_off FOR ALL TO autodoc_mechanic
  USING (mechanic_id = (SELECT app_private.current_user_id()))
  WITH CHECK (mechanic_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins manage every time off" ON app.mechanic_time_off;
CREATE POLICY "admins manage every time off" ON app.mechanic_time_off FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

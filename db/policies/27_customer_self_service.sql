-- Customer self-service: grants and row-level security of customers, vehicles and favorites.
-- The worker and anonymous callers get no grant on customers or vehicles (the worker reads what an
-- email needs through definer functions; what version 0002 gave it was removed by migration 0015).

------------------------------------------------------------------ customers, vehicles, favorites
GRANT SELECT ON app.customers TO autodoc_customer, autodoc_admin;
GRANT UPDATE (phone, country, state_province, city, postal_code) ON app.customers TO autodoc_customer;
GRANT INSERT, UPDATE, DELETE ON app.customers TO autodoc_admin;

DROP POLICY IF EXISTS "customers see their own profile" ON app.customers;
CREATE POLICY "customers see their own profile" ON app.customers FOR SELECT TO autodoc_customer
  USING (user_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "customers edit their own profile" ON app.customers;
CREATE POLICY "customers edit their own profile" ON app.customers FOR UPDATE TO autodoc_customer
  USING (user_id = (SELECT app_private.current_user_id()))
  WITH CHECK (user_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins manage every customer" ON app.customers;
CREATE POLICY "admins manage every customer" ON app.customers FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

GRANT SELECT, INSERT, UPDATE, DELETE ON app.vehicles TO autodoc_customer, autodoc_admin;
GRANT SELECT ON app.vehicles TO autodoc_mechanic;

DROP POLICY IF EXISTS "customers manage their own vehicles" ON app.vehicles;
CREATE POLICY "customers manage their own vehicles" ON app.vehicles FOR ALL TO autodoc_customer
  USING (customer_id = (SELECT app_private.current_user_id()))
  WITH CHECK (customer_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "mechanics see the vehicles of their sessions" ON app.vehicles;
CREATE POLICY "mechanics see the vehicles of their sessions" ON app.vehicles FOR SELECT TO autodoc_mechanic
  USING (id = ANY ((SELECT app_private.my_session_vehicle_ids())::uuid[]));
DROP POLICY IF EXISTS "admins manage every vehicle" ON app.vehicles;
CREATE POLICY "admins manage every vehicle" ON app.vehicles FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

GRANT SELECT, INSERT, DELETE ON app.favorites TO autodoc_customer, autodoc_admin;
GRANT SELECT ON app.favorites TO autodoc_mechanic;   -- no policy for mechanics: they see none

DROP POLICY IF EXISTS "customers manage their own favorites" ON app.favorites;
CREATE POLICY "customers manage their own favorites" ON app.favorites FOR ALL TO autodoc_customer
  USING (customer_id = (SELECT app_private.current_user_id()))
  WITH CHECK (customer_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins manage every favorite" ON app.favorites;
CREATE POLICY "admins manage every favorite" ON app.favorites FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

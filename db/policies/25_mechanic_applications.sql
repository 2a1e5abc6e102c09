-- Mechanic applications: a person reads their own (customers and mechanics through RLS; an
-- applicant without a profile through api.my_mechanic_application); admins manage all. Writes go
-- through the definer functions in db/functions/25_mechanic_applications.sql. The worker and
-- anonymous callers get nothing: the directory never shows an applicant.
REVOKE ALL ON app.mechanic_applications FROM autodoc_worker, autodoc_anon;
GRANT SELECT ON app.mechanic_applications TO autodoc_customer, autodoc_mechanic, autodoc_admin;
GRANT INSERT, UPDATE, DELETE ON app.mechanic_applications TO autodoc_admin;

DROP POLICY IF EXISTS "people see their own mechanic applications" ON app.mechanic_applications;
CREATE POLICY "people see their own mechanic applications" ON app.mechanic_applications FOR SELECT
  TO autodoc_customer, autodoc_mechanic
  USING (user_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins manage every mechanic application" ON app.mechanic_applications;
CREATE POLICY "admins manage every mechanic application" ON app.mechanic_applications FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

-- Users: everyone sees their own row; admins see and manage all. The worker reads no user: the
-- addresses it mails to are in the outbox payload, written by definer functions.
GRANT SELECT ON app.users TO autodoc_customer, autodoc_mechanic, autodoc_admin;
GRANT INSERT, UPDATE, DELETE ON app.users TO autodoc_admin;

DROP POLICY IF EXISTS "people see their own user row" ON app.users;
CREATE POLICY "people see their own user row" ON app.users FOR SELECT
  USING (id = (SELECT app_private.current_user_id()));

DROP POLICY IF EXISTS "admins manage every user" ON app.users;
CREATE POLICY "admins manage every user" ON app.users FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

-- Waitlist: grants and row-level security. Every write goes through the SECURITY DEFINER functions
-- in db/functions/70_waitlist.sql (join, leave, the on-shift trigger, the jobs); callers only read.
REVOKE ALL ON app.waitlist_entries, app.waitlist_settings FROM autodoc_anon, autodoc_worker;
REVOKE ALL ON app.waitlist_entries FROM autodoc_mechanic;

GRANT SELECT ON app.waitlist_entries TO autodoc_customer, autodoc_admin;

DROP POLICY IF EXISTS "customers see their own waitlist entries" ON app.waitlist_entries;
CREATE POLICY "customers see their own waitlist entries" ON app.waitlist_entries FOR SELECT TO autodoc_customer
  USING (customer_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins see every waitlist entry" ON app.waitlist_entries;
CREATE POLICY "admins see every waitlist entry" ON app.waitlist_entries FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- The rules are public (the frontend tells customers how long a turn lasts); admins change them,
-- through api.set_waitlist_settings or, like the booking settings, a direct UPDATE.
GRANT SELECT ON app.waitlist_settings TO autodoc_customer, autodoc_mechanic, autodoc_admin;
GRANT UPDATE ON app.waitlist_settings TO autodoc_admin;

DROP POLICY IF EXISTS "everyone reads the waitlist settings" ON app.waitlist_settings;
CREATE POLICY "everyone reads the waitlist settings" ON app.waitlist_settings FOR SELECT USING (true);
DROP POLICY IF EXISTS "admins change the waitlist settings" ON app.waitlist_settings;
CREATE POLICY "admins change the waitlist settings" ON app.waitlist_settings FOR UPDATE TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

-- Matching: grants and row-level security. Writes go through the SECURITY DEFINER api functions
-- (offers, jobs) or, for the weights and settings, an admin's UPDATE.
-- (revoked only from roles granted nothing below, so re-applying this file leaves the ACLs as they were)
REVOKE ALL ON app.matching_criteria, app.matching_settings
  FROM autodoc_anon, autodoc_worker, autodoc_customer, autodoc_mechanic;
REVOKE ALL ON app.session_matching FROM autodoc_anon, autodoc_worker, autodoc_mechanic;
REVOKE ALL ON app.mechanic_offer_stats FROM autodoc_anon, autodoc_worker, autodoc_customer;

-- The weights and settings: admins read and change them (directly, or through api.set_matching_criterion).
GRANT SELECT, UPDATE ON app.matching_criteria, app.matching_settings TO autodoc_admin;
DROP POLICY IF EXISTS "admins read and change the matching criteria" ON app.matching_criteria;
CREATE POLICY "admins read and change the matching criteria" ON app.matching_criteria FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));
DROP POLICY IF EXISTS "admins read and change the matching settings" ON app.matching_settings;
CREATE POLICY "admins read and change the matching settings" ON app.matching_settings FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

-- A session's matching record: its customer reads it; admins read all.
GRANT SELECT ON app.session_matching TO autodoc_customer, autodoc_admin;
DROP POLICY IF EXISTS "customers see the matching of their sessions" ON app.session_matching;
CREATE POLICY "customers see the matching of their sessions" ON app.session_matching FOR SELECT
  TO autodoc_customer USING (customer_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins see every matching" ON app.session_matching;
CREATE POLICY "admins see every matching" ON app.session_matching FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- Offer numbers: each mechanic reads their own; admins read all.
GRANT SELECT ON app.mechanic_offer_stats TO autodoc_mechanic, autodoc_admin;
DROP POLICY IF EXISTS "mechanics see their own offer numbers" ON app.mechanic_offer_stats;
CREATE POLICY "mechanics see their own offer numbers" ON app.mechanic_offer_stats FOR SELECT
  TO autodoc_mechanic USING (mechanic_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins see every mechanic's offer numbers" ON app.mechanic_offer_stats;
CREATE POLICY "admins see every mechanic's offer numbers" ON app.mechanic_offer_stats FOR SELECT
  TO autodoc_admin USING ((SELECT app_private.is_admin()));

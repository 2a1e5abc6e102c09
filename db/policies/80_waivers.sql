-- Waivers and the live session: grants and row-level security. Every write goes through the
-- SECURITY DEFINER functions of band 80 (sign, publish, rate); callers only read.
--
-- The signature image (waiver_signatures.signature_data_url) is granted to nobody: lists and direct
-- reads show everything else about a signature, and only api.session_waiver (one session, after
-- its own access check) returns the image.
REVOKE ALL ON app.session_rules, app.waiver_versions, app.waiver_signatures, app.session_ratings
  FROM autodoc_anon, autodoc_worker;

------------------------------------------------------------------ the rules and the waiver texts (public)
GRANT SELECT ON app.session_rules, app.waiver_versions TO autodoc_customer, autodoc_mechanic, autodoc_admin;
GRANT UPDATE ON app.session_rules TO autodoc_admin;

DROP POLICY IF EXISTS "everyone reads the session rules" ON app.session_rules;
CREATE POLICY "everyone reads the session rules" ON app.session_rules FOR SELECT USING (true);
DROP POLICY IF EXISTS "admins change the session rules" ON app.session_rules;
CREATE POLICY "admins change the session rules" ON app.session_rules FOR UPDATE TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

DROP POLICY IF EXISTS "everyone reads the waiver versions" ON app.waiver_versions;
CREATE POLICY "everyone reads the waiver versions" ON app.waiver_versions FOR SELECT USING (true);

------------------------------------------------------------------ signatures (without the image)
REVOKE ALL ON app.waiver_signatures FROM autodoc_customer, autodoc_mechanic, autodoc_admin;
GRANT SELECT (id, session_id, customer_id, waiver_version, mode, signature_bytes, agreed, ip_address, user_agent,
              signed_by, signed_at)
  ON app.waiver_signatures TO autodoc_customer, autodoc_mechanic, autodoc_admin;

DROP POLICY IF EXISTS "customers see their own waivers" ON app.waiver_signatures;
CREATE POLICY "customers see their own waivers" ON app.waiver_signatures FOR SELECT TO autodoc_customer
  USING (customer_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "mechanics see the waivers of sessions assigned to them" ON app.waiver_signatures;
CREATE POLICY "mechanics see the waivers of sessions assigned to them" ON app.waiver_signatures FOR SELECT
  TO autodoc_mechanic
  USING (EXISTS (SELECT FROM app.sessions s WHERE s.id = session_id
                   AND s.mechanic_id = (SELECT app_private.current_user_id())));
DROP POLICY IF EXISTS "admins see every waiver" ON app.waiver_signatures;
CREATE POLICY "admins see every waiver" ON app.waiver_signatures FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

------------------------------------------------------------------ ratings
GRANT SELECT ON app.session_ratings TO autodoc_customer, autodoc_mechanic, autodoc_admin;

DROP POLICY IF EXISTS "customers see their own ratings" ON app.session_ratings;
CREATE POLICY "customers see their own ratings" ON app.session_ratings FOR SELECT TO autodoc_customer
  USING (customer_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "mechanics see the ratings of their sessions" ON app.session_ratings;
CREATE POLICY "mechanics see the ratings of their sessions" ON app.session_ratings FOR SELECT TO autodoc_mechanic
  USING (mechanic_id = (SELECT app_private.current_user_id()));
DROP POLICY IF EXISTS "admins see every rating" ON app.session_ratings;
CREATE POLICY "admins see every rating" ON app.session_ratings FOR SELECT TO autodoc_admin
  USING ((SELECT app_private.is_admin()));

-- Admin onboarding: grants and row-level security of workshops and their opening hours (public
-- reference data everyone reads; admins manage them).

------------------------------------------------------------------ workshops and workshop hours
GRANT SELECT ON app.workshops, app.workshop_availability TO autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
GRANT INSERT, UPDATE, DELETE ON app.workshops, app.workshop_availability TO autodoc_admin;

DROP POLICY IF EXISTS "everyone reads the workshops" ON app.workshops;
CREATE POLICY "everyone reads the workshops" ON app.workshops FOR SELECT USING (true);
DROP POLICY IF EXISTS "admins manage the workshops" ON app.workshops;
CREATE POLICY "admins manage the workshops" ON app.workshops FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

DROP POLICY IF EXISTS "everyone reads workshop hours" ON app.workshop_availability;
CREATE POLICY "everyone reads workshop hours" ON app.workshop_availability FOR SELECT USING (true);
DROP POLICY IF EXISTS "admins manage workshop hours" ON app.workshop_availability;
CREATE POLICY "admins manage workshop hours" ON app.workshop_availability FOR ALL TO autodoc_admin
  USING ((SELECT app_private.is_admin())) WITH CHECK ((SELECT app_private.is_admin()));

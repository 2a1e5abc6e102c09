-- The clock switch: every role reads it (app_private.now() runs as the caller); only the owner
-- changes it (no grant, no policy for writes).
GRANT SELECT ON app.clock_settings TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
DROP POLICY IF EXISTS "everyone reads the clock switch" ON app.clock_settings;
CREATE POLICY "everyone reads the clock switch" ON app.clock_settings FOR SELECT USING (true);

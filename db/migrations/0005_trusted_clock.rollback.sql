-- Reverts 0005_trusted_clock. app_private.now() reads this table: drop it with the table.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION IF EXISTS app_private.now();
DROP TABLE app.clock_settings;
REVOKE USAGE ON SCHEMA app, app_private FROM autodoc_anon;

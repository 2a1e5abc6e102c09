-- Reverts 0005_trusted_clock to version 0004 (re-apply version 0004's files afterwards:
-- docs/migrations.md). app_private.now() reads this table: it goes with the table.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION app_private.now();
DROP TABLE app.clock_settings;
REVOKE USAGE ON SCHEMA app, app_private FROM autodoc_anon;

-- Reverts 0011_browser_reality: customer time zones, the default zone, directory search, and the
-- functions, grants and policies the idempotent files built on them. The previous version's
-- idempotent files recreate api.create_customer with its old signature.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION IF EXISTS api.create_customer(text, text, text, text, text, text, text, uuid, text);
DROP FUNCTION IF EXISTS api.my_customer_profile(uuid);
DROP FUNCTION IF EXISTS app_private.customer_profile(uuid);
DROP FUNCTION IF EXISTS api.set_customer_timezone(text, uuid);
DROP FUNCTION IF EXISTS api.mechanic_schedule(text, integer);
DROP FUNCTION IF EXISTS app_private.session_customer_first_names(uuid[]);
DROP FUNCTION IF EXISTS app_private.directory_search_query(text);
REVOKE EXECUTE ON FUNCTION api.list_mechanics(text, boolean, text, text, text, text, text, text, integer, integer)
  FROM autodoc_anon;
REVOKE EXECUTE ON FUNCTION api.list_available_mechanics(text, text, text, text, text, integer) FROM autodoc_anon;

DROP INDEX app.mechanics_search_idx;
DROP FUNCTION app_private.mechanic_search_document(text, text, text[], text[]);
ALTER TABLE app.booking_settings DROP COLUMN default_timezone;
ALTER TABLE app.customers DROP COLUMN timezone;
-- Functions the previous version may or may not have, depending on which commit of it is re-applied
-- (two branches both stood at 0008 with different files): dropped here, the re-applied files of
-- that version create them again when they have them (added with migration 0025, tests/py/db_versions.py).
DROP FUNCTION IF EXISTS app_private.error_message(text);
DROP FUNCTION IF EXISTS app_private.error_catalog();
DROP FUNCTION IF EXISTS app_private.place_facts(text, app.workshops);

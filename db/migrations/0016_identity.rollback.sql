-- Reverts 0016_identity: mechanic applications, users.deleted_at, and the functions, grants and
-- policies the idempotent files built on them (request start, self-service profile, applications,
-- export and deletion).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION IF EXISTS app_private.begin_request(jsonb);
DROP FUNCTION IF EXISTS app_private.token_user_role(uuid);
DROP FUNCTION IF EXISTS app_private.current_user_email();
DROP FUNCTION IF EXISTS app_private.signed_in_user();
DROP FUNCTION IF EXISTS api.save_my_customer_profile(text, text, text, text, text, text, text);
DROP FUNCTION IF EXISTS api.apply_as_mechanic(text, text, text[], text[], integer, text[], text, text, text, text, text, uuid, text);
DROP FUNCTION IF EXISTS api.my_mechanic_application();
DROP FUNCTION IF EXISTS api.mechanic_applications(text, integer, integer);
DROP FUNCTION IF EXISTS api.approve_mechanic_application(uuid);
DROP FUNCTION IF EXISTS api.reject_mechanic_application(uuid, text);
DROP FUNCTION IF EXISTS app_private.mechanic_application_json(app.mechanic_applications);
DROP FUNCTION IF EXISTS app_private.open_application(uuid);
DROP FUNCTION IF EXISTS app_private.enqueue_application_email(app.mechanic_applications, text, text, text, text);
DROP FUNCTION IF EXISTS api.export_my_data();
DROP FUNCTION IF EXISTS api.delete_my_account();
DROP FUNCTION IF EXISTS app_private.redact_jsonb(jsonb, text[]);
REVOKE ALL ON SCHEMA app_private FROM autodoc_api;

DROP TABLE app.mechanic_applications;
ALTER TABLE app.users DROP COLUMN deleted_at;

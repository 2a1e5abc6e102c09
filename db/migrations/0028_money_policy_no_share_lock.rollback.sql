-- Reverts 0028_money_policy_no_share_lock: the sessions' foreign key to app.money_policy_versions
-- comes back NOT VALID (as 0021 added it); the trigger money_policy_versions_keep_referenced and its
-- function go (the previous files do not create them; their sessions_money_policy fires on INSERT only).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS money_policy_versions_15_keep_referenced ON app.money_policy_versions;
DROP FUNCTION IF EXISTS app_private.money_policy_versions_keep_referenced();
DROP TRIGGER IF EXISTS sessions_40_money_policy ON app.sessions;
CREATE TRIGGER sessions_40_money_policy BEFORE INSERT ON app.sessions
  FOR EACH ROW EXECUTE FUNCTION app_private.sessions_money_policy();
ALTER TABLE app.sessions ADD CONSTRAINT sessions_money_policy_version_fkey
  FOREIGN KEY (money_policy_version) REFERENCES app.money_policy_versions (version) NOT VALID;

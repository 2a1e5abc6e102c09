-- Reverts 0024_contract: drops the two functions version 0024's files added; version 0023's files
-- neither create nor call them (its booking functions have no grid check).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION IF EXISTS api.mechanic_day_start(date, uuid);
DROP FUNCTION IF EXISTS app_private.require_on_grid(uuid, timestamptz, interval, text);

-- Reverts 0022_leave_shift_check: drops the trigger and its function; version 0021's files bring back
-- api.set_shift with the check inside it.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS mechanics_leave_shift_keeps_sessions ON app.mechanics;
DROP FUNCTION IF EXISTS app_private.mechanics_leave_shift_keeps_sessions();

-- Reverts 0023_leave_shift_check: drops the two triggers and their functions; version 0022's files bring
-- back api.set_shift with the check inside it.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS mechanics_leave_shift_keeps_sessions ON app.mechanics;
DROP FUNCTION IF EXISTS app_private.mechanics_leave_shift_keeps_sessions();
DROP TRIGGER IF EXISTS booking_settings_keep_bookings_inside ON app.booking_settings;
DROP FUNCTION IF EXISTS app_private.booking_settings_keep_bookings_inside();

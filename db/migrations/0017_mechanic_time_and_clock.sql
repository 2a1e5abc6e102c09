-- depends: 0016_identity
-- One guarantee for a mechanic's time and the trusted clock in bands 00-27.
-- The functions of these bands no longer take a `p_now` parameter: they read app_private.now()
-- (db/functions/00_clock.sql), so no caller can book in the past or stretch a hold by passing a
-- time. A clean break: the old signatures are dropped here, and the idempotent files re-applied after
-- this migration create the new ones (together with the lock, the status sets and the triggers of
-- db/functions/10_mechanic_time.sql and db/triggers/10_mechanic_time.sql). No table changes.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
-- Dropping these signatures is the point: callers that pass a time must stop doing so.
-- squawk-ignore-file ban-drop-function

-- api: the p_now parameter goes
DROP FUNCTION IF EXISTS api.health(timestamptz);
DROP FUNCTION IF EXISTS api.check_availability(uuid, timestamptz, timestamptz, text, timestamptz);
DROP FUNCTION IF EXISTS api.mechanic_slots(uuid, date, text, timestamptz);
DROP FUNCTION IF EXISTS api.mechanic_calendar(uuid, date, integer, text, timestamptz);
DROP FUNCTION IF EXISTS api.create_session(text, text, text, text, uuid, boolean, timestamptz, uuid, text, uuid, boolean,
                                           text, text, jsonb, jsonb, uuid, timestamptz);
DROP FUNCTION IF EXISTS api.hold_slot(uuid, timestamptz, text, text, uuid, interval, timestamptz);
DROP FUNCTION IF EXISTS api.release_hold(uuid, timestamptz);
DROP FUNCTION IF EXISTS api.release_expired_holds(timestamptz);
DROP FUNCTION IF EXISTS api.reschedule_session(uuid, timestamptz, uuid, timestamptz);
DROP FUNCTION IF EXISTS api.my_appointments(text, timestamptz, integer);
DROP FUNCTION IF EXISTS api.add_time_off(timestamptz, timestamptz, text, uuid, timestamptz);
DROP FUNCTION IF EXISTS api.my_time_off(timestamptz);
DROP FUNCTION IF EXISTS api.set_shift(boolean, uuid, timestamptz);

-- app_private helpers that took "now" from their callers
DROP FUNCTION IF EXISTS app_private.mechanic_busy(uuid, tstzrange, timestamptz, uuid);
DROP FUNCTION IF EXISTS app_private.slot_reasons(uuid, tstzrange, timestamptz, uuid);
DROP FUNCTION IF EXISTS app_private.slot_grid(uuid, date, date, interval, timestamptz);
DROP FUNCTION IF EXISTS app_private.require_schedule_time(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS app_private.release_expired_holds_in_way(uuid, uuid, tstzrange, timestamptz);
DROP FUNCTION IF EXISTS app_private.upcoming_appointment(uuid, timestamptz, uuid);
DROP FUNCTION IF EXISTS app_private.require_slot(uuid, uuid, tstzrange, timestamptz, uuid, boolean);
-- its p_now argument is renamed p_as_of (a value its callers read from the clock once), and
-- CREATE OR REPLACE cannot rename an argument
DROP FUNCTION IF EXISTS app_private.availability_reasons(tstzrange, tstzmultirange, tstzmultirange, tstzmultirange,
                                                         timestamptz, interval, interval);

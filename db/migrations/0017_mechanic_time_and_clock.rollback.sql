-- Reverts 0017_mechanic_time_and_clock: drops what the files of this version added (the triggers
-- and functions of "who may change a mechanic's time", the status sets, and the clock-reading
-- signatures). Re-applying the previous version's idempotent files recreates the p_now signatures.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS sessions_occupy_mechanic_time ON app.sessions;
DROP TRIGGER IF EXISTS mechanic_time_off_keeps_bookings ON app.mechanic_time_off;
DROP TRIGGER IF EXISTS blocks_keep_bookings_inside_hours ON app.mechanic_availability_blocks;
DROP TRIGGER IF EXISTS workshop_hours_keep_bookings_inside ON app.workshop_availability;
DROP TRIGGER IF EXISTS mechanic_zone_keeps_bookings_inside ON app.mechanics;
DROP TRIGGER IF EXISTS workshop_zone_keeps_bookings_inside ON app.workshops;
DROP FUNCTION IF EXISTS app_private.sessions_occupy_mechanic_time();
DROP FUNCTION IF EXISTS app_private.mechanic_time_off_keeps_bookings();
DROP FUNCTION IF EXISTS app_private.blocks_keep_bookings_inside_hours();
DROP FUNCTION IF EXISTS app_private.workshop_hours_keep_bookings_inside();
DROP FUNCTION IF EXISTS app_private.mechanic_zone_keeps_bookings_inside();
DROP FUNCTION IF EXISTS app_private.workshop_zone_keeps_bookings_inside();
DROP FUNCTION IF EXISTS app_private.lock_mechanics_time(uuid[]);
DROP FUNCTION IF EXISTS app_private.time_off_conflicts(uuid, tstzrange);
DROP FUNCTION IF EXISTS app_private.bookings_outside_hours(uuid);
DROP FUNCTION IF EXISTS app_private.require_hours_cover_bookings(uuid[]);
DROP FUNCTION IF EXISTS app_private.mechanic_open_during(uuid, tstzrange);

DROP FUNCTION IF EXISTS api.health();
DROP FUNCTION IF EXISTS api.check_availability(uuid, timestamptz, timestamptz, text);
DROP FUNCTION IF EXISTS api.mechanic_slots(uuid, date, text);
DROP FUNCTION IF EXISTS api.mechanic_calendar(uuid, date, integer, text);
DROP FUNCTION IF EXISTS api.create_session(text, text, text, text, uuid, boolean, timestamptz, uuid, text, uuid, boolean,
                                           text, text, jsonb, jsonb, uuid);
DROP FUNCTION IF EXISTS api.hold_slot(uuid, timestamptz, text, text, uuid, interval);
DROP FUNCTION IF EXISTS api.release_hold(uuid);
DROP FUNCTION IF EXISTS api.release_expired_holds();
DROP FUNCTION IF EXISTS api.reschedule_session(uuid, timestamptz, uuid);
DROP FUNCTION IF EXISTS api.my_appointments(text, integer);
DROP FUNCTION IF EXISTS api.add_time_off(timestamptz, timestamptz, text, uuid);
DROP FUNCTION IF EXISTS api.my_time_off();
DROP FUNCTION IF EXISTS api.set_shift(boolean, uuid);

DROP FUNCTION IF EXISTS app_private.mechanic_busy(uuid, tstzrange, uuid);
DROP FUNCTION IF EXISTS app_private.slot_reasons(uuid, tstzrange, uuid);
DROP FUNCTION IF EXISTS app_private.slot_grid(uuid, date, date, interval);
DROP FUNCTION IF EXISTS app_private.require_schedule_time(timestamptz);
DROP FUNCTION IF EXISTS app_private.release_expired_holds_in_way(uuid, uuid, tstzrange);
DROP FUNCTION IF EXISTS app_private.upcoming_appointment(uuid, uuid);
DROP FUNCTION IF EXISTS app_private.require_slot(uuid, uuid, tstzrange, uuid);
DROP FUNCTION IF EXISTS app_private.availability_reasons(tstzrange, tstzmultirange, tstzmultirange, tstzmultirange,
                                                         timestamptz, interval, interval);

DROP FUNCTION IF EXISTS app_private.blocking_statuses();
DROP FUNCTION IF EXISTS app_private.upcoming_statuses();
DROP FUNCTION IF EXISTS app_private.active_statuses();
DROP FUNCTION IF EXISTS app_private.final_statuses();

-- app_private.now() of this version calls injected_now(): put back the previous body (the same as
-- the previous version's db/functions/00_clock.sql) before dropping it, so the clock keeps working
-- even before the files are re-applied.
CREATE OR REPLACE FUNCTION app_private.now() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN nullif(current_setting('autodoc.now', true), '') IS NOT NULL
                   AND (SELECT c.injection_allowed FROM app.clock_settings c)
              THEN current_setting('autodoc.now', true)::timestamptz
              ELSE pg_catalog.now() END
$$;
DROP FUNCTION IF EXISTS app_private.injected_now();

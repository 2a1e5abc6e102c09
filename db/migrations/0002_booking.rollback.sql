-- Reverts 0002_booking to version 0001. Triggers and policies go with their tables. The booking
-- functions and the hold-release job of version 0002's files are dropped too, plus any other
-- function whose signature uses these tables' row types, so that re-applying version 0001's files
-- gives exactly version 0001 (docs/migrations.md).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
BEGIN
  IF to_regclass('cron.job') IS NOT NULL THEN  -- only the pg_cron database has jobs
    PERFORM cron.unschedule(jobid) FROM cron.job
    WHERE database = current_database() AND jobname IN ('autodoc-release-expired-holds');
  END IF;
END
$$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE (n.nspname = 'api' AND p.proname IN ('add_favorite', 'add_time_off', 'add_vehicle', 'check_availability',
             'create_customer', 'create_mechanic', 'create_session', 'create_workshop', 'delete_vehicle', 'get_appointment',
             'hold_slot', 'list_available_mechanics', 'list_mechanics', 'mechanic_calendar', 'mechanic_slots',
             'my_appointments', 'my_time_off', 'my_vehicles', 'release_expired_holds', 'release_hold', 'remove_favorite',
             'remove_time_off', 'reschedule_session', 'set_availability_blocks', 'set_session_status', 'set_shift',
             'set_workshop_hours', 'update_vehicle'))
       OR (n.nspname = 'app_private' AND p.proname IN ('acting_mechanic', 'appointments', 'availability_reasons', 'booking_settings',
             'caller_customer', 'create_user', 'mechanic_busy', 'mechanic_time_off_in', 'mechanic_windows', 'mechanic_zone',
             'my_assigned_session_ids', 'my_session_vehicle_ids', 'parse_time', 'plan_duration',
             'release_expired_holds_in_way', 'require_choice', 'require_mechanic', 'require_role', 'require_schedule_time',
             'require_slot', 'require_timezone', 'session_events_append_only', 'session_json', 'session_transition_allowed',
             'sessions_audit', 'sessions_enforce_lifecycle', 'slot_grid', 'slot_reasons', 'touch_updated_at',
             'transition_session', 'upcoming_appointment'))
    UNION
    SELECT p.oid::regprocedure
    FROM pg_proc p
    JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
    JOIN pg_class c ON (d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid)
                    OR (d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype)
    JOIN pg_namespace cn ON cn.oid = c.relnamespace
    WHERE cn.nspname = 'app' AND c.relname IN ('booking_settings', 'plans', 'workshops', 'workshop_availability',
            'customers', 'vehicles', 'mechanics', 'favorites', 'mechanic_availability_blocks', 'mechanic_time_off',
            'sessions', 'session_assignments', 'session_events')
  LOOP
    EXECUTE format('DROP FUNCTION %s CASCADE', f);
  END LOOP;
END
$$;

DROP TABLE app.session_events;
DROP TABLE app.session_assignments;
DROP TABLE app.sessions;
DROP TABLE app.mechanic_time_off;
DROP TABLE app.mechanic_availability_blocks;
DROP TABLE app.favorites;
DROP TABLE app.mechanics;
DROP TABLE app.vehicles;
DROP TABLE app.customers;
DROP TABLE app.workshop_availability;
DROP TABLE app.workshops;
DROP TABLE app.plans;
DROP TABLE app.booking_settings;
DROP FUNCTION app_private.is_valid_timezone(text);

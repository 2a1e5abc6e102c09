-- Booking schema: tables, seeds, settings, indexes behind policies, triggers, function grants.
BEGIN;
SELECT plan(17);

SELECT is(ARRAY(SELECT t FROM unnest(ARRAY['booking_settings', 'plans', 'workshops', 'workshop_availability', 'customers',
  'vehicles', 'mechanics', 'favorites', 'mechanic_availability_blocks', 'mechanic_time_off', 'sessions',
  'session_assignments', 'session_events']) t WHERE to_regclass('app.' || t) IS NULL), '{}'::text[],
  'every booking table exists');
SELECT is_empty($$SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'app' AND c.relkind = 'r' AND NOT c.relrowsecurity$$, 'row-level security is enabled on every app table');
SELECT results_eq('SELECT code, price_cents, duration_minutes FROM app.plans ORDER BY sort_order',
  $$VALUES ('standard', 2900, 30), ('extended', 4900, 45), ('premium', 9900, 60)$$,
  'the plans are seeded: standard $29/30 min, extended $49/45 min, premium $99/60 min');
SELECT results_eq('SELECT min_notice, booking_horizon, hold_duration, slot_step, default_open_time, default_close_time, matching_lead FROM app.booking_settings',
  $$VALUES ('2 hours'::interval, '30 days'::interval, '10 minutes'::interval, '30 minutes'::interval, '09:00'::time, '18:00'::time, '30 minutes'::interval)$$,
  'the booking policy is one settings row: 2 h notice, 30 days horizon, 10 min holds, 30 min grid, 09:00-18:00 default');
SELECT throws_ok('INSERT INTO app.booking_settings (id) VALUES (false)', '23514', NULL, 'there is only one settings row');

-- every column a policy filters on leads some index
SELECT is_empty($$
  SELECT tbl || '.' || col FROM (VALUES ('sessions', 'customer_id'), ('sessions', 'mechanic_id'), ('vehicles', 'customer_id'),
    ('favorites', 'customer_id'), ('favorites', 'mechanic_id'), ('customers', 'user_id'), ('mechanics', 'user_id'),
    ('mechanic_time_off', 'mechanic_id'), ('mechanic_availability_blocks', 'mechanic_id'),
    ('session_assignments', 'mechanic_id'), ('session_assignments', 'session_id'), ('session_events', 'session_id'),
    ('vehicles', 'id'), ('sessions', 'id'), ('workshop_availability', 'workshop_id'), ('mechanics', 'workshop_id')) AS x(tbl, col)
  WHERE NOT EXISTS (
    SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
    WHERE i.indrelid = ('app.' || tbl)::regclass AND a.attname = col)$$,
  'every column a policy filters on is the leading column of an index');
SELECT ok(EXISTS (SELECT FROM pg_indexes WHERE schemaname = 'app' AND indexname = 'sessions_no_mechanic_overlap'
                  AND indexdef LIKE '%USING gist (mechanic_id, period)%'),
  'the mechanic exclusion constraint is a GiST index on (mechanic_id, period) that availability reads use');

SELECT has_trigger('app', 'sessions', 'sessions_enforce_lifecycle', 'sessions have the lifecycle trigger');
SELECT has_trigger('app', 'sessions', 'sessions_audit', 'sessions have the audit trigger');
SELECT has_trigger('app', 'session_events', 'session_events_append_only', 'session_events refuse UPDATE/DELETE');
SELECT has_trigger('app', 'session_events', 'session_events_no_truncate', 'session_events refuse TRUNCATE');

SELECT results_eq($$SELECT app_private.is_valid_timezone(z) FROM unnest(ARRAY['Asia/Kolkata', 'America/Toronto', 'UTC',
  'Mars/Olympus', '+05:30', 'EST5EDT', '']) WITH ORDINALITY u(z, i) ORDER BY i$$,
  $$VALUES (true), (true), (true), (false), (false), (false), (false)$$, 'only IANA zone names are valid time zones');
SELECT throws_ok($$INSERT INTO app.workshops (name, timezone) VALUES ('x', 'Nowhere/City')$$, '23514', NULL,
  'workshops reject unknown zones by constraint');

-- who may execute what
SELECT is_empty($$
  SELECT f || ' / ' || r || ' expected ' || want FROM (VALUES
    ('api.mechanic_slots(uuid,date,text)', 'autodoc_anon', true),
    ('api.mechanic_calendar(uuid,date,integer,text)', 'autodoc_customer', true),
    ('api.check_availability(uuid,timestamptz,timestamptz,text)', 'autodoc_mechanic', true),
    ('api.create_session(text,text,text,text,uuid,boolean,timestamptz,uuid,text,uuid,boolean,text,text,jsonb,jsonb,uuid)', 'autodoc_customer', true),
    ('api.create_session(text,text,text,text,uuid,boolean,timestamptz,uuid,text,uuid,boolean,text,text,jsonb,jsonb,uuid)', 'autodoc_mechanic', false),
    ('api.create_session(text,text,text,text,uuid,boolean,timestamptz,uuid,text,uuid,boolean,text,text,jsonb,jsonb,uuid)', 'autodoc_anon', false),
    ('api.hold_slot(uuid,timestamptz,text,text,uuid,interval)', 'autodoc_customer', true),
    ('api.release_expired_holds()', 'autodoc_worker', true),
    ('api.release_expired_holds()', 'autodoc_customer', false),
    ('api.reschedule_session(uuid,timestamptz,uuid)', 'autodoc_customer', true),
    ('api.reschedule_session(uuid,timestamptz,uuid)', 'autodoc_mechanic', false),
    ('api.set_session_status(uuid,text,text)', 'autodoc_admin', true),
    ('api.set_session_status(uuid,text,text)', 'autodoc_worker', false),
    ('api.create_workshop(text,text,jsonb,text,text,text,text,text,text,text,uuid)', 'autodoc_admin', true),
    ('api.create_workshop(text,text,jsonb,text,text,text,text,text,text,text,uuid)', 'autodoc_mechanic', false),
    ('api.set_shift(boolean,uuid)', 'autodoc_mechanic', true),
    ('api.set_shift(boolean,uuid)', 'autodoc_customer', false),
    ('api.add_time_off(timestamptz,timestamptz,text,uuid)', 'autodoc_mechanic', true),
    ('api.add_vehicle(text,text,integer,text,integer,text,uuid)', 'autodoc_customer', true),
    ('api.add_vehicle(text,text,integer,text,integer,text,uuid)', 'autodoc_mechanic', false),
    ('api.add_favorite(uuid)', 'autodoc_customer', true),
    ('api.list_mechanics(text,boolean,text,text,text,text,text,text,integer,integer)', 'autodoc_customer', true),
    ('api.my_appointments(text,integer)', 'autodoc_mechanic', true),
    ('app_private.transition_session(uuid,text,text,jsonb)', 'autodoc_admin', false),
    ('app_private.slot_grid(uuid,date,date,interval)', 'autodoc_customer', false)) AS x(f, r, want)
  WHERE has_function_privilege(r, f::regprocedure, 'EXECUTE') <> want$$,
  'each function is executable by exactly the roles it is meant for');
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'api' AND p.proname IN ('check_availability', 'mechanic_slots', 'mechanic_calendar', 'create_session',
    'hold_slot', 'release_hold', 'release_expired_holds', 'reschedule_session', 'set_session_status', 'my_appointments',
    'get_appointment', 'list_mechanics', 'list_available_mechanics', 'set_workshop_hours', 'create_workshop',
    'create_mechanic', 'create_customer', 'set_availability_blocks', 'add_time_off', 'remove_time_off', 'my_time_off',
    'set_shift', 'add_vehicle', 'update_vehicle', 'delete_vehicle', 'my_vehicles', 'add_favorite', 'remove_favorite')
    AND NOT EXISTS (SELECT FROM unnest(ARRAY['autodoc_anon', 'autodoc_customer', 'autodoc_mechanic',
    'autodoc_admin', 'autodoc_worker']) r WHERE has_function_privilege(r, p.oid, 'EXECUTE'))$$,
  'every booking api function is granted to some application role');
SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname IN ('api', 'app_private') AND p.prosecdef
    AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c = 'search_path=""')$$,
  'every SECURITY DEFINER function pins search_path to empty');

-- db/jobs/20_holds.sql (pg_prove runs in the pg_cron database of `make test`)
SELECT isnt_empty($$SELECT FROM cron.job WHERE jobname = 'autodoc-release-expired-holds' AND schedule = '* * * * *'
                    AND command LIKE '%api.release_expired_holds()%'$$,
                  'pg_cron releases expired holds every minute');

SELECT * FROM finish();
ROLLBACK;

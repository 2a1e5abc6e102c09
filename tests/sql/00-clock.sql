-- The trusted clock: injected time works where the database allows it (test databases), and no
-- application role can move it where it does not.
BEGIN;
SELECT plan(8);

SELECT is(app_private.now(), now(), 'without an injected time the clock is the transaction time');
SELECT tests.set_now('2031-02-03 04:05:06+00');
SELECT is(app_private.now(), '2031-02-03 04:05:06+00'::timestamptz, 'a test database reads the injected time');
SELECT tests.authenticate_as(gen_random_uuid(), 'customer');
SELECT is(app_private.now(), '2031-02-03 04:05:06+00'::timestamptz, 'every role reads the same injected time');
SELECT tests.clear_authentication();
SELECT tests.set_now(NULL);
SELECT is(app_private.now(), now(), 'clearing the injected time gives the real time again');

-- The usual case costs a setting lookup: the planner inlines the clock (no function call per row).
CREATE FUNCTION pg_temp.plan_of(p_sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r record; v text := '';
BEGIN
  FOR r IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || p_sql LOOP v := v || r."QUERY PLAN" || ' '; END LOOP;
  RETURN v;
END $$;
SELECT ok(pg_temp.plan_of('SELECT app_private.now()') LIKE '%current_setting(%'
          AND pg_temp.plan_of('SELECT app_private.now()') NOT LIKE '%app_private.now()%',
  'app_private.now() is inlined into the query that calls it');

-- A normal install: the switch is off (the migration's default).
UPDATE app.clock_settings SET injection_allowed = false;
SELECT tests.authenticate_as(gen_random_uuid(), 'customer');
SELECT set_config('autodoc.now', '2001-01-01 00:00+00', true);
SELECT is(app_private.now(), now(), 'where injection is off, a customer who sets autodoc.now still gets the real time');
SELECT throws_ok($$UPDATE app.clock_settings SET injection_allowed = true$$, '42501',
  'permission denied for table clock_settings', 'a customer cannot turn clock injection on');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(gen_random_uuid(), 'admin');
SELECT throws_ok($$UPDATE app.clock_settings SET injection_allowed = true$$, '42501',
  'permission denied for table clock_settings', 'an admin cannot turn clock injection on either (owner only)');

SELECT * FROM finish();
ROLLBACK;

-- Row-level security of the booking tables: every role, every command, allowed and denied.
BEGIN;
SELECT plan(73);
SET LOCAL timezone = 'UTC';

SELECT tests.create_admin() AS admin \gset
SELECT tests.create_user('admin') AS worker \gset
SELECT tests.create_workshop_mechanic() AS ma \gset
SELECT tests.create_independent_mechanic(p_blocks => '[{"day_of_week": 1, "start_time": "09:00", "end_time": "17:00"}]') AS mb \gset
SELECT tests.create_customer() AS ca \gset
SELECT tests.create_customer() AS cb \gset
SELECT tests.create_vehicle(:'ca') AS va \gset
SELECT tests.create_vehicle(:'cb') AS vb \gset
INSERT INTO app.favorites (customer_id, mechanic_id) VALUES (:'ca', :'ma'), (:'cb', :'mb');
SELECT tests.add_time_off(:'ma', '2026-06-20', '2026-06-21') AS toa \gset
SELECT tests.add_time_off(:'mb', '2026-06-20', '2026-06-21') AS tob \gset
SELECT tests.book(:'ca', :'ma', '2026-06-12 15:00Z', 'standard', '2026-06-10 12:00Z', :'va') AS sa \gset
SELECT tests.book(:'cb', :'mb', '2026-06-15 15:00Z', 'standard', '2026-06-10 12:00Z', :'vb') AS sb \gset

------------------------------------------------------------------ anon: nothing directly
SELECT is_empty($$SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = 'app' AND c.relkind = 'r' AND c.relname <> 'clock_settings'
    AND (has_table_privilege('autodoc_anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE'))$$,
  'anon has no privilege on any app table (but reading the clock switch, which the clock needs)');
SELECT tests.authenticate_as(NULL, 'anon');
SELECT throws_ok('SELECT * FROM app.mechanics', '42501', NULL, 'anon cannot read tables (only the api functions)');
SELECT tests.clear_authentication();

------------------------------------------------------------------ customer A
SELECT tests.authenticate_as(:'ca', 'customer');
SELECT is((SELECT count(*)::int FROM app.plans), 3, 'customer: reads the plans');
SELECT throws_ok($$INSERT INTO app.plans (code, name, price_cents, duration_minutes) VALUES ('x', 'X', 1, 30)$$, '42501', NULL,
  'customer: cannot insert plans');
SELECT is((SELECT count(*)::int FROM app.booking_settings), 1, 'customer: reads the booking settings');
SELECT throws_ok($$UPDATE app.booking_settings SET min_notice = '0'$$, '42501', NULL, 'customer: cannot change the booking settings');
SELECT ok((SELECT count(*) FROM app.workshops) >= 1 AND (SELECT count(*) FROM app.workshop_availability) >= 7,
  'customer: reads workshops and their hours');
SELECT throws_ok($$DELETE FROM app.workshop_availability$$, '42501', NULL, 'customer: cannot change workshop hours');
SELECT throws_ok($$INSERT INTO app.workshops (name, timezone) VALUES ('x', 'UTC')$$, '42501', NULL, 'customer: cannot add workshops');
SELECT is((SELECT count(*)::int FROM app.mechanics WHERE user_id IN (:'ma', :'mb')), 2, 'customer: reads the mechanic directory');
SELECT throws_ok($$UPDATE app.mechanics SET rating = 5$$, '42501', NULL, 'customer: cannot update mechanics');
SELECT throws_ok('SELECT * FROM app.mechanic_availability_blocks', '42501', NULL, 'customer: cannot read availability blocks');
SELECT throws_ok('SELECT * FROM app.mechanic_time_off', '42501', NULL, 'customer: cannot read time off');
SELECT results_eq('SELECT user_id FROM app.customers', format('VALUES (%L::uuid)', :'ca'), 'customer: sees only their own profile');
SELECT is(tests.rows_affected($$UPDATE app.customers SET city = 'Ottawa'$$), 1, 'customer: updates only their own profile');
SELECT is(tests.rows_affected(format($$UPDATE app.customers SET city = 'Ottawa' WHERE user_id = %L$$, :'cb')), 0,
  'customer: another profile is untouched');
SELECT throws_ok($$UPDATE app.customers SET credit_balance_cents = 100000$$, '42501', NULL, 'customer: cannot grant themselves credit');
SELECT throws_ok(format($$DELETE FROM app.customers WHERE user_id = %L$$, :'ca'), '42501', NULL, 'customer: cannot delete profiles');
SELECT results_eq('SELECT id FROM app.vehicles', format('VALUES (%L::uuid)', :'va'), 'customer: sees only their own vehicles');
SELECT throws_ok(format($$INSERT INTO app.vehicles (customer_id, make, model) VALUES (%L, 'Kia', 'Rio')$$, :'cb'), '42501', NULL,
  'customer: cannot add a vehicle for someone else');
SELECT lives_ok(format($$INSERT INTO app.vehicles (customer_id, make, model) VALUES (%L, 'Kia', 'Rio')$$, :'ca'),
  'customer: adds their own vehicle');
SELECT is(tests.rows_affected(format($$UPDATE app.vehicles SET model = 'x' WHERE id = %L$$, :'vb')), 0, 'customer: cannot update another''s vehicle');
SELECT is(tests.rows_affected(format($$DELETE FROM app.vehicles WHERE id = %L$$, :'vb')), 0, 'customer: cannot delete another''s vehicle');
SELECT results_eq('SELECT mechanic_id FROM app.favorites', format('VALUES (%L::uuid)', :'ma'), 'customer: sees only their own favorites');
SELECT throws_ok(format($$INSERT INTO app.favorites (customer_id, mechanic_id) VALUES (%L, %L)$$, :'cb', :'ma'), '42501', NULL,
  'customer: cannot add favorites for someone else');
SELECT is(tests.rows_affected(format($$DELETE FROM app.favorites WHERE customer_id = %L$$, :'cb')), 0,
  'customer: cannot delete another''s favorites');
SELECT results_eq('SELECT id FROM app.sessions', format('VALUES (%L::uuid)', :'sa'), 'customer: sees only their own sessions');
SELECT throws_ok(format($$INSERT INTO app.sessions (customer_id, plan_code, type, concern, concern_category, is_advice_only, ends_at, status)
  VALUES (%L, 'standard', 'chat', 'x', 'diagnostic', true, now() + interval '1 hour', 'pending')$$, :'ca'), '42501', NULL,
  'customer: cannot insert sessions directly (only through the factory)');
SELECT throws_ok($$UPDATE app.sessions SET concern = 'x'$$, '42501', NULL, 'customer: cannot update sessions directly');
SELECT throws_ok($$DELETE FROM app.sessions$$, '42501', NULL, 'customer: cannot delete sessions');
SELECT results_eq('SELECT session_id FROM app.session_assignments', format('VALUES (%L::uuid)', :'sa'),
  'customer: sees the assignments of their own sessions only');
SELECT throws_ok(format($$INSERT INTO app.session_assignments (session_id, mechanic_id, status) VALUES (%L, %L, 'offered')$$, :'sa', :'mb'),
  '42501', NULL, 'customer: cannot insert assignments');
SELECT results_eq('SELECT DISTINCT session_id FROM app.session_events', format('VALUES (%L::uuid)', :'sa'),
  'customer: sees the events of their own sessions only');
SELECT throws_ok(format($$INSERT INTO app.session_events (session_id, event_type) VALUES (%L, 'forged')$$, :'sa'), '42501', NULL,
  'customer: cannot append events');
SELECT tests.clear_authentication();

------------------------------------------------------------------ mechanic A
SELECT tests.authenticate_as(:'ma', 'mechanic');
SELECT is(tests.rows_affected($$UPDATE app.mechanics SET bio = 'Twenty years of Hondas'$$), 1, 'mechanic: updates only their own profile');
SELECT is((SELECT bio FROM app.mechanics WHERE user_id = :'mb'), NULL, 'mechanic: another mechanic''s profile is untouched');
SELECT throws_ok($$UPDATE app.mechanics SET rating = 5$$, '42501', NULL, 'mechanic: cannot set their own rating');
SELECT throws_ok($$UPDATE app.mechanics SET currently_on_shift = true$$, '42501', NULL,
  'mechanic: shift changes go through api.set_shift');
SELECT throws_ok($$INSERT INTO app.mechanics (user_id, display_name, timezone) VALUES (gen_random_uuid(), 'x', 'UTC')$$, '42501', NULL,
  'mechanic: cannot create mechanics');
SELECT is_empty('SELECT * FROM app.mechanic_availability_blocks', 'mechanic: sees no other mechanic''s blocks');
SELECT throws_ok(format($$INSERT INTO app.mechanic_availability_blocks (mechanic_id, day_of_week, start_time, end_time) VALUES (%L, 2, '09:00', '10:00')$$, :'mb'),
  '42501', NULL, 'mechanic: cannot add blocks for another mechanic');
SELECT lives_ok(format($$INSERT INTO app.mechanic_availability_blocks (mechanic_id, day_of_week, start_time, end_time) VALUES (%L, 2, '09:00', '10:00')$$, :'ma'),
  'mechanic: adds their own block');
SELECT results_eq('SELECT id FROM app.mechanic_time_off', format('VALUES (%L::uuid)', :'toa'), 'mechanic: sees only their own time off');
SELECT throws_ok(format($$INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date) VALUES (%L, now(), now() + interval '1 day')$$, :'mb'),
  '42501', NULL, 'mechanic: cannot add time off for another mechanic');
SELECT is(tests.rows_affected(format('DELETE FROM app.mechanic_time_off WHERE id = %L', :'tob')), 0,
  'mechanic: cannot delete another''s time off');
SELECT is(tests.rows_affected(format('UPDATE app.mechanic_time_off SET reason = %L WHERE id = %L', 'x', :'toa')), 1,
  'mechanic: updates their own time off');
SELECT throws_ok('SELECT * FROM app.customers', '42501', NULL, 'mechanic: cannot read customer profiles');
SELECT results_eq('SELECT id FROM app.vehicles', format('VALUES (%L::uuid)', :'va'), 'mechanic: sees only the vehicles of their sessions');
SELECT throws_ok(format($$UPDATE app.vehicles SET model = 'x' WHERE id = %L$$, :'va'), '42501', NULL, 'mechanic: cannot change vehicles');
SELECT is_empty('SELECT * FROM app.favorites', 'mechanic: sees no favorites');
SELECT results_eq('SELECT id FROM app.sessions', format('VALUES (%L::uuid)', :'sa'), 'mechanic: sees only the sessions booked with them');
SELECT throws_ok($$UPDATE app.sessions SET status = 'pending'$$, '42501', NULL, 'mechanic: cannot update sessions directly');
SELECT results_eq('SELECT session_id FROM app.session_assignments', format('VALUES (%L::uuid)', :'sa'), 'mechanic: sees only their own assignments');
SELECT results_eq('SELECT DISTINCT session_id FROM app.session_events', format('VALUES (%L::uuid)', :'sa'),
  'mechanic: sees the events of their own sessions only');
SELECT tests.clear_authentication();

------------------------------------------------------------------ a mechanic sees sessions offered to them
INSERT INTO app.session_assignments (session_id, mechanic_id, status) VALUES (:'sb', :'ma', 'offered');
SELECT tests.authenticate_as(:'ma', 'mechanic');
SELECT is((SELECT count(*)::int FROM app.sessions), 2, 'mechanic: also sees sessions offered to them');
SELECT is((SELECT count(*)::int FROM app.vehicles), 2, 'mechanic: and the vehicles of those sessions');
SELECT tests.clear_authentication();

------------------------------------------------------------------ worker
SELECT tests.authenticate_as(:'worker', 'worker');
SELECT throws_ok('SELECT * FROM app.sessions', '42501', NULL, 'worker: reads no session directly (definer functions do)');
SELECT throws_ok('SELECT * FROM app.customers', '42501', NULL, 'worker: reads no customer directly');
SELECT throws_ok('SELECT * FROM app.session_events', '42501', NULL, 'worker: reads no event directly');
SELECT throws_ok($$UPDATE app.sessions SET concern = 'x'$$, '42501', NULL, 'worker: cannot update sessions directly');
SELECT throws_ok($$UPDATE app.customers SET city = 'x'$$, '42501', NULL, 'worker: cannot update customers');
SELECT throws_ok($$DELETE FROM app.vehicles$$, '42501', NULL, 'worker: cannot delete vehicles');
SELECT throws_ok($$INSERT INTO app.favorites (customer_id, mechanic_id) VALUES (gen_random_uuid(), gen_random_uuid())$$, '42501', NULL,
  'worker: cannot touch favorites');
SELECT tests.clear_authentication();

------------------------------------------------------------------ admin
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is((SELECT count(*)::int FROM app.sessions), 2, 'admin: sees every session');
SELECT is((SELECT count(*)::int FROM app.vehicles), 3, 'admin: sees every vehicle');
SELECT is((SELECT count(*)::int FROM app.favorites), 2, 'admin: sees every favorite');
SELECT is((SELECT count(*)::int FROM app.mechanic_time_off), 2, 'admin: sees all time off');
SELECT lives_ok($$INSERT INTO app.plans (code, name, price_cents, duration_minutes) VALUES ('fleet', 'Fleet', 19900, 90)$$,
  'admin: adds a plan (plans are data)');
SELECT is(tests.rows_affected($$UPDATE app.booking_settings SET hold_duration = '15 minutes'$$), 1, 'admin: changes the booking settings');
SELECT is(tests.rows_affected(format($$UPDATE app.customers SET credit_balance_cents = 500 WHERE user_id = %L$$, :'ca')), 1,
  'admin: updates customers');
SELECT is(tests.rows_affected(format($$DELETE FROM app.favorites WHERE customer_id = %L$$, :'cb')), 1, 'admin: deletes favorites');
SELECT lives_ok(format($$INSERT INTO app.session_events (session_id, event_type) VALUES (%L, 'note')$$, :'sa'), 'admin: appends events');
SELECT throws_ok($$UPDATE app.session_events SET event_type = 'x'$$, '42501', NULL, 'admin: cannot rewrite events');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

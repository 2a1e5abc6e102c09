-- A mechanic's schedule shows who is coming (the customer's first name) and the vehicle; row-level
-- security still hides everything else about the customer, and other mechanics' customers.
BEGIN;
SELECT plan(11);

SELECT tests.create_workshop_mechanic(p_name => 'Sam Schedule') AS m \gset
SELECT tests.create_workshop_mechanic(p_name => 'Other Mechanic') AS m2 \gset
SELECT tests.create_customer(p_full_name => '  Alice   Nguyen') AS c \gset
SELECT tests.create_customer(p_full_name => 'Bruno Costa') AS c2 \gset
SELECT tests.create_vehicle(:'c', 'Honda', 'Civic', 2019) AS v \gset
SELECT tests.book(:'c', :'m', ((current_date + 3) + time '10:00') AT TIME ZONE 'America/Toronto',
                  p_vehicle_id => :'v') AS s \gset
SELECT tests.book(:'c2', :'m2', ((current_date + 3) + time '11:00') AT TIME ZONE 'America/Toronto') AS s2 \gset

SELECT tests.authenticate_as(:'m', 'mechanic');
SELECT results_eq($$SELECT id, customer_first_name, vehicle ->> 'make', vehicle ->> 'model', (vehicle ->> 'year')::int
                    FROM api.mechanic_schedule()$$,
  format($$VALUES (%L::uuid, 'Alice', 'Honda', 'Civic', 2019)$$, :'s'),
  'the schedule row: the customer''s first name and the vehicle');
SELECT is((SELECT count(*)::int FROM api.mechanic_schedule('past')), 0, 'nothing past yet');
SELECT is_empty($$SELECT * FROM app.users WHERE id = '$$ || :'c' || $$'$$, 'the customer''s user row stays hidden');
SELECT throws_ok('SELECT * FROM app.customers', '42501', NULL, 'customer profiles stay hidden');
SELECT is_empty($$SELECT * FROM app_private.session_customer_first_names(ARRAY['$$ || :'s2' || $$'::uuid])$$,
  'the helper names no customer of another mechanic''s session');
SELECT throws_ok($$SELECT * FROM api.mechanic_schedule('someday')$$, 'AD422', 'scope must be one of upcoming, past, all, day',
  'a scope outside upcoming | past | all | day is refused');

SELECT tests.authenticate_as(:'m2', 'mechanic');
SELECT results_eq('SELECT id, customer_first_name FROM api.mechanic_schedule()',
  format($$VALUES (%L::uuid, 'Bruno')$$, :'s2'), 'another mechanic sees only their own customer');

SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok('SELECT * FROM api.mechanic_schedule()', '42501', NULL, 'customers have no mechanic schedule');
SELECT throws_ok($$SELECT * FROM app_private.session_customer_first_names(ARRAY['$$ || :'s' || $$'::uuid])$$, '42501', NULL,
  'customers cannot call the helper');
SELECT tests.authenticate_as(NULL, 'anon');
SELECT throws_ok('SELECT * FROM api.mechanic_schedule()', '42501', NULL, 'anon has no schedule');
SELECT tests.clear_authentication();

-- a mechanic with an admin's claims role cannot lift themselves: the database role decides
SELECT tests.authenticate_as(:'m', 'mechanic');
SELECT set_config('request.jwt.claims', json_build_object('sub', :'m', 'role', 'admin')::text, true);
SELECT is((SELECT count(*)::int FROM api.mechanic_schedule()), 1, 'claims cannot widen a mechanic''s schedule');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

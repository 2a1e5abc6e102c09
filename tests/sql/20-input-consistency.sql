-- The same situation gets the same answer everywhere: missing fields are missing_field, unseen
-- sessions are not found, and only real IANA zones define wall-clock hours.
BEGIN;
SELECT plan(6);

SELECT tests.create_admin() AS adm \gset
SELECT tests.create_customer() AS c \gset

SELECT tests.authenticate_as(:'adm', 'admin');
SELECT throws_ok($$SELECT api.add_vehicle('Honda', 'Civic')$$, 'AD422', 'customer_id is required',
  'an admin adding a vehicle must name the customer');
SELECT throws_ok($$SELECT api.create_workshop('Server Time Garage', 'localtime')$$, 'AD422', 'Unknown time zone "localtime"',
  '"localtime" (the server''s own zone) is no workshop time zone');
SELECT throws_ok($$SELECT api.create_workshop('Posix Garage', 'posix/Europe/London')$$, 'AD422', NULL,
  'nor is a posix/ alias');
SELECT lives_ok($$SELECT api.create_workshop('London Garage', 'Europe/London')$$, 'a real IANA zone is fine');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok($$SELECT * FROM api.session_payments(gen_random_uuid())$$, 'AD404', 'Session not found',
  'payments of an unknown session: not found, as for every other appointment endpoint');
SELECT ok(api.add_vehicle('Honda', 'Civic') IS NOT NULL, 'a customer adds a vehicle without naming themselves');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

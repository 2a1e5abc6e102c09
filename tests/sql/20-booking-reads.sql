-- Read functions: the mechanic directory (tabs, online/offline, favorites first, location),
-- available mechanics, my appointments and one appointment.
BEGIN;
SELECT plan(23);
SET LOCAL timezone = 'UTC';

SELECT tests.create_workshop_mechanic(p_name => 'Alice Honda', p_brands => '{Honda}', p_specialties => '{brakes}', p_rating => 4.9,
  p_on_shift => true, p_city => 'Toronto', p_postal_code => 'M5V 1A1') AS alice \gset
SELECT tests.create_independent_mechanic(p_name => 'Bob Generalist', p_rating => 4.2, p_on_shift => false, p_city => 'Ottawa',
  p_postal_code => 'K1A 0B1') AS bob \gset
SELECT tests.create_independent_mechanic(p_name => 'Carol BMW', p_brands => '{BMW}', p_rating => 4.5, p_on_shift => false,
  p_city => 'Toronto', p_postal_code => 'M4C 1B5') AS carol \gset
SELECT tests.create_independent_mechanic(p_name => 'Dan Online', p_rating => 3.0, p_on_shift => true, p_city => 'Toronto') AS dan \gset
SELECT tests.create_customer() AS c \gset
SELECT tests.create_customer() AS other \gset
INSERT INTO app.favorites (customer_id, mechanic_id) VALUES (:'c', :'bob');

------------------------------------------------------------------ the directory
SELECT tests.authenticate_as(:'c', 'customer');
SELECT results_eq('SELECT display_name FROM api.list_mechanics()',
  $$VALUES ('Bob Generalist'), ('Alice Honda'), ('Dan Online'), ('Carol BMW')$$,
  'all mechanics: favorites first, then online, then by rating');
SELECT results_eq('SELECT display_name, is_favorite FROM api.list_mechanics(''favorites'')',
  $$VALUES ('Bob Generalist', true)$$, 'the favorites tab lists only favorites');
SELECT results_eq('SELECT display_name FROM api.list_mechanics(''brand_specialist'')',
  $$VALUES ('Alice Honda'), ('Carol BMW')$$, 'the brand-specialist tab lists brand specialists');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics('brand_specialist', p_make => 'bmw')$$,
  $$VALUES ('Carol BMW')$$, 'brand specialists for the vehicle''s make (case-insensitive)');
SELECT results_eq('SELECT display_name FROM api.list_mechanics(p_online => false)',
  $$VALUES ('Bob Generalist'), ('Carol BMW')$$, 'offline mechanics, favorites first');
SELECT results_eq('SELECT display_name FROM api.list_mechanics(p_online => true)',
  $$VALUES ('Alice Honda'), ('Dan Online')$$, 'online mechanics');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics(p_city => 'toronto', p_postal_code => 'm5v')$$,
  $$VALUES ('Alice Honda')$$, 'location filter: city and postal-code prefix');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics(p_search => 'brak')$$,
  $$VALUES ('Alice Honda')$$, 'free-text search over names and specialties');
SELECT results_eq($$SELECT supports_in_person, is_brand_specialist FROM api.list_mechanics() WHERE mechanic_id = '$$ || :'alice' || $$'$$,
  $$VALUES (true, true)$$, 'workshop mechanics support in-person service');
SELECT is((SELECT count(*)::int FROM api.list_mechanics(p_limit => 2, p_offset => 1)), 2, 'paging with limit/offset');
SELECT throws_ok($$SELECT * FROM api.list_mechanics('cheapest')$$, 'AD422', 'tab must be one of all, brand_specialist, favorites',
  'an unknown tab: 422 invalid_value');
SELECT results_eq('SELECT display_name FROM api.list_available_mechanics()',
  $$VALUES ('Alice Honda'), ('Dan Online')$$, 'available mechanics are the ones on shift');
SELECT results_eq($$SELECT display_name FROM api.list_available_mechanics(p_make => 'Honda')$$,
  $$VALUES ('Alice Honda')$$, 'available brand specialists for a make');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'other', 'customer');
SELECT is((SELECT count(*)::int FROM api.list_mechanics() WHERE is_favorite), 0, 'another customer''s favorites are not mine');
SELECT tests.clear_authentication();

------------------------------------------------------------------ appointments
-- booked on the 5th for the 9th: still 'scheduled', but over by the 10th
SELECT tests.book(:'c', :'carol', '2026-06-09 15:00Z', 'premium', '2026-06-05 12:00Z') AS old \gset
SELECT tests.book(:'c', :'alice', '2026-06-12 15:00Z', 'standard', '2026-06-10 12:00Z') AS s1 \gset
SELECT tests.book(:'other', :'alice', '2026-06-12 16:00Z', 'standard', '2026-06-10 12:00Z') AS s2 \gset
SELECT tests.authenticate_as(:'c', 'customer');
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT results_eq($$SELECT id, mechanic_name, plan_name, price_cents FROM api.my_appointments('upcoming')$$,
  format($$VALUES (%L::uuid, 'Alice Honda', 'Standard', 2900)$$, :'s1'),
  'my upcoming appointments: mine, with mechanic and plan');
SELECT results_eq($$SELECT id FROM api.my_appointments('past')$$, format($$VALUES (%L::uuid)$$, :'old'),
  'my past appointments: the ones that are over');
SELECT is((SELECT workshop_address FROM api.get_appointment(:'s1')), '1 Test St, Toronto', 'one appointment, with the workshop address');
SELECT throws_ok(format('SELECT * FROM api.get_appointment(%L)', :'s2'), 'AD404', 'Session not found',
  'someone else''s appointment: 404 (RLS hides it)');
SELECT throws_ok($$SELECT * FROM api.my_appointments('soon')$$, 'AD422', 'scope must be one of upcoming, past, all',
  'an unknown scope: 422 invalid_value');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'alice', 'mechanic');
SELECT results_eq($$SELECT id FROM api.my_appointments('upcoming')$$,
  format($$VALUES (%L::uuid), (%L::uuid)$$, :'s1', :'s2'), 'a mechanic''s upcoming appointments: the ones booked with them, soonest first');
SELECT is((SELECT id FROM api.get_appointment(:'s2')), :'s2'::uuid, 'a mechanic opens an appointment booked with them');
SELECT throws_ok(format('SELECT * FROM api.get_appointment(%L)', :'old'), 'AD404', 'Session not found',
  'a mechanic cannot open another mechanic''s appointment');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(NULL, 'anon');
SELECT throws_ok('SELECT * FROM api.my_appointments()', '42501', NULL, 'anonymous callers have no appointments');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

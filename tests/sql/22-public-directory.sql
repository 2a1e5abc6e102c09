-- The public mechanic directory: anon (a visitor without a token) reads it and the availability
-- functions exactly as a signed-in customer does, holds no privilege on any table, gets no
-- favorites, and can do nothing else. Full-text search over name, bio, specialties and brands.
BEGIN;
SELECT plan(21);

SELECT tests.create_workshop_mechanic(p_name => 'Oliver Hughes', p_brands => '{BMW}', p_specialties => '{BMW,Mercedes,electrical}',
  p_on_shift => true) AS oliver \gset
UPDATE app.mechanics SET bio = 'German cars, electrics and diagnostics.' WHERE user_id = :'oliver';
SELECT tests.create_independent_mechanic(p_name => 'Marie Tremblay', p_specialties => '{Honda,brakes}') AS marie \gset
UPDATE app.mechanics SET bio = 'Hybrid and import specialist.' WHERE user_id = :'marie';
SELECT tests.create_independent_mechanic(p_name => 'Gone Away') AS gone \gset
UPDATE app.mechanics SET is_active = false, bio = 'German cars too' WHERE user_id = :'gone';
SELECT tests.create_customer() AS c \gset
INSERT INTO app.favorites (customer_id, mechanic_id) VALUES (:'c', :'marie');

------------------------------------------------------------------ anon reads the directory
SELECT tests.authenticate_as(NULL, 'anon');
SELECT results_eq('SELECT display_name, is_favorite FROM api.list_mechanics()',
  $$VALUES ('Oliver Hughes', false), ('Marie Tremblay', false)$$,
  'anon lists the active mechanics (online first), none a favorite');
SELECT is_empty($$SELECT * FROM api.list_mechanics('favorites')$$, 'anon has no favorites');
SELECT results_eq('SELECT display_name FROM api.list_available_mechanics()', $$VALUES ('Oliver Hughes')$$,
  'anon lists the mechanics on shift');
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'marie', current_date + 3)), 18,
  'anon reads a day''s slots');
SELECT is((SELECT count(*)::int FROM api.mechanic_calendar(:'marie')), 30, 'anon reads the 30-day calendar');
SELECT is((SELECT available FROM api.check_availability(:'marie', date_trunc('day', now()) + interval '1 year')), false,
  'anon checks a slot (beyond the horizon: not available)');
SELECT throws_ok('SELECT * FROM app.mechanics', '42501', NULL, 'anon still reads no table directly');
SELECT throws_ok('SELECT * FROM app.favorites', '42501', NULL, 'anon cannot read favorites');
SELECT throws_ok(format($$SELECT api.hold_slot(%L::uuid, now() + interval '3 days')$$, :'marie'), '42501', NULL,
  'anon cannot hold a slot');
SELECT throws_ok($$SELECT api.set_customer_timezone('Europe/Paris')$$, '42501', NULL, 'anon has no profile to change');

------------------------------------------------------------------ a customer: favorites first
SELECT tests.authenticate_as(:'c', 'customer');
SELECT results_eq('SELECT display_name, is_favorite FROM api.list_mechanics()',
  $$VALUES ('Marie Tremblay', true), ('Oliver Hughes', false)$$, 'a customer sees their favorite first');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics('favorites')$$, $$VALUES ('Marie Tremblay')$$,
  'the favorites tab is the customer''s own');

------------------------------------------------------------------ full-text search (english stemming, prefixes)
SELECT results_eq($$SELECT display_name FROM api.list_mechanics(p_search => 'German')$$, $$VALUES ('Oliver Hughes')$$,
  'search=German finds the bio "German cars" (an inactive mechanic with the same bio is not listed)');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics(p_search => 'car')$$, $$VALUES ('Oliver Hughes')$$,
  'stemmed: "car" finds "cars"');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics(p_search => 'german diagnostics')$$,
  $$VALUES ('Oliver Hughes')$$, 'every word must match, in any field');
SELECT is_empty($$SELECT * FROM api.list_mechanics(p_search => 'german honda')$$, 'words are ANDed');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics(p_search => 'brak')$$, $$VALUES ('Marie Tremblay')$$,
  'a prefix of a specialty ("brak" for brakes)');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics(p_search => 'MERCEDES')$$, $$VALUES ('Oliver Hughes')$$,
  'specialties, case-insensitive');
SELECT results_eq($$SELECT display_name FROM api.list_mechanics(p_search => 'Mar')$$, $$VALUES ('Marie Tremblay')$$,
  'a prefix of a name');
SELECT lives_ok($$SELECT * FROM api.list_mechanics(p_search => $q$'):* & | ! <-> "$q$)$$,
  'tsquery syntax in the input is not an error');
SELECT tests.clear_authentication();

SELECT ok((SELECT count(*) FROM pg_indexes WHERE schemaname = 'app' AND indexname = 'mechanics_search_idx'
            AND indexdef LIKE '%USING gin (app_private.mechanic_search_document(display_name, bio, specialties, brand_specialist_brands))%') = 1,
  'a GIN index on the same expression the search uses');

SELECT * FROM finish();
ROLLBACK;

-- Matching: every criterion moves the score by its weight, in isolation; weights (rows) change the
-- ranking; hard filters hold; the reasons name every criterion that scored; untrusted metadata is
-- ignored except the one whitelisted key; only admins see the explanation.
BEGIN;
SELECT plan(45);
SET LOCAL timezone = 'UTC';
SELECT tests.set_now('2031-01-07 15:00Z');   -- a Tuesday, 10:00 in Toronto

SELECT tests.create_customer() AS c \gset
SELECT tests.create_vehicle(:'c', 'Honda') AS v \gset
SELECT tests.create_admin() AS admin \gset
SELECT tests.m_immediate(:'c', '2031-01-07 15:00Z', :'v') AS s \gset
SELECT tests.m_mechanic('Neutral') AS base \gset
SELECT tests.m_mechanic('Tested') AS x \gset

------------------------------------------------------------------ each criterion, in isolation
SELECT tests.m_only('availability');
SELECT is(tests.m_reason(:'s', :'x', 'availability'), '{"points": 10.00, "reason": "On shift now"}',
  'availability: an on-shift mechanic gets the full weight for an immediate request');

SELECT tests.m_only('brand_specialist');
UPDATE app.mechanics SET brand_specialist_brands = '{HONDA}' WHERE user_id = :'x';
SELECT is(tests.m_reason(:'s', :'x', 'brand_specialist'), '{"points": 20.00, "reason": "Brand specialist for Honda"}',
  'brand_specialist: the vehicle''s make among the brand-specialist brands (any case) gives the weight');
SELECT is(tests.m_score(:'s', :'base'), 0.00, 'brand_specialist: nothing for a mechanic who is not one');

SELECT tests.m_only('specialty_match');
UPDATE app.mechanics SET specialties = '{brakes}' WHERE user_id = :'x';
SELECT is(tests.m_reason(:'s', :'x', 'specialty_match'), '{"points": 12.50, "reason": "Concern matches specialties/bio: brake"}',
  'specialty_match: "braking" in the concern finds "brakes" (stemmed full-text, not LIKE): one word of two');
UPDATE app.mechanics SET bio = 'Squeaks and grinding are my thing' WHERE user_id = :'x';
SELECT is(tests.m_score(:'s', :'x'), 25.00, 'specialty_match: two matching words (grind, brake) give the full weight');
UPDATE app.mechanics SET specialties = '{transmission}', bio = 'Gearboxes' WHERE user_id = :'x';
SELECT is(tests.m_score(:'s', :'x'), 0.00, 'specialty_match: no common word, no points');

SELECT tests.m_only('postal_prefix');
UPDATE app.mechanics SET postal_code = 'm5v 1a1' WHERE user_id = :'x';
SELECT is(tests.m_reason(:'s', :'x', 'postal_prefix'), '{"points": 8.00, "reason": "Same postal area (M5V)"}',
  'postal_prefix: same first 3 characters as the customer''s M5V 2T6 (case and spaces ignored)');
SELECT is(tests.m_score(:'s', :'base'), 0.00, 'postal_prefix: 98101 is not M5V');

SELECT tests.m_only('same_city');
UPDATE app.mechanics SET city = ' toronto' WHERE user_id = :'x';
SELECT is(tests.m_reason(:'s', :'x', 'same_city') ->> 'points', '6.00', 'same_city: Toronto = toronto');

SELECT tests.m_only('same_province');
UPDATE app.mechanics SET state_province = 'ON' WHERE user_id = :'x';
SELECT is(tests.m_reason(:'s', :'x', 'same_province') ->> 'points', '3.00', 'same_province: ON');

SELECT tests.m_only('same_country');
UPDATE app.mechanics SET country = 'CA' WHERE user_id = :'x';
SELECT is(tests.m_reason(:'s', :'x', 'same_country') ->> 'points', '2.00', 'same_country: CA');
SELECT is(tests.m_score(:'s', :'base'), 0.00, 'same_country: US is not CA');

SELECT tests.m_only('rating');
-- a population rated 4.0 (10 x 50 reviews), one mechanic with a single 5-star review, one with 200 x 4.8
SELECT tests.m_mechanic('Crowd ' || i) FROM generate_series(1, 10) i;
UPDATE app.mechanics SET rating = 4.0, rating_count = 50 WHERE display_name LIKE 'Crowd %';
SELECT tests.m_mechanic('One review') AS one \gset
SELECT tests.m_mechanic('Many reviews') AS many \gset
UPDATE app.mechanics SET rating = 5.0, rating_count = 1 WHERE user_id = :'one';
UPDATE app.mechanics SET rating = 4.8, rating_count = 200 WHERE user_id = :'many';
-- mean = (500 * 4.0 + 5.0 + 200 * 4.8) / 701 = 4.2282; one: (20 * mean + 5) / 21 = 4.2650; many: (20 * mean + 960) / 220 = 4.7481
SELECT is(tests.m_score(:'s', :'one'), round(15 * 4.2650 / 5, 2), 'rating: one 5-star review is shrunk toward the mean');
SELECT is(tests.m_score(:'s', :'many'), round(15 * 4.7481 / 5, 2), 'rating: 200 reviews of 4.8 barely move');
SELECT ok(tests.m_score(:'s', :'many') > tests.m_score(:'s', :'one'), 'rating: 200 x 4.8 beats a single 5.0');
SELECT is(tests.m_reason(:'s', :'many', 'rating') ->> 'reason', 'Rated 4.80 from 200 reviews (adjusted 4.75)',
  'rating: the reason shows the rating, the reviews and the adjusted value');
UPDATE app.mechanics SET is_active = false WHERE display_name LIKE 'Crowd %' OR user_id IN (:'one', :'many');

SELECT tests.m_only('favorite');
INSERT INTO app.favorites (customer_id, mechanic_id) VALUES (:'c', :'x');
SELECT is(tests.m_reason(:'s', :'x', 'favorite') ->> 'points', '10.00', 'favorite: one of the customer''s favorites');
SELECT is(tests.m_score(:'s', :'base'), 0.00, 'favorite: not a favorite, no points');

SELECT tests.m_only('repeat_customer');
SELECT tests.m_booked(:'c', :'x', '2030-12-01 15:00Z', 'completed');
SELECT tests.m_booked(:'c', :'x', '2030-12-02 15:00Z', 'completed');
SELECT tests.m_booked(:'c', :'base', '2030-12-03 15:00Z', 'active');   -- not completed: does not count
SELECT is(tests.m_reason(:'s', :'x', 'repeat_customer'),
  '{"points": 5.33, "reason": "2 completed session(s) with this customer"}', 'repeat_customer: 2 of 3 sessions for full points');
SELECT is(tests.m_score(:'s', :'base'), 0.00, 'repeat_customer: an unfinished session does not count');
-- (the 'active' session above is weeks ago; it only occupied that past time)

SELECT tests.m_only('experience');
UPDATE app.mechanics SET years_of_experience = 30 WHERE user_id = :'x';
SELECT is(tests.m_reason(:'s', :'x', 'experience'), '{"points": 6.00, "reason": "30 years of experience"}',
  'experience: 15 years or more give the full weight');
UPDATE app.mechanics SET years_of_experience = 5 WHERE user_id = :'x';
SELECT is(tests.m_score(:'s', :'x'), 2.00, 'experience: 5 of 15 years give a third');

SELECT tests.m_only('workload');
SELECT tests.m_booked(tests.create_customer(), :'x', '2031-01-07 17:00Z');   -- noon, 14:00, 16:00 in Toronto
SELECT tests.m_booked(tests.create_customer(), :'x', '2031-01-07 19:00Z');
SELECT tests.m_booked(tests.create_customer(), :'x', '2031-01-07 21:00Z');
SELECT tests.m_booked(tests.create_customer(), :'x', '2031-01-08 15:00Z');   -- 24 hours later: outside
SELECT is(tests.m_reason(:'s', :'x', 'workload'), '{"points": 3.00, "reason": "3 other session(s) within 12 hours"}',
  'workload: 3 sessions within 12 hours of the start, of 6, halve the points');
SELECT is(tests.m_score(:'s', :'base'), 6.00, 'workload: a free mechanic gets the full weight');

SELECT tests.m_only('acceptance_rate');
INSERT INTO app.mechanic_offer_stats (mechanic_id, accepted, declined, expired) VALUES (:'x', 8, 1, 1);
SELECT is(tests.m_reason(:'s', :'x', 'acceptance_rate'), '{"points": 4.29, "reason": "Accepted 8 of 10 answered offers"}',
  'acceptance_rate: (8 + 2) / (10 + 4) smoothed');
SELECT is(tests.m_reason(:'s', :'base', 'acceptance_rate') ->> 'points', '3.00', 'acceptance_rate: no history counts as 50%');

SELECT tests.m_only('service_mode');
SELECT is(tests.m_reason(:'s', :'x', 'service_mode'), '{"points": 4.00, "reason": "Online consultation"}',
  'service_mode: online needs nothing');

------------------------------------------------------------------ all criteria: reasons and score agree
UPDATE app.matching_criteria SET enabled = true;
UPDATE app.mechanics SET specialties = '{brakes}', rating = 4.5, rating_count = 10 WHERE user_id = :'x';
SELECT is((SELECT count(*)::int FROM app.matching_criteria), 14, 'fourteen criteria');
SELECT is(
  (SELECT c.match_score FROM app_private.match_candidates(:'s', 100, false) c WHERE c.mechanic_id = :'x'),
  (SELECT sum((r ->> 'points')::numeric) FROM app_private.match_candidates(:'s', 100, false) c,
          jsonb_array_elements(c.match_reasons) r WHERE c.mechanic_id = :'x'),
  'the score is the sum of the points the reasons list');
SELECT set_eq(
  format($$SELECT r ->> 'criterion' FROM app_private.match_candidates(%L, 100, false) c, jsonb_array_elements(c.match_reasons) r
           WHERE c.mechanic_id = %L$$, :'s', :'x'),
  ARRAY['availability', 'brand_specialist', 'specialty_match', 'postal_prefix', 'same_city', 'same_province',
        'same_country', 'rating', 'favorite', 'repeat_customer', 'experience', 'workload', 'acceptance_rate', 'service_mode'],
  'every criterion that scored is named with its reason');
SELECT is(tests.m_ranking(:'s'), ARRAY['Tested', 'Neutral'], 'the mechanic with more in common ranks first');

------------------------------------------------------------------ weights are data
-- A: a favorite; B: 15 years of experience. favorite (10) beats experience (6) until the weight changes.
UPDATE app.mechanics SET is_active = false WHERE user_id IN (:'x', :'base');
SELECT tests.m_mechanic('A') AS wa \gset
SELECT tests.m_mechanic('B') AS wb \gset
INSERT INTO app.favorites (customer_id, mechanic_id) VALUES (:'c', :'wa');
UPDATE app.mechanics SET years_of_experience = 15 WHERE user_id = :'wb';
SELECT is(tests.m_ranking(:'s'), ARRAY['A', 'B'], 'default weights: the favorite first');
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is((api.set_matching_criterion('experience', 30) ->> 'weight')::numeric, 30.00, 'an admin changes a weight');
SELECT tests.clear_authentication();
SELECT is(tests.m_ranking(:'s'), ARRAY['B', 'A'], 'a heavier experience weight puts B first');
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT api.set_matching_criterion('experience', p_enabled => false);
SELECT tests.clear_authentication();
SELECT is(tests.m_reason(:'s', :'wb', 'experience'), NULL, 'a disabled criterion gives no points and no reason');

------------------------------------------------------------------ hard filters
SELECT tests.m_mechanic('Offline', false) AS off \gset
SELECT tests.m_mechanic('Inactive') AS inactive \gset
UPDATE app.mechanics SET is_active = false WHERE user_id = :'inactive';
SELECT tests.m_mechanic('On leave') AS leave \gset
SELECT tests.add_time_off(:'leave', '2031-01-07 14:00Z', '2031-01-07 18:00Z');
SELECT tests.m_mechanic('Busy') AS busy \gset
SELECT tests.m_booked(tests.create_customer(), :'busy', '2031-01-07 14:45Z', 'active');
SELECT is(tests.m_ranking(:'s'), ARRAY['A', 'B'],
  'never candidates: off shift (immediate), inactive, on time off, holding an overlapping session');

-- the brand-specialist tab: the one metadata key matching reads; other keys are ignored
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'s';  -- one open request at a time
SELECT tests.m_mechanic('Specialist') AS spec \gset
UPDATE app.mechanics SET brand_specialist_brands = '{Honda}' WHERE user_id = :'spec';
SELECT tests.m_immediate(:'c', '2031-01-07 15:00Z', :'v', 'Grinding noise',
  jsonb_build_object('brand_specialist_only', true, 'matching_criteria', jsonb_build_object('vehicleMake', 'Toyota'),
                     'preferred_mechanic_id', :'wa')) AS tab \gset
SELECT is(tests.m_ranking(:'tab'), ARRAY['Specialist'], 'brand_specialist_only: only specialists for the vehicle''s make');
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'tab';
SELECT tests.m_immediate(:'c', '2031-01-07 15:00Z', :'v', 'Grinding noise', '{"brand_specialist_only": "yes"}') AS junk \gset
SELECT is(cardinality(tests.m_ranking(:'junk')), 3, 'a non-boolean brand_specialist_only is ignored (no filter)');

-- scheduled: free for the whole slot through the availability rules; in person needs a workshop
SELECT tests.create_workshop('America/Toronto', '09:00', '12:00') AS shop \gset
SELECT tests.m_mechanic('Shop early', false, :'shop') AS early \gset
SELECT tests.m_mechanic('Shop full', false, :'shop') AS full \gset
SELECT tests.m_booked(tests.create_customer(), :'full', '2031-01-09 15:15Z');
SELECT tests.m_scheduled(:'c', '2031-01-09 15:00Z', :'v', 'in_person') AS inperson \gset
SELECT is(tests.m_ranking(:'inperson'), ARRAY['Shop early'],
  'scheduled in person: workshop mechanics free for the slot (off shift is fine), not the overlapping one');
SELECT is(tests.m_reason(:'inperson', :'early', 'service_mode') ->> 'reason', 'In-person service at Test Workshop',
  'service_mode: in person names the workshop');
SELECT is(tests.m_reason(:'inperson', :'early', 'availability') ->> 'reason', 'Free for the whole slot',
  'availability: scheduled sessions say free for the whole slot');
-- noon in Toronto: the shop has closed
SELECT tests.m_scheduled(:'c', '2031-01-09 17:00Z', :'v', 'in_person') AS closed \gset
SELECT is(tests.m_ranking(:'closed'), NULL, 'scheduled: a slot outside the workshop''s hours finds nobody');

------------------------------------------------------------------ who may see the explanation
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is((SELECT count(*)::int FROM api.match_mechanics(:'inperson')), 1, 'an admin sees the match explanation');
SELECT throws_ok(format($$SELECT * FROM api.match_mechanics(%L, 0)$$, :'inperson'), 'AD422', NULL, 'limit 0 is refused');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok(format($$SELECT * FROM api.match_mechanics(%L)$$, :'inperson'), '42501', NULL,
  'a customer cannot call the match explanation');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

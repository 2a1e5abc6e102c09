-- Matching speed (migration 0026): the stored request-independent points follow their sources (each
-- trigger), and the threshold algorithm of app_private.match_candidates returns exactly what the
-- full-scan reference (tests.match_candidates_reference, the function before 0026) returns — ranks,
-- ids, names, scores and reasons — on random mechanics, customers and requests, under the default
-- weights, after the rating mean drifted (stored points not recomputed), and under other weights.
BEGIN;
SELECT plan(32);
SET LOCAL timezone = 'UTC';
SELECT tests.set_now('2031-01-07 15:00Z');   -- a Tuesday, 10:00 in Toronto

------------------------------------------------------------------ the stored points' triggers
-- the ranking's own request-independent points of a mechanic (rating + experience + acceptance rate,
-- unrounded) with the recorded prior mean: what the stored row must hold
CREATE FUNCTION pg_temp.expected(p_id uuid) RETURNS float8 LANGUAGE sql AS $$
  SELECT 15.0 / 5 * coalesce((20 * b.rating_mean + m.rating::float8 * m.rating_count) / nullif(20 + m.rating_count, 0), 0)
         + 6 * least(1.0, m.years_of_experience / 15.0)
         + 6 * coalesce((coalesce(st.accepted, 0) + 2.0) / (coalesce(st.accepted + st.declined + st.expired, 0) + 4), 0.5)
  FROM app.mechanics m CROSS JOIN app.matching_static_basis b
  LEFT JOIN app.mechanic_offer_stats st ON st.mechanic_id = m.user_id WHERE m.user_id = p_id
$$;
CREATE FUNCTION pg_temp.stored(p_id uuid) RETURNS float8 LANGUAGE sql AS $$
  SELECT s.points FROM app.mechanic_match_static s WHERE s.mechanic_id = p_id
$$;
SELECT tests.m_mechanic('Stored') AS x \gset
SELECT ok(abs(pg_temp.stored(:'x') - pg_temp.expected(:'x')) < 1e-9,
  'a new mechanic gets its stored points (no reviews, no experience, no answered offers)');
UPDATE app.mechanics SET rating = 4.6, rating_count = 30 WHERE user_id = :'x';
SELECT ok(abs(pg_temp.stored(:'x') - pg_temp.expected(:'x')) < 1e-9 AND pg_temp.stored(:'x') > 10,
  'a review (rating, rating_count) moves the stored points');
UPDATE app.mechanics SET years_of_experience = 9 WHERE user_id = :'x';
SELECT ok(abs(pg_temp.stored(:'x') - pg_temp.expected(:'x')) < 1e-9, 'experience moves the stored points');
INSERT INTO app.mechanic_offer_stats (mechanic_id, accepted, declined, expired) VALUES (:'x', 1, 5, 2);
SELECT ok(abs(pg_temp.stored(:'x') - pg_temp.expected(:'x')) < 1e-9, 'answered offers move the stored points');
UPDATE app.mechanic_offer_stats SET accepted = 20 WHERE mechanic_id = :'x';
SELECT ok(abs(pg_temp.stored(:'x') - pg_temp.expected(:'x')) < 1e-9, '... and so does each further answer');
DELETE FROM app.mechanic_offer_stats WHERE mechanic_id = :'x';
SELECT ok(abs(pg_temp.stored(:'x') - pg_temp.expected(:'x')) < 1e-9, '... and their removal');
UPDATE app.matching_criteria SET weight = 45 WHERE code = 'experience';
SELECT ok(abs(pg_temp.stored(:'x') - (pg_temp.expected(:'x') + 39 * 9 / 15.0)) < 1e-9,
  'a weight change recomputes every mechanic''s stored points');
UPDATE app.matching_criteria SET enabled = false WHERE code = 'experience';
SELECT ok(abs(pg_temp.stored(:'x') - (pg_temp.expected(:'x') - 6 * 9 / 15.0)) < 1e-9,
  'disabling a criterion takes its points out of the stored points');
UPDATE app.matching_criteria SET weight = 6, enabled = true WHERE code = 'experience';
UPDATE app.matching_settings SET experience_full_years = 9;
SELECT ok(abs(pg_temp.stored(:'x') - (pg_temp.expected(:'x') + 6 * (1 - 9 / 15.0))) < 1e-9,
  'a settings change recomputes every mechanic''s stored points');
UPDATE app.matching_settings SET experience_full_years = 15;
SELECT is((SELECT b.rating_mean FROM app.matching_static_basis b), app_private.matching_rating_mean(),
  'a recompute records the live prior mean');
SELECT is((SELECT count(*) FROM app.mechanics m LEFT JOIN app.mechanic_match_static s ON s.mechanic_id = m.user_id
           WHERE s.mechanic_id IS NULL), 0::bigint, 'every mechanic has stored points');
-- the on-shift flag (an immediate request walks the on-shift mechanics' index): active and on shift
CREATE FUNCTION pg_temp.flag(p_id uuid) RETURNS boolean LANGUAGE sql AS $$
  SELECT s.on_shift FROM app.mechanic_match_static s WHERE s.mechanic_id = p_id
$$;
UPDATE app.mechanics SET currently_on_shift = false WHERE user_id = :'x';
SELECT ok(NOT pg_temp.flag(:'x'), 'going off shift clears the stored on-shift flag');
UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = :'x';
SELECT ok(pg_temp.flag(:'x'), 'going on shift sets it');
UPDATE app.mechanics SET is_active = false WHERE user_id = :'x';
SELECT ok(NOT pg_temp.flag(:'x'), '... and deactivation clears it');

------------------------------------------------------------------ random data
SELECT setseed(0.42);
CREATE TEMP TABLE geo (n int, city text, province text, country text, postal text);
INSERT INTO geo VALUES (0, 'Toronto', 'ON', 'CA', 'M5V 2T6'), (1, 'Ottawa', 'ON', 'CA', 'K1P 1J1'),
  (2, 'Montreal', 'QC', 'CA', 'H2X 1Y4'), (3, 'Seattle', 'WA', 'US', '98101'), (4, 'Tacoma', 'WA', 'US', '98402'),
  (5, 'Toronto', 'ON', 'CA', 'M4C 1B5');   -- same city, another postal area
CREATE TEMP TABLE ws AS
  SELECT i, tests.create_workshop('America/Toronto', '08:00', '20:00', '{0,1,2,3,4,5,6}', 'Shop ' || i, g.city) AS id
  FROM generate_series(0, 5) i JOIN geo g ON g.n = i;
UPDATE app.workshops w SET postal_code = g.postal, state_province = g.province, country = g.country
FROM ws JOIN geo g ON g.n = ws.i WHERE w.id = ws.id;
CREATE TEMP TABLE mech AS
  SELECT i, tests.create_user('mechanic', NULL, 'Random ' || i) AS id FROM generate_series(1, 220) i;
INSERT INTO app.mechanics (user_id, display_name, workshop_id, timezone, currently_on_shift, is_active, rating,
                           rating_count, years_of_experience, specialties, bio, brand_specialist_brands,
                           country, state_province, city, postal_code)
SELECT m.id, 'Random ' || m.i, CASE WHEN random() < 0.6 THEN (SELECT ws.id FROM ws WHERE ws.i = m.i % 6) END,
       'America/Toronto', random() < 0.5, random() < 0.95, round((3 + 2 * random())::numeric, 2),
       (random() ^ 2 * 80)::int, (random() * 30)::int,
       ARRAY[(ARRAY['brakes', 'engine', 'transmission', 'battery', 'cooling', 'clutch'])[1 + (random() * 5)::int]],
       CASE WHEN random() < 0.5 THEN 'Grinding and squeaks, honest work' ELSE 'Electrical faults' END,
       CASE WHEN random() < 0.3 THEN ARRAY[(ARRAY['Honda', 'toyota ', 'Ford'])[1 + (random() * 2)::int]] ELSE '{}' END,
       g.country, g.province, g.city, g.postal
FROM mech m JOIN geo g ON g.n = (m.i * 7) % 6;
INSERT INTO app.mechanic_offer_stats (mechanic_id, accepted, declined, expired)
SELECT id, (random() * 20)::int, (random() * 10)::int, (random() * 5)::int FROM mech WHERE random() < 0.7;
-- customers: a location, a vehicle, favorites, past completed sessions
CREATE TEMP TABLE cust AS
  SELECT i, tests.create_customer(NULL, 'Cust ' || i, g.country, g.province, g.city, g.postal) AS id
  FROM generate_series(0, 7) i JOIN geo g ON g.n = i % 6;
ALTER TABLE cust ADD COLUMN vehicle uuid;
UPDATE cust SET vehicle = tests.create_vehicle(id, (ARRAY['Honda', 'Toyota', 'Ford', 'Kia'])[1 + i % 4]);
INSERT INTO app.favorites (customer_id, mechanic_id)
SELECT DISTINCT c.id, m.id FROM cust c CROSS JOIN generate_series(1, 3) k JOIN mech m ON m.i = 1 + (c.i * 37 + k * 53) % 220;
SELECT count(tests.m_booked(c.id, m.id, '2030-11-01 15:00Z'::timestamptz + k * interval '1 day', 'completed'))
FROM cust c CROSS JOIN generate_series(1, 6) k JOIN mech m ON m.i = 1 + (c.i * 11 + k * 5) % 40;
-- bookings around the requests (workload; and busy mechanics for the scheduled slot): other customers
CREATE TEMP TABLE booker AS SELECT i, tests.create_customer(NULL, 'Booker ' || i) AS id FROM generate_series(0, 59) i;
SELECT count(tests.m_booked(b.id, m.id, '2031-01-08 15:00Z'::timestamptz + (b.i % 6) * interval '1 hour'))
FROM booker b JOIN mech m ON m.i = 1 + (b.i * 3) % 220
JOIN app.mechanics am ON am.user_id = m.id AND am.is_active;
-- requests: immediate (with and without a make, the brand-specialist tab), scheduled online and in person
CREATE TEMP TABLE req AS
SELECT row_number() OVER () AS n, x.id FROM (
  SELECT tests.m_immediate(c.id, '2031-01-07 15:00Z', CASE WHEN c.i % 3 <> 2 THEN c.vehicle END,
                           (ARRAY['Grinding noise when braking', 'Battery drains overnight', 'Clutch slips',
                                  'Nothing in common'])[1 + c.i % 4],
                           CASE WHEN c.i % 4 = 1 THEN '{"brand_specialist_only": true}'::jsonb ELSE '{}' END) AS id
  FROM cust c
  UNION ALL
  SELECT tests.m_scheduled(c.id, '2031-01-08 15:00Z', c.vehicle, 'online', 'Engine overheats, cooling fan') FROM cust c
  UNION ALL
  SELECT tests.m_scheduled(c.id, '2031-01-08 18:00Z', c.vehicle, 'in_person', 'Brakes squeak') FROM cust c) x;
-- one request already offered to its best mechanics (re-matching leaves them out)
INSERT INTO app.session_assignments (session_id, mechanic_id, status)
SELECT r.id, f.mechanic_id, 'declined' FROM req r, app_private.match_candidates(r.id, 2, true) f WHERE r.n = 9;

CREATE FUNCTION pg_temp.same(p_limit int, p_exclude boolean) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT results_eq(
    format('SELECT r.n, f.* FROM req r, app_private.match_candidates(r.id, %s, %L) f ORDER BY r.n, f.rank', p_limit, p_exclude),
    format('SELECT r.n, f.* FROM req r, tests.match_candidates_reference(r.id, %s, %L) f ORDER BY r.n, f.rank', p_limit, p_exclude),
    format('the fast ranking equals the full scan (top %s, exclude offered %s)', p_limit, p_exclude))
$$;

------------------------------------------------------------------ exactness
SELECT cmp_ok((SELECT count(*) FROM req r, app_private.match_candidates(r.id, 3, true) f), '>=', 50::bigint,
  'the random requests find candidates');
SELECT * FROM pg_temp.same(3, true);
SELECT * FROM pg_temp.same(10, false);
-- shifts change: only the 30 best by stored points are on shift now (half of them were off): the
-- immediate requests walk the stored on-shift flags, which must follow
UPDATE app.mechanics SET currently_on_shift = user_id IN (
  SELECT st.mechanic_id FROM app.mechanic_match_static st JOIN mech ON mech.id = st.mechanic_id
  ORDER BY st.points DESC LIMIT 30)
WHERE user_id IN (SELECT id FROM mech);
SELECT * FROM pg_temp.same(3, true);
-- the mean drifts (reviews move it) while the stored points keep the recorded mean
UPDATE app.mechanics SET rating = 5.0, rating_count = rating_count + 150 WHERE user_id IN (SELECT id FROM mech WHERE i % 9 = 0);
SELECT * FROM pg_temp.same(3, true);
-- other weights: the request-independent points count most, and the other way round
UPDATE app.matching_criteria SET weight = CASE code WHEN 'rating' THEN 80 WHEN 'acceptance_rate' THEN 30
  WHEN 'brand_specialist' THEN 3 WHEN 'specialty_match' THEN 4 ELSE weight END;
SELECT * FROM pg_temp.same(5, true);
UPDATE app.matching_criteria SET weight = CASE code WHEN 'rating' THEN 1 WHEN 'experience' THEN 0
  WHEN 'workload' THEN 40 WHEN 'same_province' THEN 30 ELSE weight END, enabled = (code <> 'acceptance_rate');
SELECT * FROM pg_temp.same(3, true);
-- only what no index-backed set covers counts (province, country, workload, rating): the mechanics
-- outside the sets decide, through the bound alone
UPDATE app.matching_criteria SET enabled = code IN ('availability', 'service_mode', 'same_province', 'same_country',
  'workload', 'rating'), weight = CASE code WHEN 'rating' THEN 2 ELSE weight END;
-- ... and the best stored points belong to other provinces: Toronto's customers' best are in Ottawa
-- (same province, outside every set of a Toronto customer), far down the stored order
UPDATE app.mechanics SET rating = CASE city WHEN 'Toronto' THEN 1.0 WHEN 'Ottawa' THEN 3.0 ELSE 5.0 END, rating_count = 80
WHERE user_id IN (SELECT id FROM mech);
SELECT * FROM pg_temp.same(3, true);
-- only the rating counts, and two mechanics' reviews pull the live mean far from the recorded one: the
-- stored points of the mechanics with few reviews are stale by up to the drift, which the bound must cover
UPDATE app.matching_criteria SET enabled = code IN ('availability', 'service_mode', 'rating'),
  weight = CASE code WHEN 'rating' THEN 100 ELSE weight END;
UPDATE app.mechanics SET rating = 4.0, rating_count = (m.i % 5) * 20 FROM mech m WHERE m.id = user_id;
UPDATE app.mechanics SET rating = 5.0, rating_count = 50000 WHERE user_id IN (SELECT id FROM mech WHERE i IN (100, 200));
SELECT * FROM pg_temp.same(3, true);

-- only the location (and a little rating) counts, and the Toronto mechanics with the best stored
-- points are away on the scheduled requests' day: the Toronto customers' best are further down the
-- location set than its list reaches, which only the location's part of the bound can tell
UPDATE app.matching_criteria SET enabled = code IN ('availability', 'service_mode', 'postal_prefix', 'same_city', 'rating'),
  weight = CASE code WHEN 'rating' THEN 2 ELSE weight END;
UPDATE app.mechanics SET rating = 3 + (i % 7) * 0.25, rating_count = 5 + i % 13 FROM mech m WHERE m.id = user_id;
SELECT count(tests.add_time_off(t.mechanic_id, '2031-01-08 00:00Z', '2031-01-09 00:00Z'))
FROM (SELECT st.mechanic_id FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
      WHERE m.city = 'Toronto' AND m.is_active AND st.mechanic_id IN (SELECT id FROM mech)
      ORDER BY st.points DESC LIMIT 40) t;
SELECT * FROM pg_temp.same(3, true);

-- only brand and concern (and a little rating) count, a brand set larger than a list, and the best of
-- the Honda specialists and of the mechanics matching the scheduled online concern away on that day:
-- the best free ones are further down those sets than their lists reach (the brand's and the
-- concern's parts of the bound decide)
UPDATE app.matching_criteria SET enabled = code IN ('availability', 'service_mode', 'brand_specialist', 'specialty_match',
  'rating'), weight = CASE code WHEN 'brand_specialist' THEN 20 WHEN 'specialty_match' THEN 25 ELSE weight END;
UPDATE app.mechanics SET brand_specialist_brands = CASE WHEN m.i % 5 < 3 THEN '{Honda}'::text[] ELSE '{}' END
FROM mech m WHERE m.id = user_id;
CREATE TEMP TABLE away AS
SELECT st.mechanic_id, st.points,
       m.search_document @@ to_tsquery('english', 'engine | overheats | cooling | fan') AS concern,
       m.brand_keys @> '{honda}' AS honda
FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
WHERE m.is_active AND st.mechanic_id IN (SELECT id FROM mech)
  AND NOT EXISTS (SELECT FROM app.mechanic_time_off o WHERE o.mechanic_id = m.user_id)
  AND NOT EXISTS (SELECT FROM app.sessions s WHERE s.mechanic_id = m.user_id AND s.status <> 'cancelled'
                  AND s.period && tstzrange('2031-01-08 00:00Z', '2031-01-09 00:00Z'));
SELECT count(tests.add_time_off(t.mechanic_id, '2031-01-08 00:00Z', '2031-01-09 00:00Z'))
FROM (SELECT mechanic_id FROM (SELECT mechanic_id FROM away WHERE concern ORDER BY points DESC LIMIT 40) c
      UNION SELECT mechanic_id FROM (SELECT mechanic_id FROM away WHERE honda ORDER BY points DESC LIMIT 40) h) t;
SELECT * FROM pg_temp.same(3, true);

-- the braking concerns match two words of most mechanics (brakes + a grinding/squeaking bio), the
-- province counts most, and the best stored points of those mechanics are outside Ontario: the list of
-- the two-word set is ordered by stored + province and country points (its bound drops those weights),
-- so the Ontario customers' best are found without deepening, and a list ordered by stored points alone
-- under that bound would miss them
UPDATE app.matching_criteria SET enabled = code IN ('availability', 'service_mode', 'specialty_match', 'same_province',
  'same_country', 'rating'),
  weight = CASE code WHEN 'same_province' THEN 30 WHEN 'same_country' THEN 2 WHEN 'rating' THEN 10
                     WHEN 'specialty_match' THEN 25 ELSE weight END;
UPDATE app.mechanics SET specialties = '{brakes}', bio = 'Grinding and squeaks, honest work'
FROM mech m WHERE m.id = user_id AND m.i % 4 <> 0;
UPDATE app.mechanics am
SET rating = CASE WHEN coalesce(w.state_province, am.state_province) = 'ON' THEN 3.0 + (m.i % 5) * 0.1
                  ELSE 4.5 + (m.i % 5) * 0.1 END,
    rating_count = 200
FROM mech m LEFT JOIN app.mechanics m2 ON m2.user_id = m.id LEFT JOIN app.workshops w ON w.id = m2.workshop_id
WHERE m.id = am.user_id;
SELECT ok((SELECT bool_and(coalesce(w.state_province, m.state_province) <> 'ON')
           FROM (SELECT st.mechanic_id FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
                 WHERE m.is_active AND m.search_document @@ to_tsquery('english', 'grind & brake')
                   AND st.mechanic_id IN (SELECT id FROM mech)
                 ORDER BY st.points DESC LIMIT 40) t
           JOIN app.mechanics m ON m.user_id = t.mechanic_id LEFT JOIN app.workshops w ON w.id = m.workshop_id),
  'the two-word matchers with the best stored points are all outside Ontario');
SELECT * FROM pg_temp.same(3, true);
SELECT * FROM pg_temp.same(10, false);

-- pairs of large sets (a mechanic outside the pool may be in two): brand and concern count, and the
-- best 30 Honda specialists matching the scheduled online concern are away that day, so the Honda
-- customers' best are further down that pair than its list reaches (the pair's part of the bound)
UPDATE app.matching_criteria SET enabled = code IN ('availability', 'service_mode', 'brand_specialist', 'specialty_match',
  'rating'), weight = CASE code WHEN 'brand_specialist' THEN 20 WHEN 'specialty_match' THEN 25 WHEN 'rating' THEN 20
                                ELSE weight END;
UPDATE app.mechanics SET brand_specialist_brands = CASE WHEN m.i % 3 <> 0 THEN '{Honda}'::text[] ELSE '{}' END,
       specialties = CASE WHEN m.i % 2 = 0 THEN '{engine}'::text[] ELSE '{transmission}' END,
       rating = 3 + (m.i * 7 % 20) * 0.1, rating_count = 200
FROM mech m WHERE m.id = user_id;
-- away(ids): those mechanics are not free for the scheduled requests' slots (15:00 online, 18:00 in
-- person): time off around each slot, unless a booking or a time off already covers it there
CREATE FUNCTION pg_temp.away(p_ids uuid[]) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(tests.add_time_off(x.id, w.f, w.t))
  FROM unnest(p_ids) x(id)
  CROSS JOIN (VALUES ('2031-01-08 14:00Z'::timestamptz, '2031-01-08 15:45Z'::timestamptz),
                     ('2031-01-08 17:00Z', '2031-01-08 18:45Z')) w(f, t)
  WHERE NOT EXISTS (SELECT FROM app.mechanic_time_off o WHERE o.mechanic_id = x.id AND o.period && tstzrange(w.f, w.t))
    AND NOT EXISTS (SELECT FROM app.sessions s WHERE s.mechanic_id = x.id AND s.status <> 'cancelled'
                    AND s.period && tstzrange(w.f, w.t))
$$;
SELECT pg_temp.away(ARRAY(
  SELECT st.mechanic_id FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
  WHERE m.is_active AND st.mechanic_id IN (SELECT id FROM mech) AND m.brand_keys @> '{honda}'
    AND m.search_document @@ to_tsquery('english', 'engine') ORDER BY st.points DESC LIMIT 30));
SELECT * FROM pg_temp.same(3, true);
-- brand and location count, and the best 30 Honda specialists in Toronto (online) and at its
-- workshops (in person) are away: the Toronto customers' best are further down that pair's list
UPDATE app.matching_criteria SET enabled = code IN ('availability', 'service_mode', 'brand_specialist', 'postal_prefix',
  'same_city', 'rating'), weight = CASE code WHEN 'brand_specialist' THEN 20 WHEN 'rating' THEN 20 ELSE weight END;
SELECT pg_temp.away(ARRAY(
  SELECT st.mechanic_id FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
  LEFT JOIN app.workshops w ON w.id = m.workshop_id
  WHERE m.is_active AND st.mechanic_id IN (SELECT id FROM mech) AND m.brand_keys @> '{honda}' AND m.city = 'Toronto'
  ORDER BY st.points DESC LIMIT 30));
SELECT pg_temp.away(ARRAY(
  SELECT st.mechanic_id FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
  JOIN app.workshops w ON w.id = m.workshop_id
  WHERE m.is_active AND st.mechanic_id IN (SELECT id FROM mech) AND m.brand_keys @> '{honda}' AND w.city = 'Toronto'
  ORDER BY st.points DESC LIMIT 30));
SELECT * FROM pg_temp.same(3, true);

------------------------------------------------------------------ the live mean's running totals
CREATE FUNCTION pg_temp.full_mean() RETURNS float8 LANGUAGE sql AS $$
  SELECT coalesce(sum(m.rating::float8 * m.rating_count) / nullif(sum(m.rating_count), 0), 0)
  FROM app.mechanics m WHERE m.is_active AND m.rating_count > 0
$$;
SELECT ok(abs(app_private.matching_rating_mean() - pg_temp.full_mean()) < 1e-9,
  'the running totals give the mean of a full scan after all those reviews');
UPDATE app.mechanics SET is_active = false WHERE user_id IN (SELECT id FROM mech WHERE i = 100);
DELETE FROM app.mechanics WHERE user_id IN (SELECT id FROM mech WHERE i = 200);
SELECT ok(abs(app_private.matching_rating_mean() - pg_temp.full_mean()) < 1e-9 AND app_private.matching_rating_mean() < 4.5,
  'a deactivated or deleted mechanic''s reviews leave the mean');

SELECT * FROM finish();
ROLLBACK;

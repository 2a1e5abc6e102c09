-- The live session: the join gate (waiver first, the session's time, an immediate session paid),
-- the lifecycle it moves (scheduled -> pending -> active, waiting -> active), completion with
-- notes (the in-person balance charge), rating once with the mechanic's exact rating, and the
-- mechanic's day (a DST day included).
BEGIN;
SELECT plan(52);
SET LOCAL timezone = 'UTC';

SELECT tests.se_customer('lv-cust@example.test', 'Dana Driver') AS c \gset
SELECT tests.se_customer() AS c2 \gset
SELECT tests.se_mechanic() AS m \gset
SELECT tests.se_mechanic('America/Toronto', true) AS mw \gset
SELECT tests.lv_open_all_day(:'m'), tests.lv_open_all_day(:'mw');  -- any local time can be booked
SELECT tests.create_admin() AS adm \gset

CREATE FUNCTION pg_temp.err(p_user uuid, p_role text, p_sql text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_old text := tests.with_claims(p_user, p_role);
  v jsonb;
BEGIN
  v := tests.error_of(p_sql);
  PERFORM tests.restore_claims(v_old);
  RETURN v;
END
$$;
CREATE FUNCTION pg_temp.status(p_session uuid) RETURNS text LANGUAGE sql AS $$SELECT status FROM app.sessions WHERE id = p_session$$;

------------------------------------------------------------------ scheduled online: the gate
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-01-07 15:00+00') AS s \gset
SELECT tests.set_now('2031-01-07 14:50+00');
SELECT is(pg_temp.err(:'c', 'customer', format('SELECT api.join_session(%L)', :'s')) ->> 'hint', 'waiver_required',
  'joining before the waiver is signed: 409 waiver_required');
SELECT is((pg_temp.err(:'c', 'customer', format('SELECT api.join_session(%L)', :'s')) ->> 'detail')::jsonb ->> 'waiver_page',
  '/customer/appointments/' || :'s' || '/waiver', '... pointing at the waiver page (the 15-minute reminder''s link)');
SELECT is(pg_temp.err(:'m', 'mechanic', format('SELECT api.join_session(%L)', :'s')) ->> 'hint', 'waiver_required',
  'the mechanic cannot join an unsigned session either');
SELECT tests.lv_sign(:'s', :'c') IS NOT NULL AS signed;
SELECT tests.set_now('2031-01-07 14:44:59+00');
SELECT is(pg_temp.err(:'c', 'customer', format('SELECT api.join_session(%L)', :'s')) ->> 'hint', 'outside_session_time',
  'signed, but 15 min + 1 s before the start: outside the session''s time');
SELECT tests.set_now('2031-01-07 14:45+00');
SELECT is(tests.lv_as(:'m', 'mechanic', format('SELECT api.join_session(%L)', :'s')) ->> 'status', 'scheduled',
  'the mechanic joins first, 15 min before: still scheduled');
SELECT is(tests.lv_as(:'c', 'customer', format('SELECT api.join_session(%L)', :'s')) ->> 'status', 'active',
  'the customer joins: scheduled -> pending -> active (both are in)');
SELECT results_eq(format($$SELECT from_status, to_status FROM app.session_events WHERE session_id = %L AND event_type = 'status_changed' ORDER BY id$$, :'s'),
  $$VALUES ('scheduled'::text, 'pending'::text), ('pending', 'active')$$, 'the audit log has both transitions');
SELECT is(tests.lv_as(:'c', 'customer', format('SELECT api.join_session(%L)', :'s')) ->> 'customer_joined_at',
  '2031-01-07T14:45:00+00:00', 'joining again changes nothing');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE session_id = :'s' AND kind = 'session.joined'), 2,
  'one session.joined live event per person');
SELECT is(pg_temp.err(:'c2', 'customer', format('SELECT api.join_session(%L)', :'s')) ->> 'hint', 'session_not_found',
  'another customer cannot join');

SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-01-08 15:00+00') AS s2 \gset
SELECT tests.set_now('2031-01-08 14:50+00');
SELECT tests.lv_sign(:'s2', :'c') IS NOT NULL AS signed;
SELECT is(tests.lv_as(:'c', 'customer', format('SELECT api.join_session(%L)', :'s2')) ->> 'status', 'pending',
  'the customer joins first: scheduled -> pending (waiver signed, customer ready)');
SELECT tests.set_now('2031-01-08 15:30+00');
SELECT is(pg_temp.err(:'m', 'mechanic', format('SELECT api.join_session(%L)', :'s2')) ->> 'hint', 'outside_session_time',
  'at the session''s end the mechanic can no longer join');
SELECT tests.set_now('2031-01-08 15:29:59+00');
SELECT is(tests.lv_as(:'m', 'mechanic', format('SELECT api.join_session(%L)', :'s2')) ->> 'status', 'active',
  '1 s before the end the mechanic joins: pending -> active');

------------------------------------------------------------------ completion
SELECT is(pg_temp.err(:'m', 'mechanic', format('SELECT api.complete_session(%L, %L)', :'s2', repeat('x', 10001))) ->> 'hint',
  'invalid_value', 'notes over 10,000 characters are refused');
SELECT is(pg_temp.err(:'mw', 'mechanic', format('SELECT api.complete_session(%L)', :'s2')) ->> 'hint', 'session_not_found',
  'another mechanic cannot complete it');
SELECT is(tests.lv_as(:'m', 'mechanic', format('SELECT api.complete_session(%L, %L)', :'s2', 'Replaced the brake pads.')) ->> 'status',
  'completed', 'the mechanic completes the active session');
SELECT is((SELECT completion_notes FROM app.sessions WHERE id = :'s2'), 'Replaced the brake pads.', '... with notes');
SELECT is(tests.lv_as(:'m', 'mechanic', format('SELECT api.complete_session(%L)', :'s2')) ->> 'completion_notes',
  'Replaced the brake pads.', 'completing again returns it unchanged');
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c2', :'m', '2031-01-09 15:00+00') AS s3 \gset
SELECT tests.set_now('2031-01-09 15:00+00');
SELECT is(pg_temp.err(:'m', 'mechanic', format('SELECT api.complete_session(%L)', :'s3')) ->> 'hint', 'not_completable',
  'a session that is not active cannot be completed');

------------------------------------------------------------------ rating once
SELECT is(pg_temp.err(:'c2', 'customer', format('SELECT api.rate_session(%L, 5)', :'s3')) ->> 'hint', 'not_rateable',
  'a session that is not completed cannot be rated');
SELECT is(pg_temp.err(:'c', 'customer', format('SELECT api.rate_session(%L, 6)', :'s2')) ->> 'hint', 'invalid_value',
  'a rating of 6 is refused');
SELECT is(pg_temp.err(:'c', 'customer', format('SELECT api.rate_session(%L, 0)', :'s2')) ->> 'hint', 'invalid_value',
  'a rating of 0 is refused');
SELECT is(pg_temp.err(:'m', 'mechanic', format('SELECT api.rate_session(%L, 5)', :'s2')) ->> 'hint', 'session_not_found',
  'a mechanic cannot rate (the function checks the caller; the role has no EXECUTE grant either)');
SELECT is(pg_temp.err(:'c2', 'customer', format('SELECT api.rate_session(%L, 5)', :'s2')) ->> 'hint', 'session_not_found',
  'another customer cannot rate it');
SELECT tests.clear_authentication();
UPDATE app.mechanics SET rating = 4.50, rating_count = 2 WHERE user_id = :'m';  -- two earlier reviews: 4 and 5
SELECT is((SELECT rating_sum FROM app.mechanics WHERE user_id = :'m'), 9.00::numeric, 'setting rating and count re-bases the exact sum');
SELECT is(tests.lv_as(:'c', 'customer', format('SELECT api.rate_session(%L, 4, %L)', :'s2', 'Clear advice.')) ->> 'rating', '4',
  'the customer rates the completed session 4');
SELECT results_eq(format($$SELECT rating, rating_count, rating_sum FROM app.mechanics WHERE user_id = %L$$, :'m'),
  $$VALUES (4.33::numeric, 3, 13.00::numeric)$$, 'the mechanic''s rating becomes (4 + 5 + 4) / 3 = 4.33, count 3');
SELECT is(pg_temp.err(:'c', 'customer', format('SELECT api.rate_session(%L, 1)', :'s2')) ->> 'hint', 'already_rated',
  'rating twice is refused (409 already_rated)');
SELECT is((SELECT rating_count FROM app.mechanics WHERE user_id = :'m'), 3, '... and changes nothing');
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c', :'m', '2031-01-10 15:00+00') AS s4 \gset
UPDATE app.sessions SET status = 'pending' WHERE id = :'s4';
UPDATE app.sessions SET status = 'active' WHERE id = :'s4';
UPDATE app.sessions SET status = 'completed' WHERE id = :'s4';
SELECT tests.lv_as(:'c', 'customer', format('SELECT api.rate_session(%L, 5)', :'s4')) IS NOT NULL AS rated;
SELECT results_eq(format($$SELECT rating, rating_count, rating_sum FROM app.mechanics WHERE user_id = %L$$, :'m'),
  $$VALUES (4.50::numeric, 4, 18.00::numeric)$$, 'the next rating is exact: 18 / 4 = 4.50, no rounding carried over');
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT is_empty('SELECT 1 FROM app.session_ratings', 'a customer sees no one else''s ratings');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'m', 'mechanic');
SELECT is((SELECT count(*)::int FROM app.session_ratings), 2, 'a mechanic sees the ratings of their sessions');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'mw', 'mechanic');
SELECT is_empty('SELECT 1 FROM app.session_ratings', '... not another mechanic''s');
SELECT throws_ok('INSERT INTO app.session_ratings (session_id) VALUES (gen_random_uuid())', '42501', NULL,
  'nobody writes ratings directly');
SELECT tests.clear_authentication();

------------------------------------------------------------------ immediate: waiting -> active once paid and both in
SELECT tests.set_now('2031-01-11 10:00+00');
SELECT tests.lv_immediate(:'c2', :'m') AS imm \gset
SELECT is(pg_temp.err(:'c2', 'customer', format('SELECT api.join_session(%L)', :'imm')) ->> 'hint', 'waiver_required',
  'immediate: the waiver comes first');
SELECT tests.lv_sign(:'imm', :'c2') IS NOT NULL AS signed;
SELECT is(pg_temp.err(:'c2', 'customer', format('SELECT api.join_session(%L)', :'imm')) ->> 'hint', 'payment_pending',
  'signed but the charge has not succeeded: 409 payment_pending');
SELECT tests.se_charge_done((SELECT id FROM app.scheduled_payments WHERE session_id = :'imm')) IS NOT NULL AS charged;
SELECT is(tests.lv_as(:'c2', 'customer', format('SELECT api.join_session(%L)', :'imm')) ->> 'status', 'waiting',
  'paid: the customer joins, still waiting for the mechanic');
SELECT is(tests.lv_as(:'m', 'mechanic', format('SELECT api.join_session(%L)', :'imm')) ->> 'status', 'active',
  'the mechanic joins: waiting -> active');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE session_id = :'imm' AND kind = 'session.active'
            AND audience @> ARRAY[:'c2'::uuid, :'m'::uuid]), 1, 'a session.active live event to both sides');
-- Paid wholly with account credit (band 40: credit first, the card for the rest): no card charge.
SELECT tests.se_customer() AS rich \gset
UPDATE app.customers SET credit_balance_cents = 5000 WHERE user_id = :'rich';
SELECT tests.set_now('2031-01-11 11:00+00');
SELECT tests.lv_immediate(:'rich', :'m') AS by_credit \gset
SELECT is((tests.lv_sign(:'by_credit', :'rich') -> 'session' ->> 'paid')::boolean, true,
  'an immediate session paid with account credit is paid as soon as it is signed');
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id = :'by_credit'), 0, '... with no card charge');
SELECT is(tests.lv_as(:'rich', 'customer', format('SELECT api.join_session(%L)', :'by_credit')) ->> 'status', 'waiting',
  '... and the customer may join');
SELECT tests.lv_immediate(:'c', NULL) AS unmatched \gset
SELECT is(pg_temp.err(:'c', 'customer', format('SELECT api.join_session(%L)', :'unmatched')) ->> 'hint', 'not_joinable',
  'a request no mechanic has accepted cannot be joined');

------------------------------------------------------------------ in person: the balance after completion
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.se_session(:'c', :'mw', '2031-01-12 16:00+00', 'in_person', 'scheduled', 'extended') AS ip \gset
SELECT tests.set_now('2031-01-12 15:55+00');
SELECT tests.lv_sign(:'ip', :'mw', 'mechanic') IS NOT NULL AS signed;
SELECT tests.lv_as(:'c', 'customer', format('SELECT api.join_session(%L)', :'ip')) IS NOT NULL AS joined;
SELECT tests.lv_as(:'mw', 'mechanic', format('SELECT api.join_session(%L)', :'ip')) IS NOT NULL AS joined;
SELECT tests.set_now('2031-01-12 16:40+00');
SELECT is(tests.lv_as(:'mw', 'mechanic', format('SELECT api.complete_session(%L, %L)', :'ip', 'Brakes checked.')) ->> 'status',
  'completed', 'an in-person session is completed');
SELECT results_eq(format($$SELECT payment_type, amount_cents FROM app.scheduled_payments WHERE session_id = %L ORDER BY created_at, payment_type$$, :'ip'),
  $$VALUES ('deposit'::text, 1500), ('balance', 3400)$$, '... and its balance (plan price - deposit) is charged');

------------------------------------------------------------------ the mechanic's day
SELECT tests.set_now('2031-01-12 12:00+00');
SELECT tests.authenticate_as(:'mw', 'mechanic');
SELECT results_eq($$SELECT id, customer_first_name, waiver_status, waiver_mode, service_mode, workshop_name, concern
                    FROM api.mechanic_schedule('day', 100, '2031-01-12')$$,
  format($$VALUES (%L::uuid, 'Dana'::text, 'signed'::text, 'in_person'::text, 'in_person'::text, 'Downtown Auto'::text,
                   'Grinding noise when braking'::text)$$, :'ip'),
  'the day view: the customer''s first name, waiver status and mode, mode, workshop, concern');
SELECT is(api.mechanic_day('2031-01-12') ->> 'timezone', 'America/Toronto', 'the day is the mechanic''s local day');
SELECT is(jsonb_array_length(api.mechanic_day('2031-01-13') -> 'sessions'), 0, 'another day is empty');
SELECT is(api.mechanic_day() ->> 'date', '2031-01-12', 'no date: today in the mechanic''s zone (trusted clock)');
SELECT tests.clear_authentication();
-- DST: America/Toronto springs forward on 2031-03-09 (a 23-hour day). 23:30 local that day is
-- 03:30Z the next UTC day, and 00:10 local on 03-10 belongs to the next day.
SELECT tests.set_now('2031-03-01 12:00+00');
SELECT tests.se_session(:'c2', :'mw', '2031-03-09 23:30'::timestamp AT TIME ZONE 'America/Toronto') AS late \gset
SELECT tests.se_session(:'c2', :'mw', '2031-03-10 00:10'::timestamp AT TIME ZONE 'America/Toronto') AS next \gset
SELECT tests.se_session(:'c2', :'mw', '2031-03-09 00:00'::timestamp AT TIME ZONE 'America/Toronto') AS first \gset
SELECT tests.authenticate_as(:'mw', 'mechanic');
SELECT results_eq($$SELECT id, waiver_status FROM api.mechanic_schedule('day', 100, '2031-03-09')$$,
  format($$VALUES (%L::uuid, 'unsigned'::text), (%L, 'unsigned')$$, :'first', :'late'),
  'DST day: from local midnight to local midnight (23 hours), the next day''s 00:10 excluded');
SELECT is(jsonb_array_length(api.mechanic_day('2031-03-10') -> 'sessions'), 1, '... and shown on the next day');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok($$SELECT api.mechanic_day()$$, '42501', NULL, 'a customer has no mechanic day');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

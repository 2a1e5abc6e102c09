-- Offers: an immediate request offers the top 3 (priority, expiry, events, emails); first accept
-- wins and withdraws the rest; decline with a reason; expiry and re-matching rounds that never
-- offer a mechanic twice; unmatched after the last round (email + event with the choices); the
-- customer withdraws a request; a chosen mechanic gets one targeted offer; deferred matching
-- once per session; row-level security and grants of the matching tables.
BEGIN;
SELECT plan(69);
SET LOCAL timezone = 'UTC';

SELECT tests.create_admin() AS admin \gset
SELECT tests.create_customer() AS c \gset
SELECT tests.create_vehicle(:'c') AS v \gset
-- five on-shift mechanics ranked M1 > M2 > ... > M5 by experience (everything else equal)
SELECT tests.m_mechanic('M1') AS m1 \gset
SELECT tests.m_mechanic('M2') AS m2 \gset
SELECT tests.m_mechanic('M3') AS m3 \gset
SELECT tests.m_mechanic('M4') AS m4 \gset
SELECT tests.m_mechanic('M5') AS m5 \gset
UPDATE app.mechanics SET years_of_experience = 15 - 3 * (right(display_name, 1)::int - 1) WHERE display_name ~ '^M[1-5]$';

------------------------------------------------------------------ an immediate request: top 3 offered
SELECT tests.authenticate_as(:'c', 'customer');
SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Brakes grind',
                          p_vehicle_id => :'v') ->> 'id' AS s \gset
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT m.display_name, a.priority, a.status FROM app.session_assignments a
                           JOIN app.mechanics m ON m.user_id = a.mechanic_id WHERE a.session_id = %L ORDER BY m.display_name$$, :'s'),
  $$VALUES ('M1', 'high', 'offered'), ('M2', 'medium', 'offered'), ('M3', 'low', 'offered')$$,
  'the top 3 get offers: high, medium, low');
SELECT is((SELECT array_agg(DISTINCT expires_at) FROM app.session_assignments WHERE session_id = :'s'),
  ARRAY[now() + interval '2 minutes'], 'an immediate offer is open 2 minutes (the setting)');
SELECT ok((SELECT bool_and(match_score > 0 AND jsonb_array_length(match_reasons) > 0) FROM app.session_assignments
           WHERE session_id = :'s'), 'each offer keeps its score and reasons');
SELECT results_eq(format($$SELECT status, round, targeted FROM app.session_matching WHERE session_id = %L$$, :'s'),
  $$VALUES ('offering', 1, false)$$, 'round 1 is open');
SELECT results_eq(format($$SELECT audience FROM app.live_events WHERE kind = 'offer.created' AND session_id = %L ORDER BY id$$, :'s'),
  format($$SELECT ARRAY[mechanic_id] FROM app.session_assignments WHERE session_id = %L ORDER BY match_score DESC$$, :'s'),
  'each offer.created event is addressed to its one mechanic');
SELECT results_eq(format($$SELECT audience, payload ->> 'status', (payload ->> 'round')::int FROM app.live_events
                           WHERE kind = 'session.status' AND session_id = %L$$, :'s'),
  format($$VALUES (ARRAY[%L::uuid], 'offered', 1)$$, :'c'), 'the customer sees status offered');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE session_id = :'s' AND payload ->> 'template' = 'mechanic_offer'),
  3, 'each offered mechanic is emailed');
SELECT ok((SELECT bool_and(NOT (tests.as_sent(payload) -> 'context' ? 'customer')) FROM app.outbox
           WHERE session_id = :'s' AND payload ->> 'template' = 'mechanic_offer'),
  'the offer email does not reveal the customer');

-- what each mechanic sees
SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT results_eq($$SELECT priority, concern, is_immediate FROM api.my_offers()$$,
  $$VALUES ('high', 'Brakes grind', true)$$, 'a mechanic lists their open offer with the session''s facts');
SELECT (SELECT offer_id FROM api.my_offers()) AS o1 \gset
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'m4', 'mechanic');
SELECT is_empty('SELECT * FROM api.my_offers()', 'a mechanic without an offer sees none');
SELECT is_empty(format($$SELECT * FROM app.session_assignments WHERE session_id = %L$$, :'s'),
  'nor the other mechanics'' offers');
SELECT tests.clear_authentication();
SELECT id AS o2 FROM app.session_assignments WHERE session_id = :'s' AND mechanic_id = :'m2' \gset
SELECT id AS o3 FROM app.session_assignments WHERE session_id = :'s' AND mechanic_id = :'m3' \gset

-- decline, then accept
SELECT tests.authenticate_as(:'m3', 'mechanic');
SELECT is(api.decline_offer(:'o3', ' Too far ') ->> 'status', 'declined', 'a mechanic declines');
SELECT tests.clear_authentication();
SELECT is((SELECT decline_reason FROM app.session_assignments WHERE id = :'o3'), 'Too far', 'the reason is kept');
SELECT is((SELECT round FROM app.session_matching WHERE session_id = :'s'), 1, 'other offers still open: no new round');

SELECT tests.authenticate_as(:'m2', 'mechanic');
SELECT throws_ok(format($$SELECT api.accept_offer(%L)$$, :'o1'), 'AD404', 'Offer not found',
  'nobody accepts another mechanic''s offer');
SELECT is(api.accept_offer(:'o2') ->> 'status', 'accepted', 'a mechanic accepts');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT mechanic_id, status FROM app.sessions WHERE id = %L$$, :'s'),
  format($$VALUES (%L::uuid, 'waiting')$$, :'m2'), 'the session is theirs and waiting');
SELECT results_eq(format($$SELECT mechanic_id, status FROM app.session_assignments WHERE session_id = %L ORDER BY priority$$, :'s'),
  format($$VALUES (%L::uuid, 'withdrawn'), (%L::uuid, 'declined'), (%L::uuid, 'accepted')$$, :'m1', :'m3', :'m2'),
  'the other open offer is withdrawn');
SELECT results_eq(format($$SELECT audience, payload ->> 'reason' FROM app.live_events WHERE kind = 'offer.withdrawn' AND session_id = %L$$, :'s'),
  format($$VALUES (ARRAY[%L::uuid], 'taken')$$, :'m1'), 'the withdrawn mechanic is told');
SELECT results_eq(format($$SELECT payload ->> 'status', payload -> 'mechanic' ->> 'name' FROM app.live_events
                           WHERE kind = 'session.status' AND session_id = %L ORDER BY id DESC LIMIT 1$$, :'s'),
  $$VALUES ('assigned', 'M2')$$, 'the customer sees assigned, with the mechanic');
SELECT results_eq(format($$SELECT status, accepted_mechanic_id FROM app.session_matching WHERE session_id = %L$$, :'s'),
  format($$VALUES ('assigned', %L::uuid)$$, :'m2'), 'matching is closed as assigned');
SELECT is((SELECT tests.as_sent(payload) -> 'to' ->> 'email' FROM app.outbox WHERE session_id = :'s' AND payload ->> 'template' = 'mechanic_found'),
  (SELECT email FROM app.users WHERE id = :'c'), 'the customer is emailed that a mechanic was found');
SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT throws_ok(format($$SELECT api.accept_offer(%L)$$, :'o1'), 'AD409', 'This offer is no longer open',
  'accepting a withdrawn offer is 409 offer_closed');
SELECT throws_ok(format($$SELECT api.decline_offer(%L)$$, :'o1'), 'AD409', 'This offer is no longer open',
  'declining a withdrawn offer is 409 offer_closed');
SELECT tests.clear_authentication();
SELECT results_eq($$SELECT m.display_name, st.accepted, st.declined, st.expired FROM app.mechanic_offer_stats st
                    JOIN app.mechanics m ON m.user_id = st.mechanic_id ORDER BY 1$$,
  $$VALUES ('M2', 1, 0, 0), ('M3', 0, 1, 0)$$, 'answered offers are counted; a withdrawn one is not');

------------------------------------------------------------------ expiry, rounds, unmatched
SELECT tests.create_customer() AS c2 \gset
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Noise',
                          p_is_advice_only => true) ->> 'id' AS s2 \gset
SELECT tests.clear_authentication();
SELECT set_eq(format($$SELECT mechanic_id FROM app.session_assignments WHERE session_id = %L$$, :'s2'),
  ARRAY[:'m1', :'m3', :'m4']::uuid[], 'M2 is busy with the first session: M1, M3, M4 are offered');
SELECT is(api.expire_offers(), 0, 'nothing has expired yet');
SELECT tests.set_now(now() + interval '2 minutes 1 second');
SELECT is(api.expire_offers(), 3, 'after 2 minutes the three offers expire');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE kind = 'offer.expired' AND session_id = :'s2'), 3,
  'each expired mechanic is told');
SELECT results_eq(format($$SELECT mechanic_id, priority, status FROM app.session_assignments WHERE session_id = %L AND status = 'offered'$$, :'s2'),
  format($$VALUES (%L::uuid, 'high', 'offered')$$, :'m5'), 'round 2 offers the next best, never the same mechanics');
SELECT is((SELECT round FROM app.session_matching WHERE session_id = :'s2'), 2, 'round 2');
SELECT is(api.expire_offers(), 0, 'running the expiry again changes nothing');
SELECT id AS o5 FROM app.session_assignments WHERE session_id = :'s2' AND mechanic_id = :'m5' \gset
SELECT tests.authenticate_as(:'m5', 'mechanic');
SELECT api.decline_offer(:'o5');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT m.status, s.status, s.cancel_reason FROM app.session_matching m JOIN app.sessions s ON s.id = m.session_id
                           WHERE m.session_id = %L$$, :'s2'),
  $$VALUES ('unmatched', 'cancelled', 'expired')$$, 'nobody left: unmatched, the request is cancelled (nothing was charged)');
SELECT results_eq(format($$SELECT audience, payload -> 'choices' ? 'waitlist', payload -> 'choices' ? 'schedule'
                           FROM app.live_events WHERE kind = 'session.status' AND payload ->> 'status' = 'unmatched' AND session_id = %L$$, :'s2'),
  format($$VALUES (ARRAY[%L::uuid], true, true)$$, :'c2'), 'the customer sees unmatched with the choices');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE session_id = :'s2' AND payload ->> 'template' = 'no_mechanic_found'), 1,
  'and is emailed once');
SELECT is_empty(format($$SELECT 1 FROM app.scheduled_payments WHERE session_id = %L$$, :'s2'), 'nothing is charged');

-- the last round: with max_rounds = 1 an expired round ends the matching even with mechanics left
UPDATE app.matching_settings SET max_rounds = 1;
SELECT tests.create_customer() AS c3 \gset
SELECT tests.set_now(NULL);
SELECT tests.authenticate_as(:'c3', 'customer');
SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Noise',
                          p_is_advice_only => true) ->> 'id' AS s3 \gset
SELECT tests.clear_authentication();
SELECT tests.set_now(now() + interval '5 minutes');
SELECT is(api.expire_offers(), 3, 'round 1 expires');
SELECT is((SELECT status FROM app.session_matching WHERE session_id = :'s3'), 'unmatched', 'after the last round: unmatched');
SELECT is((SELECT count(*)::int FROM app.session_assignments WHERE session_id = :'s3'), 3, 'and no further offers');
UPDATE app.matching_settings SET max_rounds = 3;

------------------------------------------------------------------ the customer withdraws a request
SELECT tests.set_now(NULL);
SELECT tests.create_customer() AS c4 \gset
SELECT tests.authenticate_as(:'c4', 'customer');
SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Noise',
                          p_is_advice_only => true) ->> 'id' AS s4 \gset
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c3', 'customer');
SELECT throws_ok(format($$SELECT api.cancel_request(%L)$$, :'s4'), 'AD404', 'Session not found',
  'another customer cannot withdraw it');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c4', 'customer');
SELECT is(api.cancel_request(:'s4') ->> 'cancel_reason', 'customer', 'the customer withdraws the request');
SELECT throws_ok(format($$SELECT api.cancel_request(%L)$$, :'s4'), 'AD409', NULL, 'twice: 409 not_cancellable');
SELECT tests.clear_authentication();
SELECT is((SELECT array_agg(DISTINCT status) FROM app.session_assignments WHERE session_id = :'s4'), ARRAY['withdrawn'],
  'its offers are withdrawn');
SELECT results_eq(format($$SELECT status FROM app.session_matching WHERE session_id = %L$$, :'s4'),
  $$VALUES ('cancelled')$$, 'matching is closed as cancelled');
SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok(format($$SELECT api.cancel_request(%L)$$, :'s'), 'AD409', NULL,
  'an accepted request cannot be withdrawn here');
SELECT tests.clear_authentication();

------------------------------------------------------------------ a chosen mechanic: one targeted offer
SELECT tests.create_customer() AS c5 \gset
SELECT tests.authenticate_as(:'c5', 'customer');
SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Noise', p_is_advice_only => true,
                          p_mechanic_id => :'m5') ->> 'id' AS s5 \gset
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT mechanic_id, priority, expires_at FROM app.session_assignments WHERE session_id = %L$$, :'s5'),
  format($$VALUES (%L::uuid, 'high', now() + interval '2 minutes')$$, :'m5'), 'only the chosen mechanic is offered');
SELECT tests.set_now(now() + interval '3 minutes');
SELECT api.expire_offers();
SELECT results_eq(format($$SELECT status, targeted, (SELECT count(*)::int FROM app.session_assignments WHERE session_id = %L)
                           FROM app.session_matching WHERE session_id = %L$$, :'s5', :'s5'),
  $$VALUES ('unmatched', true, 1)$$, 'no answer: unmatched without re-matching');

------------------------------------------------------------------ a waitlist turn: that mechanic first
SELECT tests.set_now(NULL);
SELECT tests.create_customer() AS c9 \gset
INSERT INTO app.waitlist_entries (customer_id, concern, plan_code, status, notified_at, notified_mechanic_id, turn_expires_at)
VALUES (:'c9', 'Noise', 'standard', 'notified', now(), :'m4', now() + interval '10 minutes');
SELECT tests.authenticate_as(:'c9', 'customer');
SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Noise',
                          p_is_advice_only => true) ->> 'id' AS s9 \gset
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT mechanic_id, priority, match_reasons -> 0 ->> 'criterion' FROM app.session_assignments
                           WHERE session_id = %L$$, :'s9'),
  format($$VALUES (%L::uuid, 'high', 'waitlist_turn')$$, :'m4'),
  'the mechanic whose coming on shift gave the customer their turn is offered first, alone');
SELECT tests.set_now(now() + interval '3 minutes');
SELECT api.expire_offers();
SELECT is((SELECT count(*)::int FROM app.session_assignments WHERE session_id = :'s9' AND status = 'offered'
             AND mechanic_id <> :'m4'), 3, 'unanswered: round 2 is ordinary matching');

------------------------------------------------------------------ deferred matching
SELECT tests.set_now('2031-01-07 15:00Z');   -- 10:00 in Toronto
SELECT tests.create_customer() AS c6 \gset
SELECT tests.create_customer() AS c7 \gset
SELECT tests.create_customer() AS c8 \gset
-- due now
SELECT tests.m_scheduled(:'c6', '2031-01-07 15:30Z') AS d1 \gset
-- same time: overlapping offers
SELECT tests.m_scheduled(:'c7', '2031-01-07 15:30Z') AS d2 \gset
UPDATE app.sessions SET matching_will_run_at = '2031-01-07 13:00Z' WHERE id = :'d2';   -- missed while down
-- already started: too late
SELECT tests.m_scheduled(:'c8', '2031-01-07 14:50Z') AS d3 \gset
-- not due yet
SELECT tests.m_scheduled(:'c8', '2031-01-07 17:00Z') AS d4 \gset
SELECT is(api.run_deferred_matching(), 2, 'the due session and the missed one are matched');
SELECT is(api.run_deferred_matching(), 0, 'running again matches nothing');
SELECT results_eq(format($$SELECT count(*)::int, min(expires_at) FROM app.session_assignments WHERE session_id = %L$$, :'d1'),
  $$VALUES (3, '2031-01-07 15:10Z'::timestamptz)$$, 'one set of three offers, open 10 minutes (scheduled)');
SELECT is_empty(format($$SELECT 1 FROM app.session_matching WHERE session_id IN (%L, %L)$$, :'d3', :'d4'),
  'a started session and one not yet due are left alone');
SELECT id AS od1 FROM app.session_assignments WHERE session_id = :'d1' AND mechanic_id = :'m1' \gset
SELECT id AS od2 FROM app.session_assignments WHERE session_id = :'d2' AND mechanic_id = :'m1' \gset
SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT is(api.accept_offer(:'od1') ->> 'status', 'accepted', 'M1 accepts the first scheduled offer');
SELECT throws_ok(format($$SELECT api.accept_offer(%L)$$, :'od2'), 'AD409', 'That time slot is not available',
  'accepting an overlapping offer is 409 slot_unavailable');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT mechanic_id, status FROM app.sessions WHERE id = %L$$, :'d1'),
  format($$VALUES (%L::uuid, 'scheduled')$$, :'m1'), 'a scheduled session keeps its status and gets the mechanic');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE session_id = :'d1' AND payload ->> 'template' = 'mechanic_assigned'), 1,
  'the customer gets the booking domain''s mechanic_assigned email');
SELECT id AS od2b FROM app.session_assignments WHERE session_id = :'d2' AND mechanic_id = :'m2' \gset
SELECT tests.set_now('2031-01-07 15:10Z');
SELECT tests.authenticate_as(:'m2', 'mechanic');
SELECT throws_ok(format($$SELECT api.accept_offer(%L)$$, :'od2b'), 'AD409', 'This offer has expired',
  'an offer past its expiry cannot be accepted, even before the job ran');
SELECT tests.clear_authentication();

------------------------------------------------------------------ grants and row-level security
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT results_eq('SELECT session_id FROM app.session_matching', format($$VALUES (%L::uuid)$$, :'s2'),
  'a customer sees only the matching of their own sessions');
SELECT throws_ok('SELECT * FROM app.mechanic_offer_stats', '42501', NULL, 'customers cannot read offer numbers');
SELECT throws_ok('SELECT * FROM app.matching_criteria', '42501', NULL, 'customers cannot read the weights');
SELECT throws_ok(format($$SELECT api.accept_offer(%L)$$, :'o1'), '42501', NULL, 'customers cannot accept offers');
SELECT throws_ok('SELECT api.expire_offers()', '42501', NULL, 'customers cannot run the expiry job');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'m3', 'mechanic');
SELECT results_eq('SELECT mechanic_id FROM app.mechanic_offer_stats', format($$VALUES (%L::uuid)$$, :'m3'),
  'a mechanic reads only their own offer numbers');
SELECT throws_ok('SELECT * FROM app.session_matching', '42501', NULL, 'mechanics cannot read matching records');
SELECT throws_ok($$UPDATE app.matching_criteria SET weight = 100 WHERE code = 'experience'$$, '42501', NULL,
  'mechanics cannot change the weights');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is(tests.rows_affected($$UPDATE app.matching_settings SET offer_ttl_immediate = '90 seconds'$$), 1,
  'an admin changes the settings');
SELECT ok((SELECT count(*) FROM app.session_matching) >= 6, 'an admin sees every matching record');
SELECT throws_ok($$SELECT api.set_matching_criterion('nope', 1)$$, 'AD404', 'Unknown matching criterion "nope"',
  'an unknown criterion is 404');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Matching that gives up refunds a paid scheduled booking in full (money policy tier unmatched),
-- exactly once: after the last round, when the start passes without a mechanic (matching never ran),
-- when the charge was still processing (later), with account credit spent on it; the
-- no_mechanic_found email carries the receipt; the no-show job leaves such a booking alone.
-- And the lifecycle's live events: one session.<status> event per status change, to both sides.
BEGIN;
SELECT plan(27);
SET LOCAL timezone = 'UTC';
SELECT tests.set_now('2031-01-07 15:00Z');

-- no mechanic on shift or free anywhere: matching finds nobody
------------------------------------------------------------------ matching gives up: refunded in full
SELECT tests.money_booking('2031-01-07 15:20Z', 'online', 'standard', p_mechanic => false) AS a \gset
UPDATE app.sessions SET matching_will_run_at = '2031-01-07 14:50Z' WHERE id = :'a';
SELECT customer_id AS ca FROM app.sessions WHERE id = :'a' \gset
SELECT is(api.run_deferred_matching(), 1, 'the due booking starts matching');
SELECT results_eq(format($$SELECT s.status, s.cancel_reason, m.status FROM app.sessions s
                           JOIN app.session_matching m ON m.session_id = s.id WHERE s.id = %L$$, :'a'),
  $$VALUES ('cancelled', 'expired', 'unmatched')$$, 'nobody to offer it to: unmatched, the booking is cancelled');
SELECT results_eq(format($$SELECT reason, tier, paid_cents, refund_cents, fee_cents, credit_cents, mechanic_cents, platform_cents
                           FROM app.session_cancellations WHERE session_id = %L$$, :'a'),
  $$VALUES ('unmatched', 'unmatched', 2900, 2900, 0, 0, 0, 0)$$, 'the unmatched tier: everything paid back, no fee');
SELECT results_eq(format($$SELECT r.amount_cents, r.reason FROM app.payment_refunds r JOIN app.scheduled_payments p ON p.id = r.payment_id
                           WHERE p.session_id = %L$$, :'a'),
  $$VALUES (2900, 'cancellation')$$, 'the card refund is asked for in full');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.refund' AND session_id = :'a'), 1,
  'through the refund path (one stripe.refund)');
SELECT results_eq(format($$SELECT audience, payload -> 'refund' ->> 'refund_cents', payload -> 'choices' ? 'waitlist'
                           FROM app.live_events WHERE kind = 'session.status' AND payload ->> 'status' = 'unmatched'
                             AND session_id = %L$$, :'a'),
  format($$VALUES (ARRAY[%L::uuid], '2900', true)$$, :'ca'), 'the customer sees unmatched with the refund and the choices');
SELECT results_eq(format($$SELECT template, recipient, method FROM tests.se_emails(%L) WHERE recipient = 'customer'
                             AND template IN ('no_mechanic_found', 'cancellation')$$, :'a'),
  $$VALUES ('no_mechanic_found', 'customer', 'CANCEL')$$,
  'one email: no_mechanic_found with the calendar CANCEL, not the plain cancellation');
SELECT results_eq(format($$SELECT (tests.as_sent(payload) -> 'context' -> 'cancellation' ->> 'refund_cents')::int,
                                  tests.as_sent(payload) -> 'context' ->> 'is_immediate', tests.as_sent(payload) -> 'context' -> 'choices' ? 'schedule'
                           FROM app.outbox WHERE session_id = %L AND payload ->> 'template' = 'no_mechanic_found'$$, :'a'),
  $$VALUES (2900, 'false', true)$$, 'the email carries the receipt and the choices');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE session_id = :'a' AND kind = 'session.status'
             AND payload ->> 'status' = 'cancelled'), 0, 'no second event for the cancellation from matching');

-- twice, late: nothing more
SELECT tests.set_now('2031-01-07 15:40Z');
SELECT api.run_deferred_matching();
SELECT api.run_deferred_matching();
SELECT results_eq(format($$SELECT (SELECT count(*)::int FROM app.session_cancellations WHERE session_id = %1$L),
                                  (SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.refund' AND session_id = %1$L),
                                  (SELECT count(*)::int FROM app.outbox WHERE session_id = %1$L AND payload ->> 'template' = 'no_mechanic_found'),
                                  (SELECT count(*)::int FROM app.live_events WHERE session_id = %1$L AND payload ->> 'status' = 'unmatched')$$, :'a'),
  $$VALUES (1, 1, 1, 1)$$, 'the job run twice and late: one receipt, one refund, one email, one event');

------------------------------------------------------------------ the start passed and matching never ran
SELECT tests.set_now('2031-01-08 09:00Z');
SELECT tests.money_booking('2031-01-08 10:00Z', 'online', 'standard', p_mechanic => false) AS b \gset
UPDATE app.sessions SET matching_will_run_at = '2031-01-08 09:30Z' WHERE id = :'b';
SELECT tests.set_now('2031-01-08 10:05Z');   -- the database was down from 09:25 to 10:05
SELECT is(api.run_deferred_matching(), 0, 'too late to match');
SELECT results_eq(format($$SELECT s.status, c.tier, c.refund_cents, m.status, m.round FROM app.sessions s
                           JOIN app.session_cancellations c ON c.session_id = s.id
                           JOIN app.session_matching m ON m.session_id = s.id WHERE s.id = %L$$, :'b'),
  $$VALUES ('cancelled', 'unmatched', 2900, 'unmatched', 0)$$,
  'the start passed without a mechanic: cancelled and refunded in full, recorded as unmatched');

------------------------------------------------------------------ the last round's offers expire at the start
SELECT tests.set_now('2031-01-09 15:00Z');
SELECT tests.m_mechanic('Only') AS only \gset
SELECT tests.money_booking('2031-01-09 16:00Z', 'online', 'standard', p_mechanic => false) AS c \gset
UPDATE app.sessions SET matching_will_run_at = '2031-01-09 15:55Z' WHERE id = :'c';
UPDATE app.matching_settings SET offer_ttl_scheduled = '1 hour';
SELECT tests.set_now('2031-01-09 15:55Z');
SELECT is(api.run_deferred_matching(), 1, 'matched 5 minutes before the start');
SELECT is((SELECT expires_at FROM app.session_assignments WHERE session_id = :'c'), '2031-01-09 16:00Z'::timestamptz,
  'its offer expires at the start');
SELECT tests.set_now('2031-01-09 16:00Z');
SELECT is(api.expire_offers(), 1, 'the offer expires at the start');
SELECT results_eq(format($$SELECT s.status, c.tier, m.status FROM app.sessions s JOIN app.session_cancellations c ON c.session_id = s.id
                           JOIN app.session_matching m ON m.session_id = s.id WHERE s.id = %L$$, :'c'),
  $$VALUES ('cancelled', 'unmatched', 'unmatched')$$, 'the start came with no mechanic: refunded in full');
UPDATE app.mechanics SET currently_on_shift = false, is_active = false WHERE user_id = :'only';

------------------------------------------------------------------ the charge still processing: later
SELECT tests.set_now('2031-01-10 09:00Z');
SELECT tests.money_booking('2031-01-10 10:00Z', 'online', 'standard', p_paid => false, p_mechanic => false) AS d \gset
UPDATE app.sessions SET matching_will_run_at = '2031-01-10 09:30Z' WHERE id = :'d';
SELECT tests.set_now('2031-01-10 09:30Z');
SELECT api.run_deferred_matching();
SELECT results_eq(format($$SELECT s.status, m.status FROM app.sessions s JOIN app.session_matching m ON m.session_id = s.id
                           WHERE s.id = %L$$, :'d'),
  $$VALUES ('scheduled', 'unmatched')$$, 'unmatched, but a charge is still processing: no cancellation yet');
SELECT tests.se_charge_done(id) FROM app.scheduled_payments WHERE session_id = :'d';
SELECT tests.set_now('2031-01-10 09:31Z');
SELECT api.run_deferred_matching();
SELECT results_eq(format($$SELECT s.status, c.refund_cents, (SELECT count(*)::int FROM app.live_events e
                             WHERE e.session_id = s.id AND e.payload ->> 'status' = 'unmatched')
                           FROM app.sessions s JOIN app.session_cancellations c ON c.session_id = s.id WHERE s.id = %L$$, :'d'),
  $$VALUES ('cancelled', 2900, 1)$$, 'the next run, once it succeeded: refunded in full (and told once)');

------------------------------------------------------------------ credit spent on it comes back as credit
SELECT tests.set_now('2031-01-11 09:00Z');
SELECT tests.money_booking('2031-01-11 10:00Z', 'online', 'standard', p_credit => 1000, p_mechanic => false) AS e \gset
UPDATE app.sessions SET matching_will_run_at = '2031-01-11 09:30Z' WHERE id = :'e';
SELECT customer_id AS ce FROM app.sessions WHERE id = :'e' \gset
SELECT tests.set_now('2031-01-11 09:30Z');
SELECT api.run_deferred_matching();
SELECT results_eq(format($$SELECT paid_cents, refund_cents, credit_cents, platform_cents FROM app.session_cancellations
                           WHERE session_id = %L$$, :'e'),
  $$VALUES (2900, 1900, 1000, 0)$$, 'paid $10 with credit and $19 by card: $19 back to the card, $10 back as credit');
SELECT is((SELECT credit_balance_cents FROM app.customers WHERE user_id = :'ce'), 1000, 'the credit balance is whole again');

------------------------------------------------------------------ the no-show job leaves it to matching
SELECT tests.set_now('2031-01-12 09:00Z');
SELECT tests.money_booking('2031-01-12 10:00Z', 'online', 'standard', p_paid => false, p_mechanic => false) AS f \gset
SELECT tests.set_now('2031-01-12 10:30Z');
SELECT is(api.mark_no_shows(), 0, 'a booking without a mechanic is no no-show');
SELECT is((SELECT status FROM app.sessions WHERE id = :'f'), 'scheduled', 'still scheduled (matching refunds it once paid)');

------------------------------------------------------------------ one live event per status change
SELECT tests.set_now('2031-01-13 09:00Z');
SELECT tests.money_booking('2031-01-15 10:00Z', 'online', 'standard') AS g \gset
SELECT customer_id AS cg, mechanic_id AS mg FROM app.sessions WHERE id = :'g' \gset
SELECT tests.authenticate_as(:'cg', 'customer');
SELECT api.cancel_session(:'g');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT kind, audience @> ARRAY[%L::uuid, %L::uuid] AND cardinality(audience) = 2,
                                  payload ->> 'from', payload ->> 'status', payload ->> 'cancel_reason', payload ->> 'is_immediate'
                           FROM app.live_events WHERE session_id = %L AND kind LIKE 'session.%%'$$, :'cg', :'mg', :'g'),
  $$VALUES ('session.cancelled', true, 'scheduled', 'cancelled', 'customer', 'false')$$,
  'a customer''s cancellation: one session.cancelled event to the customer and the mechanic');
-- an immediate request withdrawn while offered: one session.cancelled, no matching duplicate
SELECT tests.set_now(NULL);
SELECT tests.m_mechanic('Later') AS later \gset
SELECT tests.create_customer() AS ch \gset
SELECT tests.authenticate_as(:'ch', 'customer');
SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Noise',
                          p_is_advice_only => true) ->> 'id' AS h \gset
SELECT api.cancel_request(:'h');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT kind, payload ->> 'status' FROM app.live_events
                           WHERE session_id = %L AND audience @> ARRAY[%L::uuid] ORDER BY id$$, :'h', :'ch'),
  $$VALUES ('session.status', 'offered'), ('session.cancelled', 'cancelled')$$,
  'the customer: offered (matching), then cancelled (the status change), once');
-- every status change of this test has exactly one session.<status> event with the same from/to
SELECT set_eq($$SELECT session_id, from_status, to_status FROM app.session_events WHERE event_type = 'status_changed'$$,
  $$SELECT session_id, payload ->> 'from' AS from_status, payload ->> 'status' AS to_status FROM app.live_events
    WHERE kind LIKE 'session.%' AND kind NOT IN ('session.status', 'session.joined')$$,
  'every status change has its live event');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE kind LIKE 'session.%' AND kind NOT IN ('session.status', 'session.joined')),
  (SELECT count(*)::int FROM app.session_events WHERE event_type = 'status_changed'), 'and only one each');
SELECT ok((SELECT bool_and(kind = 'session.' || (payload ->> 'status')) FROM app.live_events
           WHERE kind LIKE 'session.%' AND kind NOT IN ('session.status', 'session.joined')),
  'the kind names the new status');

SELECT * FROM finish();
ROLLBACK;

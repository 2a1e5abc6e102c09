-- A hold that lapses or is given back while its charge is still pending gets its PaymentIntent
-- cancelled at Stripe (outbox kind stripe.cancel_intent), once; the worker's outcome fails the
-- payment, and a success that beat the cancel is refunded in full.
BEGIN;
SELECT plan(16);

CREATE TEMP TABLE t AS SELECT '2030-04-01 12:00:00+00'::timestamptz AS now_;
SELECT tests.create_customer() AS c \gset
SELECT tests.create_customer() AS c2 \gset
SELECT tests.create_independent_mechanic() AS m \gset

-- A hold whose charge has not even run yet lapses; the release job runs twice.
SELECT tests.hold(:'c', :'m', '2030-04-05 15:00:00+00', (SELECT now_ FROM t)) AS h \gset
SELECT id AS p FROM app.scheduled_payments WHERE session_id = :'h' \gset
SELECT tests.set_now((SELECT now_ + interval '11 minutes' FROM t));
SELECT api.release_expired_holds();
SELECT tests.set_now((SELECT now_ + interval '12 minutes' FROM t));
SELECT api.release_expired_holds();
SELECT results_eq(format($$SELECT idempotency_key, payload ->> 'payment_id', status FROM app.outbox
                            WHERE kind = 'stripe.cancel_intent' AND session_id = %L$$, :'h'),
  format($$VALUES ('cancel:%s:full'::text, %L::text, 'pending'::text)$$, :'h', :'p'),
  'a lapsed hold with a pending charge enqueues one intent cancel, also when the job runs twice');
SELECT is((SELECT id FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = :'h')
          < (SELECT id FROM app.outbox WHERE kind = 'stripe.cancel_intent' AND session_id = :'h'), true,
  'the charge row is queued before its cancel');
SELECT is((SELECT status FROM app.scheduled_payments WHERE id = :'p'), 'pending',
  'the payment stays pending until Stripe has cancelled the intent');
SELECT is_empty(format($$SELECT 1 FROM app.payment_refunds WHERE payment_id = %L$$, :'p'),
  'and nothing is refunded: nothing was charged');

-- The worker reads the intent when it claims the cancel: none before the charge row ran ...
SELECT is(app_private.outbox_context('stripe.cancel_intent', jsonb_build_object('payment_id', :'p')),
  jsonb_build_object('payment_intent_id', null, 'payment_status', 'pending'),
  'before the charge ran the cancel has no PaymentIntent yet (the effect retries later)');
-- ... the charge runs (no test card: the intent waits for the customer) ...
SELECT tests.se_charge_done(:'p', 'requires_payment_method', 'pi_open_1');
SELECT is(app_private.outbox_context('stripe.cancel_intent', jsonb_build_object('payment_id', :'p')),
  jsonb_build_object('payment_intent_id', 'pi_open_1', 'payment_status', 'pending'),
  'once the charge ran the cancel reads its PaymentIntent at claim time');
-- ... and Stripe cancels it.
SELECT ok(api.outbox_complete((SELECT id FROM app.outbox WHERE kind = 'stripe.cancel_intent' AND session_id = :'h'),
                              'test-worker', '{"status": "canceled", "payment_intent_id": "pi_open_1"}'),
  'the worker completes the cancel');
SELECT results_eq(format($$SELECT status, failure_message FROM app.scheduled_payments WHERE id = %L$$, :'p'),
  $$VALUES ('failed'::text, 'cancelled: hold released'::text)$$,
  'a cancelled intent fails its payment as cancelled');
SELECT results_eq(format($$SELECT status, cancel_reason FROM app.sessions WHERE id = %L$$, :'h'),
  $$VALUES ('cancelled'::text, 'expired'::text)$$, 'and the lapsed hold keeps its own cancel reason');

-- The customer confirmed the intent before the cancel ran: Stripe refuses, the worker reports the
-- success, and it is refunded in full, once (the webhook for the same success changes nothing).
SELECT tests.hold(:'c2', :'m', '2030-04-06 15:00:00+00', (SELECT now_ FROM t)) AS h2 \gset
SELECT id AS p2 FROM app.scheduled_payments WHERE session_id = :'h2' \gset
SELECT tests.se_charge_done(:'p2', 'requires_payment_method', 'pi_race_2');
SELECT tests.with_claims(:'c2', 'customer') AS old \gset
SELECT tests.set_now((SELECT now_ FROM t));
SELECT api.release_hold(:'h2');
SELECT tests.restore_claims(:'old');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.cancel_intent' AND session_id = :'h2'), 1,
  'a pending hold given back enqueues its intent cancel too');
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE kind = 'stripe.cancel_intent' AND session_id = :'h2'),
                           'test-worker', '{"status": "succeeded", "payment_intent_id": "pi_race_2"}');
SELECT api.stripe_apply_event(tests.se_event('evt_race_2', 'payment_intent.succeeded',
                                             '{"id": "pi_race_2", "object": "payment_intent"}'));
SELECT results_eq(format($$SELECT amount_cents, idempotency_key FROM app.payment_refunds WHERE payment_id = %L$$, :'p2'),
  format($$VALUES (2900, 'refund:%s:late_success:full'::text)$$, :'h2'),
  'a success that beat the cancel is refunded in full, once');
SELECT is((SELECT status FROM app.scheduled_payments WHERE id = :'p2'), 'succeeded',
  'the payment records the success (refunded once the refund settles)');

-- A success after the cancel was recorded (the payment is failed by then) is still refunded.
SELECT api.stripe_apply_event(tests.se_event('evt_late_1', 'payment_intent.succeeded',
                                             '{"id": "pi_open_1", "object": "payment_intent"}'));
SELECT is((SELECT sum(amount_cents)::int FROM app.payment_refunds WHERE payment_id = :'p'), 2900,
  'a success arriving after the cancel is refunded in full');

-- Nothing to cancel: a paid hold given back (refunded instead) ...
SELECT tests.hold(:'c', :'m', '2030-04-07 15:00:00+00', (SELECT now_ FROM t)) AS h3 \gset
SELECT id AS p3 FROM app.scheduled_payments WHERE session_id = :'h3' \gset
SELECT tests.se_charge_done(:'p3');
SELECT tests.with_claims(:'c', 'customer') AS old \gset
SELECT tests.set_now((SELECT now_ FROM t));
SELECT api.release_hold(:'h3');
SELECT tests.restore_claims(:'old');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE kind = 'stripe.cancel_intent' AND session_id = %L$$, :'h3'),
  'a succeeded payment gets no intent cancel (it is refunded)');

-- ... a declined hold (already failed; the decline itself cancelled the hold) ...
SELECT tests.hold(:'c2', :'m', '2030-04-08 15:00:00+00', (SELECT now_ FROM t)) AS h4 \gset
SELECT id AS p4 FROM app.scheduled_payments WHERE session_id = :'h4' \gset
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = :'h4'), 'test-worker',
  '{"declined": true, "status": "requires_payment_method", "payment_intent_id": "pi_declined_4", "error_message": "Your card was declined."}');
SELECT tests.set_now((SELECT now_ + interval '11 minutes' FROM t));
SELECT api.release_expired_holds();
SELECT results_eq(format($$SELECT (SELECT status FROM app.sessions WHERE id = %L),
                                  (SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.cancel_intent' AND session_id = %L)$$,
                         :'h4', :'h4'),
  $$VALUES ('cancelled'::text, 0)$$, 'an already-failed payment gets no intent cancel');

-- ... and a hold that became a booking keeps its intent.
SELECT tests.hold(:'c', :'m', '2030-04-09 15:00:00+00', (SELECT now_ FROM t)) AS h5 \gset
SELECT tests.with_claims(:'c', 'customer') AS old \gset
SELECT tests.set_now((SELECT now_ FROM t));
SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Noise', p_is_advice_only => true,
  p_scheduled_for => '2030-04-09 15:00:00+00', p_hold_id => :'h5');
SELECT tests.restore_claims(:'old');
SELECT tests.set_now((SELECT now_ + interval '11 minutes' FROM t));
SELECT api.release_expired_holds();
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE kind = 'stripe.cancel_intent' AND session_id = %L$$, :'h5'),
  'a converted hold with a pending charge gets no intent cancel');

SELECT * FROM finish();
ROLLBACK;

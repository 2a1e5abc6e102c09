-- Stripe webhook events: applied once by event id, matched before the worker's write-back, and
-- never moving a payment backwards when they arrive out of order.
BEGIN;
SELECT plan(24);

SELECT tests.se_booking(now() + interval '3 days') AS s1 \gset
SELECT id AS p1 FROM app.scheduled_payments WHERE session_id = :'s1' \gset

-- The webhook beats the worker's write-back: matched by the payment_id in the metadata.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is(api.stripe_apply_event(tests.se_event('evt_1', 'payment_intent.succeeded',
            jsonb_build_object('id', 'pi_s1', 'object', 'payment_intent', 'status', 'succeeded',
                               'metadata', jsonb_build_object('payment_id', :'p1')))) ->> 'outcome',
  'payment_succeeded', 'payment_intent.succeeded marks the payment succeeded');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT status, payment_intent_id FROM app.scheduled_payments WHERE id = %L$$, :'p1'),
  $$VALUES ('succeeded'::text, 'pi_s1'::text)$$, 'and links the PaymentIntent the worker has not written back yet');

-- Replayed three times: recorded once, nothing changes again.
SELECT is(api.stripe_apply_event(tests.se_event('evt_1', 'payment_intent.succeeded', '{"id": "pi_s1"}')) ->> 'duplicate',
  'true', 'replay 1 is a duplicate');
SELECT is(api.stripe_apply_event(tests.se_event('evt_1', 'payment_intent.succeeded', '{"id": "pi_s1"}')) ->> 'duplicate',
  'true', 'replay 2 is a duplicate');
SELECT is(api.stripe_apply_event(tests.se_event('evt_1', 'payment_intent.payment_failed', '{"id": "pi_s1"}')) ->> 'outcome',
  'payment_succeeded', 'replay 3 (even with another body) is the first outcome, unchanged');
SELECT is((SELECT count(*)::int FROM app.stripe_events WHERE id = 'evt_1'), 1, 'the event is recorded once');

-- The worker's write-back after the webhook: same PaymentIntent, nothing changes.
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE idempotency_key = 'charge:' || :'s1' || ':full'), 'w1',
  '{"payment_intent_id": "pi_s1", "client_secret": "pi_s1_secret", "status": "succeeded"}');
SELECT results_eq(format($$SELECT status, payment_intent_id, client_secret FROM app.scheduled_payments WHERE id = %L$$, :'p1'),
  $$VALUES ('succeeded'::text, 'pi_s1'::text, 'pi_s1_secret'::text)$$, 'the later write-back only adds the client secret');

-- Out of order: a failure event after the success does not undo it (nor cancel the booking).
SELECT is(api.stripe_apply_event(tests.se_event('evt_2', 'payment_intent.payment_failed',
            '{"id": "pi_s1", "last_payment_error": {"message": "declined"}}')) ->> 'outcome',
  'no_change', 'a late payment_failed after success changes nothing');
SELECT is((SELECT status FROM app.sessions WHERE id = :'s1'), 'scheduled', 'the booking stands');

-- charge.refunded settles our refund by its Stripe id.
SELECT app_private.payment_request_refund(:'p1', 2900, 'cancellation', 'tier_24h') AS r1 \gset
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE payload ->> 'refund_id' = :'r1'), 'w1',
  '{"refund_id": "re_s1", "status": "pending"}');
SELECT is((SELECT status FROM app.payment_refunds WHERE id = :'r1'), 'requested', 'a pending Stripe refund stays requested');
SELECT is(api.stripe_apply_event(tests.se_event('evt_3', 'charge.refunded',
            '{"id": "ch_s1", "object": "charge", "payment_intent": "pi_s1", "amount": 2900, "amount_refunded": 2900,
              "refunds": {"data": [{"id": "re_s1", "amount": 2900, "status": "succeeded"}]}}')) ->> 'outcome',
  'refund_recorded', 'charge.refunded is applied');
SELECT results_eq(format($$SELECT r.status, p.status FROM app.payment_refunds r JOIN app.scheduled_payments p ON p.id = r.payment_id WHERE r.id = %L$$, :'r1'),
  $$VALUES ('succeeded'::text, 'refunded'::text)$$, 'the refund succeeded and the payment is refunded');
SELECT is(api.stripe_apply_event(tests.se_event('evt_4', 'payment_intent.succeeded', '{"id": "pi_s1"}')) ->> 'outcome',
  'no_change', 'a succeeded event arriving after the refund does not move the payment back');

-- Out of order the other way: the refund event first, the success event later.
SELECT tests.se_booking(now() + interval '4 days') AS s2 \gset
SELECT id AS p2 FROM app.scheduled_payments WHERE session_id = :'s2' \gset
SELECT tests.se_charge_done(:'p2', 'requires_confirmation', 'pi_s2');
SELECT is(api.stripe_apply_event(tests.se_event('evt_5', 'charge.refunded',
            '{"id": "ch_s2", "payment_intent": "pi_s2", "amount": 2900, "amount_refunded": 2900,
              "refunds": {"data": [{"id": "re_dash", "amount": 2900, "status": "succeeded"}]}}')) ->> 'outcome',
  'refund_recorded', 'a refund made outside the system (dashboard) is recorded');
SELECT results_eq(format($$SELECT reason, amount_cents, status FROM app.payment_refunds WHERE payment_id = %L$$, :'p2'),
  $$VALUES ('external'::text, 2900, 'succeeded'::text)$$, 'as an external ledger row, so the ledger matches Stripe');
SELECT is(api.stripe_apply_event(tests.se_event('evt_6', 'payment_intent.succeeded', '{"id": "pi_s2"}')) ->> 'outcome',
  'no_change', 'the success arriving after the refund changes nothing');
SELECT is((SELECT status FROM app.scheduled_payments WHERE id = :'p2'), 'refunded', 'the payment stays refunded');

-- payment_failed on a pending payment cancels the booking; a late success is refunded in full.
SELECT tests.se_booking(now() + interval '5 days') AS s3 \gset
SELECT id AS p3 FROM app.scheduled_payments WHERE session_id = :'s3' \gset
SELECT tests.se_charge_done(:'p3', 'requires_confirmation', 'pi_s3');
SELECT is(api.stripe_apply_event(tests.se_event('evt_7', 'payment_intent.payment_failed',
            '{"id": "pi_s3", "last_payment_error": {"message": "Your card was declined."}}')) ->> 'outcome',
  'payment_failed', 'payment_failed is applied');
SELECT results_eq(format($$SELECT status, cancel_reason FROM app.sessions WHERE id = %L$$, :'s3'),
  $$VALUES ('cancelled'::text, 'payment_failed'::text)$$, 'the booking is cancelled for the failed payment');
SELECT is(api.stripe_apply_event(tests.se_event('evt_8', 'payment_intent.succeeded', '{"id": "pi_s3"}')) ->> 'outcome',
  'payment_succeeded', 'the customer retried and the PaymentIntent succeeded after all');
SELECT results_eq(format($$SELECT amount_cents, reason, idempotency_key FROM app.payment_refunds WHERE payment_id = %L$$, :'p3'),
  format($$VALUES (2900, 'booking_cancelled'::text, 'refund:%s:late_success:full'::text)$$, :'s3'),
  'money taken for a booking already cancelled is refunded in full');

-- Other events are recorded and ignored; unknown PaymentIntents change nothing.
SELECT is(api.stripe_apply_event(tests.se_event('evt_9', 'customer.created', '{"id": "cus_1"}')) ->> 'outcome',
  'ignored', 'an unhandled type is recorded and ignored');
SELECT is(api.stripe_apply_event(tests.se_event('evt_10', 'payment_intent.succeeded', '{"id": "pi_unknown"}')) ->> 'outcome',
  'unknown_payment', 'an unknown PaymentIntent changes nothing');

SELECT tests.authenticate_as(tests.se_customer(), 'customer');
SELECT throws_ok($$SELECT api.stripe_apply_event(tests.se_event('evt_x', 'payment_intent.succeeded', '{"id": "pi_s1"}'))$$,
  '42501', NULL, 'only the worker role (the verified webhook endpoint) may apply events');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

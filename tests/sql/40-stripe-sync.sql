-- Lost webhooks: the job that asks Stripe about payments and refunds still pending past a
-- threshold, the lookup's claim-time facts, and its result applied through api.stripe_apply_event
-- (as the webhook would have been), idempotently. Who may run it.
BEGIN;
SELECT plan(17);

SELECT tests.set_now(NULL);
SELECT tests.se_booking(now() + interval '3 days') AS s1 \gset
SELECT id AS p1 FROM app.scheduled_payments WHERE session_id = :'s1' \gset
-- The customer confirms in the browser: the charge row only created the intent (status pending).
SELECT tests.se_charge_done(:'p1', 'requires_payment_method', 'pi_sync1');
SELECT is((SELECT status FROM app.scheduled_payments WHERE id = :'p1'), 'pending', 'the payment waits for its webhook');

SELECT is(api.stripe_sync_pending('15 minutes'), 0, 'nothing is asked about before the threshold');
SELECT tests.set_now(now() + interval '16 minutes');
SELECT is(api.stripe_sync_pending('15 minutes'), 1, 'a payment pending past the threshold gets a lookup');
SELECT is(api.stripe_sync_pending('15 minutes'), 0, 'running the job again (a lookup in flight) enqueues nothing');
SELECT results_eq($$SELECT kind, payload ->> 'payment_id', session_id FROM app.outbox WHERE kind = 'stripe.sync'$$,
  format($$VALUES ('stripe.sync'::text, %L::text, %L::uuid)$$, :'p1', :'s1'), 'one stripe.sync row for that payment');

-- The worker claims it: the facts to look up are read then.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT results_eq($$SELECT payload ->> 'payment_intent_id', payload ->> 'payment_status', skip_reason
                      FROM api.outbox_claim('w-sync', 10, 60, ARRAY['stripe'])$$,
  $$VALUES ('pi_sync1'::text, 'pending'::text, NULL::text)$$, 'the claim carries the intent to retrieve');
SELECT id AS o1 FROM app.outbox WHERE kind = 'stripe.sync' \gset
-- Stripe says succeeded: applied as payment_intent.succeeded.
SELECT ok(api.outbox_complete(:o1, 'w-sync', jsonb_build_object('payment_intent',
            jsonb_build_object('id', 'pi_sync1', 'object', 'payment_intent', 'status', 'succeeded',
                               'metadata', jsonb_build_object('payment_id', :'p1')), 'charge', NULL)),
  'the lookup completes');
SELECT tests.clear_authentication();
SELECT is((SELECT status FROM app.scheduled_payments WHERE id = :'p1'), 'succeeded', 'the payment is settled');
SELECT results_eq($$SELECT id, type, outcome FROM app.stripe_events WHERE id LIKE 'sync:%'$$,
  format($$VALUES (%L::text, 'payment_intent.succeeded'::text, 'payment_succeeded'::text)$$, 'sync:' || :o1 || ':payment_intent'),
  'through the webhook''s function, recorded as a synthetic event');
-- The real webhook arrives late: nothing changes twice.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is(api.stripe_apply_event(tests.se_event('evt_late', 'payment_intent.succeeded',
            jsonb_build_object('id', 'pi_sync1', 'status', 'succeeded'))) ->> 'outcome', 'no_change',
  'the late webhook changes nothing');
SELECT tests.clear_authentication();

-- Settled meanwhile: the next lookup is skipped at claim; a settled payment is not asked about again.
SELECT tests.set_now(app_private.now() + interval '24 minutes');
SELECT is(api.stripe_sync_pending('15 minutes'), 0, 'a settled payment is not asked about');
SELECT app_private.outbox_enqueue('stripe.sync', 'sync:manual', jsonb_build_object('payment_id', :'p1', 'session_id', :'s1'),
                                  :'s1'::uuid);
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is((SELECT skip_reason FROM api.outbox_claim('w-sync', 10, 60, ARRAY['stripe'])), 'settled',
  'a lookup of a payment settled meanwhile is skipped');
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE idempotency_key = 'sync:manual'), 'w-sync',
                           '{"status": "skipped", "reason": "settled"}');
SELECT tests.clear_authentication();

-- A refund still requested after its Stripe call: the charge with its refunds settles it.
SELECT app_private.payment_request_refund(:'p1', 500, 'cancellation', 'sync_test') AS r1 \gset
UPDATE app.payment_refunds SET stripe_refund_id = 're_sync1' WHERE id = :'r1';
SELECT is(api.stripe_sync_pending('15 minutes'), 0, 'a refund just requested is not asked about yet');
SELECT tests.set_now(app_private.now() + interval '20 minutes');
SELECT is(api.stripe_sync_pending('15 minutes'), 1, 'one still requested past the threshold is');
SELECT tests.authenticate_as(NULL, 'worker');
SELECT id AS o2 FROM api.outbox_claim('w-sync', 10, 60, ARRAY['stripe']) WHERE payload -> 'requested_refunds' ? 're_sync1' \gset
SELECT api.outbox_complete(:o2, 'w-sync', jsonb_build_object('payment_intent', NULL, 'charge',
  jsonb_build_object('id', 'ch_sync1', 'object', 'charge', 'payment_intent', 'pi_sync1', 'amount_refunded', 500,
                     'refunds', jsonb_build_object('data', jsonb_build_array(
                       jsonb_build_object('id', 're_sync1', 'status', 'succeeded', 'amount', 500))))));
SELECT tests.clear_authentication();
SELECT is((SELECT status FROM app.payment_refunds WHERE id = :'r1'), 'succeeded', 'the refund is settled like charge.refunded');

-- Who may run the job: the owner (pg_cron) and admins; no other role.
SELECT tests.authenticate_as(tests.create_user('customer'), 'customer');
SELECT throws_ok($$SELECT api.stripe_sync_pending()$$, '42501', NULL, 'a customer cannot run the job');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(tests.create_user('admin'), 'admin');
SELECT lives_ok($$SELECT api.stripe_sync_pending()$$, 'an admin can');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Payments: what a booking charges, write-back of the worker's result, a declined charge cancelling
-- the booking and freeing the slot, refunds that can never exceed the charge.
BEGIN;
SELECT plan(32);

-- Scheduled online: the full plan price at booking, with its outbox row, keyed by purpose.
SELECT tests.se_booking(now() + interval '3 days', 'online', 'extended') AS online \gset
SELECT results_eq(format($$SELECT payment_type, amount_cents, status, idempotency_key FROM app.scheduled_payments WHERE session_id = %L$$, :'online'),
  format($$VALUES ('full'::text, 4900, 'pending'::text, 'charge:%s:full'::text)$$, :'online'),
  'an online booking charges the full plan price');
SELECT results_eq(format($$SELECT kind, idempotency_key, (payload ->> 'amount_cents')::int FROM app.outbox WHERE kind LIKE 'stripe.%%' AND session_id = %L$$, :'online'),
  format($$VALUES ('stripe.charge'::text, 'charge:%s:full'::text, 4900)$$, :'online'),
  'the charge is an outbox row with the same key, written in the booking transaction');
SELECT is(app_private.session_booking_charge(:'online'), (SELECT id FROM app.scheduled_payments WHERE session_id = :'online'),
  'asking for the booking charge again returns the same payment');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = :'online'), 1, 'and enqueues nothing new');

-- In person: the deposit now, the balance after the service.
SELECT tests.se_booking(now() + interval '4 days', 'in_person', 'premium') AS inperson \gset
SELECT results_eq(format($$SELECT payment_type, amount_cents FROM app.scheduled_payments WHERE session_id = %L$$, :'inperson'),
  $$VALUES ('deposit'::text, 1500)$$, 'an in-person booking charges the $15 deposit');
UPDATE app.sessions SET status = 'pending' WHERE id = :'inperson';
UPDATE app.sessions SET status = 'active' WHERE id = :'inperson';
UPDATE app.sessions SET status = 'completed' WHERE id = :'inperson';
SELECT results_eq(format($$SELECT payment_type, amount_cents FROM app.scheduled_payments WHERE session_id = %L ORDER BY created_at, payment_type$$, :'inperson'),
  $$VALUES ('balance'::text, 8400), ('deposit'::text, 1500)$$, 'completing it charges the balance: price - deposit');

-- A slot hold gets its PaymentIntent at once; converting it into the booking adds nothing.
SELECT tests.se_customer() AS hc \gset
SELECT tests.se_mechanic() AS hm \gset
SELECT tests.se_session(:'hc', :'hm', now() + interval '5 days', 'online', 'held') AS hold \gset
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id = :'hold'), 1, 'a hold has its one charge');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE kind = 'email.send' AND session_id = %L$$, :'hold'),
  'a hold sends no email');
UPDATE app.sessions SET status = 'scheduled', type = 'video', concern = 'Noise', concern_category = 'diagnostic',
                        hold_expires_at = NULL WHERE id = :'hold';
SELECT tests.fan_out(:'hold');  -- the worker's part of the booking (its session.booked event)
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id = :'hold'), 1, 'the booking keeps the same single charge');
SELECT isnt_empty(format($$SELECT 1 FROM app.outbox WHERE kind = 'email.send' AND session_id = %L$$, :'hold'),
  'the booking (not the hold) sends the confirmation');

-- The worker's write-back: PaymentIntent, client secret, success.
SELECT id AS pay FROM app.scheduled_payments WHERE session_id = :'online' \gset
SELECT tests.authenticate_as(NULL, 'worker');
SELECT ok(api.outbox_complete((SELECT id FROM app.outbox WHERE idempotency_key = 'charge:' || :'online' || ':full'), 'w1',
  '{"payment_intent_id": "pi_online", "client_secret": "pi_online_secret", "status": "succeeded"}'), 'the worker writes the charge back');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT status, payment_intent_id, client_secret, charged_at IS NOT NULL FROM app.scheduled_payments WHERE id = %L$$, :'pay'),
  $$VALUES ('succeeded'::text, 'pi_online'::text, 'pi_online_secret'::text, true)$$, 'the payment succeeded with its PaymentIntent');

SELECT tests.se_customer() AS other \gset
SELECT tests.authenticate_as(:'hc', 'customer');
SELECT is((SELECT count(*)::int FROM api.session_payments(:'hold')), 1, 'the customer sees their payment (and its client secret)');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'other', 'customer');
SELECT throws_ok(format($$SELECT * FROM api.session_payments(%L)$$, :'hold'), 'AD404', NULL,
  'another customer sees nothing: not found');
SELECT throws_ok($$UPDATE app.scheduled_payments SET status = 'refunded'$$, '42501', NULL, 'a customer cannot write payments');
SELECT tests.clear_authentication();

-- A declined charge: payment failed, booking cancelled (payment_failed), slot free again.
SELECT tests.se_customer() AS dc \gset
SELECT tests.se_mechanic() AS dm \gset
SELECT tests.se_session(:'dc', :'dm', date_trunc('hour', now()) + interval '6 days', 'online') AS declined \gset
SELECT id AS dpay FROM app.scheduled_payments WHERE session_id = :'declined' \gset
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE idempotency_key = 'charge:' || :'declined' || ':full'), 'w1',
  '{"declined": true, "status": "requires_payment_method", "error_message": "Your card was declined."}');
SELECT results_eq(format($$SELECT status, failure_message FROM app.scheduled_payments WHERE id = %L$$, :'dpay'),
  $$VALUES ('failed'::text, 'Your card was declined.'::text)$$, 'a declined card fails the payment');
SELECT results_eq(format($$SELECT status, cancel_reason FROM app.sessions WHERE id = %L$$, :'declined'),
  $$VALUES ('cancelled'::text, 'payment_failed'::text)$$, 'and cancels the booking with reason payment_failed');
SELECT isnt_empty(format($$SELECT 1 FROM app.session_events WHERE session_id = %L AND to_status = 'cancelled'$$, :'declined'),
  'the cancellation is in the audit log');
SELECT lives_ok(format($$SELECT tests.se_session(tests.se_customer(), %L, date_trunc('hour', now()) + interval '6 days')$$, :'dm'),
  'the slot is free for someone else');

-- Refunds: idempotent per purpose, never more than charged.
SELECT app_private.payment_request_refund(:'pay', 1000, 'cancellation', 'tier_2_24h') AS r1 \gset
SELECT is(app_private.payment_request_refund(:'pay', 1000, 'cancellation', 'tier_2_24h'), :'r1'::uuid,
  'the same refund purpose twice is one refund');
SELECT results_eq(format($$SELECT refund_amount_cents FROM app.scheduled_payments WHERE id = %L$$, :'pay'),
  $$VALUES (1000)$$, 'the payment tracks the refunded amount');
SELECT is((SELECT idempotency_key FROM app.outbox WHERE kind = 'stripe.refund' AND payload ->> 'refund_id' = :'r1'),
  'refund:' || :'online' || ':tier_2_24h', 'the refund is an outbox row keyed by its purpose');
SELECT throws_ok(format($$SELECT app_private.payment_request_refund(%L, 3901, 'x', 'too_much')$$, :'pay'), 'AD409', NULL,
  'a refund beyond what is left of the charge is refused (409 refund_exceeds_charge)');
SELECT throws_ok(format($$INSERT INTO app.payment_refunds (payment_id, amount_cents, reason, idempotency_key) VALUES (%L, 3901, 'x', 'direct')$$, :'pay'),
  '23514', NULL, 'even a direct insert into the ledger cannot exceed the charge (database constraint)');
SELECT throws_ok(format($$SELECT app_private.payment_request_refund(%L, 100, 'x', 'failed_one')$$, :'dpay'), 'AD409', NULL,
  'a failed payment cannot be refunded');

-- The worker's refund write-back settles the ledger; refunding the rest marks the payment refunded.
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE payload ->> 'refund_id' = :'r1'), 'w1',
  '{"refund_id": "re_1", "status": "succeeded"}');
SELECT results_eq(format($$SELECT status, stripe_refund_id FROM app.payment_refunds WHERE id = %L$$, :'r1'),
  $$VALUES ('succeeded'::text, 're_1'::text)$$, 'the refund is recorded as succeeded');
SELECT app_private.payment_request_refund(:'pay', 3900, 'cancellation', 'rest') AS r2 \gset
SELECT api.outbox_complete((SELECT id FROM app.outbox WHERE payload ->> 'refund_id' = :'r2'), 'w1',
  '{"refund_id": "re_2", "status": "succeeded"}');
SELECT results_eq(format($$SELECT status, refund_amount_cents, refunded_at IS NOT NULL FROM app.scheduled_payments WHERE id = %L$$, :'pay'),
  $$VALUES ('refunded'::text, 4900, true)$$, 'fully refunded');

SELECT tests.authenticate_as(:'hc', 'customer');
SELECT throws_ok(format($$SELECT api.request_refund(%L, 100, 'x')$$, :'pay'), '42501', NULL, 'a customer cannot issue refunds');
SELECT tests.clear_authentication();


------------------------------------------------------------------ the money trigger's WHEN clause
-- sessions_90_40_money calls its function only for a hold, a cancellation or a completion
-- (counted by the transaction's function statistics)
SET LOCAL track_functions = 'all';
CREATE FUNCTION pg_temp.money_calls() RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(pg_stat_get_xact_function_calls('app_private.sessions_money_effects'::regproc), 0)
$$;
SELECT pg_temp.money_calls() AS mc0 \gset
SELECT tests.se_booking(now() + interval '6 days', 'online', 'standard') AS when_booking \gset
SELECT is(pg_temp.money_calls(), :mc0::bigint, 'a booking (inserted as scheduled) does not call the money trigger');
SELECT tests.se_customer() AS wc \gset
SELECT tests.se_mechanic() AS wm \gset
SELECT tests.se_session(:'wc', :'wm', now() + interval '7 days', 'online', 'held') AS when_hold \gset
SELECT is(pg_temp.money_calls(), :mc0 + 1::bigint, 'a hold does (its charge)');
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id = :'when_hold'), 1, 'and the hold has its charge');
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'when_hold';
SELECT is(pg_temp.money_calls(), :mc0 + 2::bigint, 'so does the hold given back (its refund or cancelled intent)');

SELECT * FROM finish();
ROLLBACK;

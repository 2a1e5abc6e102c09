-- Money for holds that never become bookings: a hold's charge is refunded in full when the hold
-- lapses or is given back, once, also when the release job runs twice or the payment succeeds late.
BEGIN;
SELECT plan(7);

CREATE TEMP TABLE t AS SELECT '2030-03-01 12:00:00+00'::timestamptz AS now_;
SELECT tests.create_customer() AS c \gset
SELECT tests.create_customer() AS c2 \gset
SELECT tests.create_independent_mechanic() AS m \gset

-- A paid hold that the customer gives back.
SELECT tests.hold(:'c', :'m', '2030-03-05 15:00:00+00', (SELECT now_ FROM t)) AS h \gset
SELECT id AS p FROM app.scheduled_payments WHERE session_id = :'h' \gset
SELECT tests.se_charge_done(:'p');
SELECT tests.with_claims(:'c', 'customer') AS old \gset
SELECT tests.set_now((SELECT now_ FROM t));
SELECT api.release_hold(:'h');
SELECT tests.restore_claims(:'old');
SELECT results_eq(format($$SELECT amount_cents, reason, idempotency_key FROM app.payment_refunds WHERE payment_id = %L$$, :'p'),
  format($$VALUES (2900, 'hold_released'::text, 'refund:%s:hold_released:full'::text)$$, :'h'),
  'a paid hold given back is refunded in full, with a stable key');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.refund' AND session_id = :'h'), 1,
  'and the refund is enqueued for the worker once');

-- A paid hold that lapses: the release job refunds it, and running the job again changes nothing.
SELECT tests.hold(:'c2', :'m', '2030-03-06 15:00:00+00', (SELECT now_ FROM t)) AS h2 \gset
SELECT id AS p2 FROM app.scheduled_payments WHERE session_id = :'h2' \gset
SELECT tests.se_charge_done(:'p2');
SELECT tests.set_now((SELECT now_ + interval '11 minutes' FROM t));
SELECT api.release_expired_holds();
SELECT tests.set_now((SELECT now_ + interval '12 minutes' FROM t));
SELECT api.release_expired_holds();
SELECT is((SELECT sum(amount_cents)::int FROM app.payment_refunds WHERE payment_id = :'p2'), 2900,
  'a lapsed paid hold is refunded in full, once, however often the job runs');

-- A hold whose payment is still pending when it lapses: nothing to refund yet ...
SELECT tests.hold(:'c', :'m', '2030-03-07 15:00:00+00', (SELECT now_ FROM t)) AS h3 \gset
SELECT id AS p3 FROM app.scheduled_payments WHERE session_id = :'h3' \gset
SELECT tests.set_now((SELECT now_ + interval '11 minutes' FROM t));
SELECT api.release_expired_holds();
SELECT is_empty(format($$SELECT 1 FROM app.payment_refunds WHERE payment_id = %L$$, :'p3'),
  'a lapsed hold with a pending payment requests no refund');
-- ... and when the payment then succeeds after all, it is refunded in full.
SELECT tests.se_charge_done(:'p3');
SELECT is((SELECT sum(amount_cents)::int FROM app.payment_refunds WHERE payment_id = :'p3'), 2900,
  'a payment that succeeds after its hold lapsed is refunded in full');

-- A hold that became a booking keeps its money when the hold row turns into the appointment.
SELECT tests.hold(:'c2', :'m', '2030-03-08 15:00:00+00', (SELECT now_ FROM t)) AS h4 \gset
SELECT id AS p4 FROM app.scheduled_payments WHERE session_id = :'h4' \gset
SELECT tests.se_charge_done(:'p4');
SELECT tests.with_claims(:'c2', 'customer') AS old \gset
SELECT tests.set_now((SELECT now_ FROM t));
SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Noise', p_is_advice_only => true,
  p_scheduled_for => '2030-03-08 15:00:00+00', p_hold_id => :'h4');
SELECT tests.restore_claims(:'old');
SELECT tests.set_now((SELECT now_ + interval '11 minutes' FROM t));
SELECT api.release_expired_holds();
SELECT is_empty(format($$SELECT 1 FROM app.payment_refunds WHERE payment_id = %L$$, :'p4'),
  'a converted hold is not refunded by the release job');
SELECT is((SELECT status FROM app.sessions WHERE id = :'h4'), 'scheduled', 'and stays booked');

SELECT * FROM finish();
ROLLBACK;

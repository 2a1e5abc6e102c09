-- Cancellation under the booking's policy: each tier at its boundaries (exactly, one second either
-- side, a DST day), the amounts, the version a booking keeps, double cancel, who may cancel.
BEGIN;
SELECT plan(52);
SELECT tests.set_now('2031-01-05 12:00+00');

-- One online and one in-person booking, both paid, starting 2031-01-10 15:00 UTC.
SELECT tests.money_booking('2031-01-10 15:00+00', 'online', 'standard') AS online \gset
SELECT tests.money_booking('2031-01-10 15:00+00', 'in_person', 'premium') AS inperson \gset

------------------------------------------------------------------ online tiers at their boundaries
SELECT is(tests.money_quote(:'online', '2031-01-09 15:00:00+00') ->> 'tier', 'ge_24h', 'online: exactly 24 h before is the >= 24 h tier');
SELECT is(tests.money_quote(:'online', '2031-01-09 14:59:59+00') ->> 'tier', 'ge_24h', 'online: 24 h + 1 s before is >= 24 h');
SELECT is(tests.money_quote(:'online', '2031-01-09 15:00:01+00') ->> 'tier', '2h_24h', 'online: 24 h - 1 s before is 2-24 h');
SELECT is(tests.money_quote(:'online', '2031-01-10 13:00:00+00') ->> 'tier', '2h_24h', 'online: exactly 2 h before is 2-24 h');
SELECT is(tests.money_quote(:'online', '2031-01-10 12:59:59+00') ->> 'tier', '2h_24h', 'online: 2 h + 1 s before is 2-24 h');
SELECT is(tests.money_quote(:'online', '2031-01-10 13:00:01+00') ->> 'tier', 'lt_2h', 'online: 2 h - 1 s before is < 2 h');
SELECT is(tests.money_quote(:'online', '2031-01-10 15:30:00+00') ->> 'tier', 'lt_2h', 'online: after the start (not yet a no-show) is < 2 h');

SELECT results_eq(format($$SELECT (q->>'paid_cents')::int, (q->>'refund_cents')::int, (q->>'fee_cents')::int, (q->>'credit_cents')::int,
                                  (q->>'mechanic_cents')::int, (q->>'platform_cents')::int
                             FROM tests.money_quote(%L, '2031-01-08 12:00+00') q$$, :'online'),
  $$VALUES (2900, 2400, 500, 0, 0, 500)$$, 'online >= 24 h: full refund minus the $5 fee, which the platform keeps');
SELECT results_eq(format($$SELECT (q->>'refund_cents')::int, (q->>'fee_cents')::int, (q->>'credit_cents')::int,
                                  (q->>'mechanic_cents')::int, (q->>'platform_cents')::int
                             FROM tests.money_quote(%L, '2031-01-10 03:00+00') q$$, :'online'),
  $$VALUES (2175, 0, 0, 725, 0)$$, 'online 2-24 h: 75% refund, 25% to the mechanic');
SELECT results_eq(format($$SELECT (q->>'refund_cents')::int, (q->>'credit_cents')::int, (q->>'mechanic_cents')::int, (q->>'platform_cents')::int
                             FROM tests.money_quote(%L, '2031-01-10 14:00+00') q$$, :'online'),
  $$VALUES (0, 1450, 1450, 0)$$, 'online < 2 h: no refund, 50% credit, 50% to the mechanic');
SELECT results_eq(format($$SELECT (q->>'refund_cents')::int, (q->>'credit_cents')::int, (q->>'mechanic_cents')::int, q->>'tier'
                             FROM tests.money_quote(%L, '2031-01-10 15:20+00', 'no_show') q$$, :'online'),
  $$VALUES (0, 1450, 1450, 'no_show'::text)$$, 'online no-show: 50% credit, 50% mechanic');
SELECT is(tests.money_quote(:'online', '2031-01-08 12:00+00', 'missing_waiver') ->> 'tier', 'missing_waiver',
  'a missing waiver has its own tier whatever the lead time');

------------------------------------------------------------------ in person (the deposit)
SELECT is((SELECT amount_cents FROM app.scheduled_payments WHERE session_id = :'inperson'), 1500,
  'in person: the deposit comes from the policy version ($15)');
SELECT is(tests.money_quote(:'inperson', '2031-01-09 15:00:00+00') ->> 'tier', 'ge_24h', 'in person: exactly 24 h before is >= 24 h');
SELECT is(tests.money_quote(:'inperson', '2031-01-09 15:00:01+00') ->> 'tier', 'lt_24h', 'in person: 24 h - 1 s before is < 24 h');
SELECT results_eq(format($$SELECT (q->>'refund_cents')::int, (q->>'mechanic_cents')::int FROM tests.money_quote(%L, '2031-01-09 14:59:59+00') q$$, :'inperson'),
  $$VALUES (1500, 0)$$, 'in person >= 24 h: the deposit is refunded in full');
SELECT results_eq(format($$SELECT (q->>'refund_cents')::int, (q->>'mechanic_cents')::int FROM tests.money_quote(%L, '2031-01-10 10:00+00') q$$, :'inperson'),
  $$VALUES (0, 1500)$$, 'in person < 24 h: the deposit is forfeited to the mechanic');
SELECT results_eq(format($$SELECT (q->>'refund_cents')::int, (q->>'mechanic_cents')::int FROM tests.money_quote(%L, '2031-01-10 15:20+00', 'no_show') q$$, :'inperson'),
  $$VALUES (0, 1500)$$, 'in person no-show: the deposit is forfeited to the mechanic');

------------------------------------------------------------------ a DST day (America/Toronto springs forward 2031-03-09)
-- Starts 2031-03-09 16:00 UTC = 12:00 EDT. The day before at 12:00 EST is only 23 elapsed hours
-- earlier: lead time is elapsed time, not the wall clock.
SELECT tests.money_booking('2031-03-09 16:00+00', 'online', 'standard') AS dst \gset
SELECT is(tests.money_quote(:'dst', '2031-03-08 17:00:00+00') ->> 'tier', '2h_24h',
  'DST: same wall-clock time the day before is 23 h before: 2-24 h');
SELECT is(tests.money_quote(:'dst', '2031-03-08 16:00:00+00') ->> 'tier', 'ge_24h', 'DST: exactly 24 elapsed hours before: >= 24 h');
SELECT is(tests.money_quote(:'dst', '2031-03-08 16:00:01+00') ->> 'tier', '2h_24h', 'DST: one second later: 2-24 h');
SELECT is(tests.money_quote(:'dst', '2031-03-09 14:00:00+00') ->> 'tier', '2h_24h', 'DST: exactly 2 h before: 2-24 h');
SELECT is(tests.money_quote(:'dst', '2031-03-09 14:00:01+00') ->> 'tier', 'lt_2h', 'DST: 2 h - 1 s before: < 2 h');

------------------------------------------------------------------ cancelling: customer, twice, receipt
SELECT customer_id AS oc, mechanic_id AS om FROM app.sessions WHERE id = :'online' \gset
SELECT tests.set_now('2031-01-10 03:00+00');
SELECT tests.authenticate_as(:'oc', 'customer');
SELECT is(api.cancellation_quote(:'online') ->> 'tier', '2h_24h', 'the customer sees the quote before confirming');
SELECT is((SELECT count(*)::int FROM app.sessions WHERE id = :'online' AND status = 'scheduled'), 1, 'a quote cancels nothing');
SELECT api.cancel_session(:'online', 'Car fixed itself') AS c1 \gset
SELECT results_eq(format($$SELECT %L::jsonb ->> 'tier', (%L::jsonb ->> 'refund_cents')::int, (%L::jsonb ->> 'mechanic_cents')::int, (%L::jsonb ->> 'already_cancelled')::boolean$$,
                         :'c1', :'c1', :'c1', :'c1'),
  $$VALUES ('2h_24h'::text, 2175, 725, false)$$, 'cancel_session returns the breakdown');
SELECT is((api.cancel_session(:'online') ->> 'already_cancelled')::boolean, true, 'cancelling twice returns the first breakdown');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT status, cancel_reason FROM app.sessions WHERE id = %L$$, :'online'),
  $$VALUES ('cancelled'::text, 'customer'::text)$$, 'the session is cancelled by the customer');
SELECT results_eq(format($$SELECT r.idempotency_key, r.amount_cents FROM app.payment_refunds r JOIN app.scheduled_payments p ON p.id = r.payment_id WHERE p.session_id = %L$$, :'online'),
  format($$VALUES ('refund:%s:2h_24h'::text, 2175)$$, :'online'), 'one refund, keyed refund:<session>:<tier>, however often it is cancelled');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE kind = 'stripe.refund' AND session_id = :'online'), 1, 'one refund for Stripe');
SELECT is(tests.money_balance('mechanic_payable', :'om'), 725::bigint, 'the mechanic earned their 25%');
SELECT is((SELECT tests.as_sent(payload) -> 'context' -> 'cancellation' ->> 'refund_cents' FROM app.outbox
            WHERE idempotency_key LIKE 'email:' || :'online' || ':cancellation:customer:%'), '2175',
  'the customer''s cancellation email carries the refund receipt');
SELECT is((SELECT tests.as_sent(payload) -> 'context' -> 'cancellation' ->> 'mechanic_cents' FROM app.outbox
            WHERE idempotency_key LIKE 'email:' || :'online' || ':mechanic_cancellation:mechanic:%'), '725',
  'the mechanic''s notice carries their share');
SELECT is(tests.money_balance('session', :'online'), 0::bigint, 'nothing is left in the session''s pot');

------------------------------------------------------------------ credit-paid part of a refund goes back as credit
SELECT tests.set_now('2031-01-05 12:00+00');
SELECT tests.money_booking('2031-01-12 15:00+00', 'online', 'standard', 1000) AS credited \gset
SELECT customer_id AS cc FROM app.sessions WHERE id = :'credited' \gset
SELECT tests.authenticate_as(:'cc', 'customer');
SELECT results_eq(format($$SELECT (q->>'paid_cents')::int, (q->>'refund_cents')::int, (q->>'credit_cents')::int, (q->>'platform_cents')::int
                            FROM api.cancel_session(%L) q$$, :'credited'),
  $$VALUES (2900, 1900, 500, 500)$$, '>= 24 h with $10 of credit spent: $19 back to the card, $5 back as credit, $5 fee');
SELECT is((api.my_credit() ->> 'balance_cents')::int, 500, 'the credit balance shows it');
SELECT tests.clear_authentication();

------------------------------------------------------------------ no mechanic yet: their share stays with the customer
SELECT tests.money_booking('2031-01-06 13:00+00', 'online', 'standard', 0, true, false) AS nomech \gset
SELECT results_eq(format($$SELECT (q->>'credit_cents')::int, (q->>'mechanic_cents')::int FROM tests.money_quote(%L, '2031-01-06 12:00+00') q$$, :'nomech'),
  $$VALUES (2900, 0)$$, 'no mechanic assigned: the mechanic share becomes the customer''s credit');

------------------------------------------------------------------ refusals and who may cancel
SELECT tests.money_booking('2031-01-13 15:00+00', 'online', 'standard', 0, false) AS unpaid \gset
SELECT customer_id AS uc FROM app.sessions WHERE id = :'unpaid' \gset
SELECT tests.authenticate_as(:'uc', 'customer');
SELECT is((api.cancellation_quote(:'unpaid') ->> 'payment_pending')::boolean, true, 'the quote says the charge is still processing');
SELECT throws_ok(format('SELECT api.cancel_session(%L)', :'unpaid'), 'AD409', 'The payment for this booking is still being processed; try again in a minute',
  'cancelling while the charge is processing: 409 payment_pending');
SELECT throws_ok(format('SELECT api.cancel_session(%L)', :'online'), 'AD404', NULL, 'another customer''s session: 404');
SELECT throws_ok(format('SELECT api.cancellation_quote(%L)', :'online'), 'AD404', NULL, 'another customer''s quote: 404');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'om', 'mechanic');
SELECT throws_ok(format('SELECT api.cancel_session(%L)', :'online'), '42501', NULL, 'a mechanic cannot call cancel_session');
SELECT tests.clear_authentication();
SELECT tests.create_admin() AS adm \gset
SELECT tests.authenticate_as(:'adm', 'admin');
SELECT is(api.cancel_session(:'inperson') ->> 'reason', 'admin', 'an admin cancels any booking (reason admin)');
UPDATE app.sessions SET status = 'pending' WHERE id = :'dst';
UPDATE app.sessions SET status = 'active' WHERE id = :'dst';
SELECT throws_ok(format('SELECT api.cancel_session(%L)', :'dst'), 'AD409', NULL, 'an active session is not cancellable: 409');
SELECT tests.clear_authentication();

------------------------------------------------------------------ the policy version a booking keeps
-- Version 2 from 2031-02-01: a $7 fee. Published by an admin-or-DBA in one transaction.
INSERT INTO app.money_policy_versions (version, effective_from, deposit_cents, commission_pct, note)
VALUES (2, '2031-02-01 00:00+00', 2000, 25, 'test: higher fee');
INSERT INTO app.cancellation_policies (version, service_mode, tier, min_lead, max_lead, refund_pct, fee_cents, credit_pct, mechanic_pct, description)
SELECT 2, service_mode, tier, min_lead, max_lead, refund_pct, CASE WHEN fee_cents > 0 THEN 700 ELSE 0 END, credit_pct, mechanic_pct, description
  FROM app.cancellation_policies WHERE version = 1;
SELECT tests.money_booking('2031-02-10 15:00+00', 'online', 'standard') AS v1booking \gset
SELECT tests.set_now('2031-02-02 12:00+00');
SELECT tests.money_booking('2031-02-10 15:00+00', 'online', 'standard') AS v2booking \gset
SELECT results_eq(format($$SELECT money_policy_version FROM app.sessions WHERE id IN (%L, %L) ORDER BY created_at$$, :'v1booking', :'v2booking'),
  $$VALUES (1), (2)$$, 'each booking records the version in force when it was booked');
SELECT is((tests.money_quote(:'v1booking', '2031-02-02 12:00+00') ->> 'fee_cents')::int, 500,
  'a booking made under version 1 keeps its $5 fee after version 2 takes effect');
SELECT is((tests.money_quote(:'v2booking', '2031-02-02 12:00+00') ->> 'fee_cents')::int, 700, 'a later booking gets the $7 fee');
SELECT throws_ok($$UPDATE app.cancellation_policies SET fee_cents = 0 WHERE version = 1 AND tier = 'ge_24h'$$, 'AD409', NULL,
  'a version in force cannot be changed (409 policy_in_force), also not by the owner');
SELECT throws_ok($$INSERT INTO app.money_policy_versions (version, effective_from, deposit_cents, commission_pct) VALUES (3, '2031-06-01', 1500, 20);
                   SET CONSTRAINTS ALL IMMEDIATE$$, '23514', NULL, 'a version without tiers is rejected at commit');

------------------------------------------------------------------ the lifecycle band's no-show and missing-waiver cancellations
SELECT tests.money_booking('2031-02-03 15:00+00', 'online', 'standard') AS noshow \gset
SELECT tests.money_booking('2031-02-03 15:00+00', 'in_person', 'premium') AS nowaiver \gset
SELECT tests.set_now('2031-02-03 15:16+00');
SELECT api.mark_no_shows();
SELECT results_eq(format($$SELECT c.tier, c.credit_cents, c.mechanic_cents, s.cancel_reason FROM app.session_cancellations c
                            JOIN app.sessions s ON s.id = c.session_id WHERE c.session_id = %L$$, :'noshow'),
  $$VALUES ('no_show'::text, 1450, 1450, 'no_show'::text)$$, 'the no-show job cancels under the no_show tier: 50% credit, 50% mechanic');
SELECT is((SELECT tests.as_sent(payload) -> 'context' -> 'cancellation' ->> 'credit_cents' FROM app.outbox
            WHERE payload ->> 'template' = 'no_show' AND session_id = :'noshow'), '1450', 'the no-show email carries the receipt');
SELECT results_eq(format($$SELECT c.tier, c.refund_cents, c.mechanic_cents FROM app.session_cancellations c WHERE c.session_id = %L$$, :'nowaiver'),
  $$VALUES ('no_show'::text, 0, 2000)$$, 'in person: the no-show forfeits the deposit (version 2''s $20) to the mechanic');

SELECT * FROM finish();
ROLLBACK;

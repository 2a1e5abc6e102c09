-- The ledger: balanced, append-only, trigger-kept balances; credit spent first and returned; the
-- completion split; reconciliation finds planted discrepancies; row-level security per role.
BEGIN;
SELECT plan(44);
SELECT tests.set_now('2031-01-05 12:00+00');

------------------------------------------------------------------ a charge is one balanced transaction
SELECT tests.money_booking('2031-01-10 15:00+00') AS s1 \gset
SELECT customer_id AS c1, mechanic_id AS m1 FROM app.sessions WHERE id = :'s1' \gset
SELECT id AS p1 FROM app.scheduled_payments WHERE session_id = :'s1' \gset
SELECT results_eq(format($$SELECT a.kind, e.amount_cents, e.balance_after_cents, e.account_version FROM app.ledger_entries e
                             JOIN app.ledger_transactions t ON t.id = e.transaction_id JOIN app.ledger_accounts a ON a.id = e.account_id
                            WHERE t.idempotency_key = 'charge:%s' ORDER BY a.kind$$, :'p1'),
  $$VALUES ('customer_card'::text, -2900::bigint, -2900::bigint, 1::bigint), ('session'::text, 2900::bigint, 2900::bigint, 1::bigint)$$,
  'charge succeeded: card -> session pot, with running balances and versions');
SELECT lives_ok(format($$SELECT app_private.ledger_charge_succeeded(%L)$$, :'p1'), 'posting the same charge again...');
SELECT is((SELECT count(*)::int FROM app.ledger_transactions WHERE payment_id = :'p1'), 1, '...posts nothing (idempotency key)');

------------------------------------------------------------------ append-only, also for the owner/superuser
SELECT throws_ok($$UPDATE app.ledger_entries SET amount_cents = amount_cents + 1$$, 'AD409', NULL, 'entries cannot be updated');
SELECT throws_ok($$DELETE FROM app.ledger_entries$$, 'AD409', NULL, 'entries cannot be deleted');
SET CONSTRAINTS ALL IMMEDIATE;  -- fire the pending balance checks: TRUNCATE refuses while any are pending
SELECT throws_ok($$TRUNCATE app.ledger_entries CASCADE$$, 'AD409', NULL, 'entries cannot be truncated');
SET CONSTRAINTS ALL DEFERRED;
SELECT throws_ok($$UPDATE app.ledger_transactions SET memo = '{}'$$, 'AD409', NULL, 'transactions cannot be updated');
SELECT throws_ok($$DELETE FROM app.ledger_transactions$$, 'AD409', NULL, 'transactions cannot be deleted');
SELECT throws_ok($$UPDATE app.ledger_accounts SET balance_cents = 1000000 WHERE kind = 'session'$$, 'AD409', NULL,
  'a balance cannot be written directly');
SELECT throws_ok($$DELETE FROM app.ledger_accounts$$, 'AD409', NULL, 'accounts cannot be deleted');

------------------------------------------------------------------ a hand-made unbalanced transaction is rejected at commit
SELECT throws_ok(format($$
  WITH t AS (INSERT INTO app.ledger_transactions (kind, idempotency_key, currency, created_at)
             VALUES ('credit_adjusted', 'test:unbalanced', 'usd', now()) RETURNING id)
  INSERT INTO app.ledger_entries (transaction_id, account_id, amount_cents, currency, created_at)
  SELECT t.id, app_private.ledger_account('customer_credit', %L), 100, 'usd', now() FROM t;
  SET CONSTRAINTS ALL IMMEDIATE$$, :'c1'), '23514', NULL, 'a transaction whose entries do not sum to zero is rejected');
SELECT lives_ok(format($$SELECT app_private.ledger_post('credit_adjusted', 'test:balanced',
    jsonb_build_array(app_private.leg('platform_revenue', NULL, -100), app_private.leg('customer_credit', %L, 100)));
  SET CONSTRAINTS ALL IMMEDIATE$$, :'c1'), 'a balanced one commits');
SET CONSTRAINTS ALL DEFERRED;
SELECT is((SELECT credit_balance_cents FROM app.customers WHERE user_id = :'c1'), 100, 'the credit mirror on the customer follows the ledger');
SELECT throws_ok(format($$SELECT app_private.ledger_post('credit_spent', 'test:overspend',
    jsonb_build_array(app_private.leg('customer_credit', %L, -500), app_private.leg('session', %L, 500)))$$, :'c1', :'s1'),
  '23514', NULL, 'credit cannot be overspent (the balance CHECK)');

------------------------------------------------------------------ credit first, the card for the rest
SELECT tests.money_booking('2031-01-11 15:00+00', 'online', 'standard', 1000, false) AS s2 \gset
SELECT customer_id AS c2 FROM app.sessions WHERE id = :'s2' \gset
SELECT is((SELECT amount_cents FROM app.scheduled_payments WHERE session_id = :'s2'), 1900, '$10 of credit: the card is charged $19');
SELECT is(tests.money_balance('customer_credit', :'c2'), 0::bigint, 'the credit is spent');
SELECT is(tests.money_balance('session', :'s2'), 1000::bigint, 'and sits in the session pot');
SELECT tests.money_booking('2031-01-12 15:00+00', 'online', 'standard', 5000, false) AS s3 \gset
SELECT customer_id AS c3 FROM app.sessions WHERE id = :'s3' \gset
SELECT is_empty(format($$SELECT 1 FROM app.scheduled_payments WHERE session_id = %L$$, :'s3'), 'fully covered by credit: no charge');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE kind LIKE 'stripe.%%' AND session_id = %L$$, :'s3'), 'and no Stripe call');
SELECT is(tests.money_balance('customer_credit', :'c3'), 2100::bigint, '$50 - $29 = $21 left');
SELECT is(app_private.session_booking_charge(:'s3'), NULL, 'asked again, the booking still charges nothing');
SELECT is(tests.money_balance('customer_credit', :'c3'), 2100::bigint, 'and spends no more credit');

-- a hold that lapses returns the credit it reserved
SELECT tests.se_customer() AS c4 \gset
UPDATE app.customers SET credit_balance_cents = 700 WHERE user_id = :'c4';
SELECT tests.se_session(:'c4', tests.se_mechanic(), '2031-01-13 15:00+00', 'online', 'held') AS h4 \gset
SELECT results_eq(format($$SELECT amount_cents FROM app.scheduled_payments WHERE session_id = %L$$, :'h4'), $$VALUES (2200)$$,
  'a hold spends credit first too ($7), the card for $22');
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'expired' WHERE id = :'h4';
SELECT is(tests.money_balance('customer_credit', :'c4'), 700::bigint, 'the lapsed hold returns the $7 it reserved');
SELECT is(tests.money_balance('session', :'h4'), 0::bigint, 'the hold''s pot is empty');

------------------------------------------------------------------ completion: mechanic share and commission
SELECT tests.money_booking('2031-01-14 15:00+00', 'in_person', 'premium') AS s5 \gset
SELECT mechanic_id AS m5 FROM app.sessions WHERE id = :'s5' \gset
UPDATE app.sessions SET status = 'pending' WHERE id = :'s5';
UPDATE app.sessions SET status = 'active' WHERE id = :'s5';
UPDATE app.sessions SET status = 'completed' WHERE id = :'s5';
SELECT is(tests.money_balance('mechanic_payable', :'m5'), 1200::bigint, 'completion splits the $15 deposit: 80% to the mechanic');
SELECT tests.se_charge_done((SELECT id FROM app.scheduled_payments WHERE session_id = :'s5' AND payment_type = 'balance'));
SELECT is(tests.money_balance('mechanic_payable', :'m5'), 7920::bigint, 'the $84 balance, once paid, is split too: 80% of $99 in all');
SELECT is((SELECT sum(e.amount_cents)::int FROM app.ledger_entries e JOIN app.ledger_transactions t ON t.id = e.transaction_id
            JOIN app.ledger_accounts a ON a.id = e.account_id WHERE t.session_id = :'s5' AND a.kind = 'platform_revenue'), 1980,
  'the platform''s 20% commission');
SELECT is(tests.money_balance('session', :'s5'), 0::bigint, 'a completed session holds nothing');

------------------------------------------------------------------ earnings and credit reads, RLS per role
SELECT tests.authenticate_as(:'m5', 'mechanic');
SELECT is((api.my_earnings('2031-01-01', '2031-02-01') ->> 'total_cents')::int, 7920, 'the mechanic''s earnings in the window');
SELECT is((api.my_earnings('2031-02-01', '2031-03-01') ->> 'total_cents')::int, 0, 'nothing outside it');
SELECT is((SELECT count(*)::int FROM app.ledger_accounts), 1, 'a mechanic sees only their payable account');
SELECT is_empty($$SELECT 1 FROM app.ledger_entries e JOIN app.ledger_accounts a ON a.id = e.account_id WHERE a.kind <> 'mechanic_payable'$$,
  'and only its entries');
SELECT throws_ok($$SELECT * FROM api.reconcile_payments()$$, '42501', NULL, 'a mechanic cannot reconcile');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT results_eq($$SELECT kind, owner_id FROM app.ledger_accounts ORDER BY kind$$,
  format($$VALUES ('customer_credit'::text, %L::uuid)$$, :'c2'),
  'a customer sees their own credit account (no card account before a card payment) and nothing else');
SELECT is((api.my_credit() -> 'history' -> 0 ->> 'kind'), 'credit_spent', 'credit history, newest first');
SELECT is_empty(format($$SELECT 1 FROM app.ledger_accounts WHERE owner_id IN (%L, %L)$$, :'c1', :'m5'), 'nobody else''s accounts');
SELECT throws_ok($$INSERT INTO app.ledger_transactions (kind, idempotency_key, currency, created_at) VALUES ('credit_adjusted', 'x', 'usd', now())$$,
  '42501', NULL, 'a customer cannot write the ledger');
SELECT throws_ok($$SELECT api.my_earnings()$$, '42501', NULL, 'a customer has no earnings function');
SELECT tests.clear_authentication();

------------------------------------------------------------------ reconciliation
SELECT tests.create_admin('money-admin@example.test') AS adm \gset
SELECT tests.authenticate_as(:'adm', 'admin');
SELECT is_empty($$SELECT * FROM api.reconcile_payments()$$, 'a healthy ledger reconciles: nothing to report');
SELECT tests.clear_authentication();
-- Planted: Stripe says an intent succeeded that our record still shows pending (the event was
-- recorded but never applied), and a refund that failed for good after it was committed.
UPDATE app.scheduled_payments SET payment_intent_id = 'pi_planted' WHERE session_id = :'s2';
INSERT INTO app.stripe_events (id, type, payload) VALUES ('evt_planted', 'payment_intent.succeeded',
  tests.se_event('evt_planted', 'payment_intent.succeeded', '{"id": "pi_planted", "object": "payment_intent"}'));
SELECT tests.set_now('2031-01-09 12:00+00');
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT api.cancel_session(:'s1');
SELECT tests.clear_authentication();
SELECT tests.money_refund_done((SELECT r.id FROM app.payment_refunds r WHERE r.payment_id = :'p1'), 'failed');
SELECT tests.authenticate_as(:'adm', 'admin');
SELECT results_eq($$SELECT session_id, problem FROM api.reconcile_payments() ORDER BY problem$$,
  format($$VALUES (%L::uuid, 'session_unsettled'::text), (%L::uuid, 'stripe_succeeded_not_recorded'::text)$$, :'s1', :'s2'),
  'reconciliation finds both planted discrepancies, and nothing else');
SELECT tests.clear_authentication();
SELECT is(api.reconcile_payments_daily(), 2, 'the daily job counts them');
SELECT is(api.reconcile_payments_daily(), 2, 'run twice...');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE payload ->> 'template' = 'reconciliation_alert'
             AND payload -> 'to' ->> 'email' = 'money-admin@example.test'), 1, '...the admin is emailed once that day');

SELECT * FROM finish();
ROLLBACK;

-- Reconciliation: the ledger, the payment records and what Stripe reported (webhook events) must
-- tell the same story. api.reconcile_payments() lists every disagreement (empty on a healthy
-- system); a daily pg_cron job mails the admins when it is not empty. docs/money.md lists the checks.

-- api.reconcile_payments(): one row per disagreement: (session_id, problem, detail). Problems:
--   charge_not_in_ledger        a payment succeeded but the ledger has no (or another) charge
--   ledger_charge_not_succeeded the ledger has a charge the payment record does not show as paid
--   refund_not_in_ledger        a refund succeeded (or is committed) but the ledger lacks it
--   ledger_refund_not_succeeded the ledger shows a refund as paid out that the record does not
--   stripe_succeeded_not_recorded  Stripe reported a PaymentIntent succeeded; our payment is not
--   stripe_refund_not_recorded  Stripe reported more refunded on a charge than our refunds say
--   session_unsettled           a cancelled or completed session still holds money (its pot is not 0)
--   session_overdrawn           a session's pot is below zero (money given out that never came in)
--   cancellation_not_posted     a policy cancellation whose shares were never posted
--   account_balance_mismatch    a kept balance (or version) differs from its entries
--   unbalanced_transaction      a transaction's entries do not sum to zero
--   credit_mirror_mismatch      app.customers.credit_balance_cents differs from the ledger
-- SECURITY INVOKER: who may run it is the grants' business (admins; the owner for DBAs and pg_cron),
-- and an admin's RLS sees every row it reads.
CREATE OR REPLACE FUNCTION api.reconcile_payments()
RETURNS TABLE (session_id uuid, problem text, detail jsonb)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  RETURN QUERY
  -- payments vs ledger charges
  SELECT p.session_id, 'charge_not_in_ledger'::text,
         jsonb_build_object('payment_id', p.id, 'status', p.status, 'amount_cents', p.amount_cents,
                            'ledger_cents', lc.cents)
    FROM app.scheduled_payments p
    LEFT JOIN LATERAL (SELECT e.amount_cents AS cents FROM app.ledger_transactions t
                         JOIN app.ledger_entries e ON e.transaction_id = t.id AND e.amount_cents > 0
                        WHERE t.idempotency_key = 'charge:' || p.id) lc ON true
   WHERE p.status IN ('succeeded', 'refunded') AND lc.cents IS DISTINCT FROM p.amount_cents::bigint
  UNION ALL
  SELECT t.session_id, 'ledger_charge_not_succeeded',
         jsonb_build_object('payment_id', t.payment_id, 'status', p.status, 'transaction_id', t.id)
    FROM app.ledger_transactions t LEFT JOIN app.scheduled_payments p ON p.id = t.payment_id
   WHERE t.kind = 'charge_succeeded' AND p.status IS DISTINCT FROM 'succeeded' AND p.status IS DISTINCT FROM 'refunded'
  UNION ALL
  -- refunds vs ledger
  SELECT p.session_id, 'refund_not_in_ledger',
         jsonb_build_object('refund_id', r.id, 'payment_id', p.id, 'status', r.status, 'amount_cents', r.amount_cents)
    FROM app.payment_refunds r JOIN app.scheduled_payments p ON p.id = r.payment_id
   WHERE (r.status = 'succeeded' AND NOT EXISTS (SELECT FROM app.ledger_transactions t
                                                  WHERE t.idempotency_key = 'refund_succeeded:' || r.id))
      OR (r.status = 'requested' AND p.status IN ('succeeded', 'refunded')
          AND NOT EXISTS (SELECT FROM app.ledger_transactions t WHERE t.idempotency_key = 'refund_requested:' || r.id))
  UNION ALL
  SELECT t.session_id, 'ledger_refund_not_succeeded',
         jsonb_build_object('refund_id', t.refund_id, 'status', r.status, 'transaction_id', t.id)
    FROM app.ledger_transactions t LEFT JOIN app.payment_refunds r ON r.id = t.refund_id
   WHERE t.kind = 'refund_succeeded' AND r.status IS DISTINCT FROM 'succeeded'
  UNION ALL
  -- what Stripe reported vs our records
  SELECT p.session_id, 'stripe_succeeded_not_recorded',
         jsonb_build_object('payment_id', p.id, 'payment_intent_id', p.payment_intent_id, 'status', p.status,
                            'event_id', ev.id)
    FROM app.stripe_events ev
    JOIN app.scheduled_payments p ON p.payment_intent_id = ev.payload -> 'data' -> 'object' ->> 'id'
   WHERE ev.type = 'payment_intent.succeeded' AND p.status NOT IN ('succeeded', 'refunded')
  UNION ALL
  SELECT p.session_id, 'stripe_refund_not_recorded',
         jsonb_build_object('payment_id', p.id, 'payment_intent_id', p.payment_intent_id,
                            'stripe_refunded_cents', sr.refunded, 'recorded_cents', ours.cents)
    FROM app.scheduled_payments p
    JOIN LATERAL (SELECT max((ev.payload -> 'data' -> 'object' ->> 'amount_refunded')::bigint) AS refunded
                    FROM app.stripe_events ev
                   WHERE ev.type = 'charge.refunded'
                     AND ev.payload -> 'data' -> 'object' ->> 'payment_intent' = p.payment_intent_id) sr ON sr.refunded IS NOT NULL
    CROSS JOIN LATERAL (SELECT coalesce(sum(r.amount_cents), 0) AS cents FROM app.payment_refunds r
                         WHERE r.payment_id = p.id AND r.status = 'succeeded') ours
   WHERE sr.refunded > ours.cents
  UNION ALL
  -- sessions that still hold money, or gave out more than they got
  SELECT a.owner_id, CASE WHEN a.balance_cents < 0 THEN 'session_overdrawn' ELSE 'session_unsettled' END,
         jsonb_build_object('pot_cents', a.balance_cents, 'status', s.status, 'cancel_reason', s.cancel_reason)
    FROM app.ledger_accounts a JOIN app.sessions s ON s.id = a.owner_id
   WHERE a.kind = 'session' AND (a.balance_cents < 0 OR (a.balance_cents > 0 AND s.status IN ('cancelled', 'completed')))
  UNION ALL
  SELECT c.session_id, 'cancellation_not_posted',
         jsonb_build_object('tier', c.tier, 'credit_cents', c.credit_cents, 'mechanic_cents', c.mechanic_cents,
                            'platform_cents', c.platform_cents)
    FROM app.session_cancellations c
   WHERE c.credit_cents + c.mechanic_cents + c.platform_cents > 0
     AND NOT EXISTS (SELECT FROM app.ledger_transactions t WHERE t.idempotency_key = 'cancellation:' || c.session_id)
  UNION ALL
  -- the ledger's own books
  SELECT CASE WHEN a.kind = 'session' THEN a.owner_id END, 'account_balance_mismatch',
         jsonb_build_object('account_id', a.id, 'kind', a.kind, 'owner_id', a.owner_id, 'balance_cents', a.balance_cents,
                            'entries_cents', sums.cents, 'version', a.version, 'entries', sums.n)
    FROM app.ledger_accounts a
    CROSS JOIN LATERAL (SELECT coalesce(sum(e.amount_cents), 0) AS cents, count(*) AS n
                          FROM app.ledger_entries e WHERE e.account_id = a.id) sums
   WHERE a.keeps_balance AND (a.balance_cents <> sums.cents OR a.version <> sums.n)
  UNION ALL
  SELECT t.session_id, 'unbalanced_transaction', jsonb_build_object('transaction_id', t.id, 'sum_cents', sum(e.amount_cents))
    FROM app.ledger_transactions t JOIN app.ledger_entries e ON e.transaction_id = t.id
   GROUP BY t.id HAVING sum(e.amount_cents) <> 0
  UNION ALL
  SELECT NULL::uuid, 'credit_mirror_mismatch',
         jsonb_build_object('customer_id', c.user_id, 'mirror_cents', c.credit_balance_cents,
                            'ledger_cents', coalesce(a.balance_cents, 0))
    FROM app.customers c
    LEFT JOIN app.ledger_accounts a ON a.kind = 'customer_credit' AND a.owner_id = c.user_id AND a.currency = 'usd'
   WHERE c.credit_balance_cents <> coalesce(a.balance_cents, 0);
END
$$;
COMMENT ON FUNCTION api.reconcile_payments() IS
  'Every disagreement between the ledger, the payment and refund records and what Stripe reported by webhook: rows (session_id, problem, detail); empty on a healthy system. Problems: charge_not_in_ledger, ledger_charge_not_succeeded, refund_not_in_ledger, ledger_refund_not_succeeded, stripe_succeeded_not_recorded, stripe_refund_not_recorded, session_unsettled, session_overdrawn, cancellation_not_posted, account_balance_mismatch, unbalanced_transaction, credit_mirror_mismatch (see docs/money.md). Admin; DBAs as the owner.';
GRANT EXECUTE ON FUNCTION api.reconcile_payments() TO autodoc_admin;

-- api.reconcile_payments_daily(): the pg_cron job (daily). Runs api.reconcile_payments() and, when
-- it finds anything, mails every admin once per day (outbox email.send, template
-- reconciliation_alert, key `email:reconciliation:<date>:<admin>`): run twice a day, one email.
-- Returns the number of problems. Owner (pg_cron) and admins.
CREATE OR REPLACE FUNCTION api.reconcile_payments_daily() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_problems jsonb;
  v_count integer;
  v_day text := to_char(app_private.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD');
  v_admin record;
BEGIN
  SELECT count(*)::integer, coalesce(jsonb_agg(jsonb_build_object('session_id', r.session_id, 'problem', r.problem, 'detail', r.detail))
                            FILTER (WHERE r.n <= 50), '[]'::jsonb)
    INTO v_count, v_problems
    FROM (SELECT rp.*, row_number() OVER () AS n FROM api.reconcile_payments() rp) r;
  IF v_count > 0 THEN
    FOR v_admin IN SELECT u.id, u.email, u.full_name FROM app.users u WHERE u.role = 'admin' ORDER BY u.id LOOP
      PERFORM app_private.outbox_enqueue('email.send', format('email:reconciliation:%s:%s', v_day, v_admin.id),
        jsonb_build_object('template', 'reconciliation_alert', 'recipient_role', 'admin',
                           'to', jsonb_build_object('email', v_admin.email, 'name', v_admin.full_name),
                           'context', jsonb_build_object('day', v_day, 'count', v_count, 'problems', v_problems,
                                                         'admin', jsonb_build_object('name', v_admin.full_name))));
    END LOOP;
  END IF;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.reconcile_payments_daily() IS
  'pg_cron job (daily): run api.reconcile_payments() and, when it finds problems, email every admin once per day (template reconciliation_alert, first 50 problems). Returns the number of problems. Owner, admin.';
GRANT EXECUTE ON FUNCTION api.reconcile_payments_daily() TO autodoc_admin;

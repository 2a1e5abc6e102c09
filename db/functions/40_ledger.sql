-- The double-entry ledger: accounts, posting balanced transactions, credit spent and returned,
-- the split of a completed session, and the reads (my credit, my earnings). The guarantees (entries
-- balance per transaction, append-only, trigger-kept balances) are triggers in
-- db/triggers/40_ledger.sql, so they hold for every writer, including a DBA's hand-made INSERT.
--
-- Sign convention: an entry's amount is added to its account's balance. Money moves FROM an account
-- (negative entry) TO another (positive entry); a transaction's entries sum to zero. Accounts (one
-- per owner and currency, created on first use): customer_card, customer_credit, session,
-- mechanic_payable, platform_revenue, stripe_clearing — see docs/money.md.

-- ledger_account(kind, owner, currency): the account's id, created on first use. Definer helper.
CREATE OR REPLACE FUNCTION app_private.ledger_account(p_kind text, p_owner uuid, p_currency text DEFAULT 'usd')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id bigint;
BEGIN
  IF p_owner IS NULL THEN
    SELECT a.id INTO v_id FROM app.ledger_accounts a
     WHERE a.kind = p_kind AND a.owner_id IS NULL AND a.currency = p_currency;
  ELSE
    SELECT a.id INTO v_id FROM app.ledger_accounts a
     WHERE a.kind = p_kind AND a.owner_id = p_owner AND a.currency = p_currency;
  END IF;
  IF v_id IS NULL THEN
    INSERT INTO app.ledger_accounts (kind, owner_id, currency, keeps_balance, created_at, updated_at)
    VALUES (p_kind, p_owner, p_currency, p_kind NOT IN ('platform_revenue', 'stripe_clearing'),
            app_private.now(), app_private.now())
    ON CONFLICT ON CONSTRAINT ledger_accounts_one_per_owner DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN  -- created concurrently
      RETURN app_private.ledger_account(p_kind, p_owner, p_currency);
    END IF;
  END IF;
  RETURN v_id;
END
$$;

-- account_balance(account): the balance — the kept one, or for hot platform accounts the sum of
-- their entries. Definer helper.
CREATE OR REPLACE FUNCTION app_private.account_balance(p_account_id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v app.ledger_accounts;
BEGIN
  SELECT * INTO v FROM app.ledger_accounts WHERE id = p_account_id;
  IF v.id IS NULL THEN
    RETURN 0::bigint;
  ELSIF v.keeps_balance THEN
    RETURN v.balance_cents;
  END IF;
  RETURN (SELECT coalesce(sum(e.amount_cents), 0)::bigint FROM app.ledger_entries e WHERE e.account_id = p_account_id);
END
$$;

-- ledger_post(kind, key, legs, session?, payment?, refund?, memo?, currency?): post one money event
-- as a balanced transaction. legs: [{"kind": ..., "owner": uuid|null, "cents": n}, ...]; zero legs
-- are dropped, and nothing is posted when no leg is left. The key makes it idempotent: a second
-- post of the same key returns NULL and posts nothing. Entries are inserted in account-id order so
-- concurrent posts lock kept balances in one order (no deadlock between two money events); a
-- customer's profile row is locked before their credit account, the order the booking path uses.
-- The deferred trigger rejects the transaction at commit if the legs do not sum to zero.
-- Returns the transaction id, NULL when already posted or empty. Definer helper.
CREATE OR REPLACE FUNCTION app_private.ledger_post(
  p_kind text, p_key text, p_legs jsonb, p_session_id uuid DEFAULT NULL, p_payment_id uuid DEFAULT NULL,
  p_refund_id uuid DEFAULT NULL, p_memo jsonb DEFAULT '{}'::jsonb, p_currency text DEFAULT 'usd'
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_tx bigint;
  v_now timestamptz := app_private.now();
BEGIN
  IF NOT EXISTS (SELECT FROM jsonb_array_elements(p_legs) l WHERE (l ->> 'cents')::bigint <> 0) THEN
    RETURN NULL;
  END IF;
  INSERT INTO app.ledger_transactions (kind, idempotency_key, session_id, payment_id, refund_id, currency, memo,
                                       created_by, created_at)
  VALUES (p_kind, p_key, p_session_id, p_payment_id, p_refund_id, p_currency, coalesce(p_memo, '{}'::jsonb),
          app_private.current_user_id(), v_now)
  ON CONFLICT ON CONSTRAINT ledger_transactions_idempotency_key_unique DO NOTHING
  RETURNING id INTO v_tx;
  IF v_tx IS NULL THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM app.customers c
   WHERE c.user_id IN (SELECT (l ->> 'owner')::uuid FROM jsonb_array_elements(p_legs) l
                        WHERE l ->> 'kind' = 'customer_credit' AND (l ->> 'cents')::bigint <> 0)
   ORDER BY c.user_id FOR NO KEY UPDATE;
  -- one statement: its entries are checked together even when the constraint is set IMMEDIATE
  INSERT INTO app.ledger_entries (transaction_id, account_id, amount_cents, currency, created_at)
  SELECT v_tx, legs.account_id, legs.cents, p_currency, v_now
    FROM (SELECT app_private.ledger_account(l ->> 'kind', (l ->> 'owner')::uuid, p_currency) AS account_id,
                 sum((l ->> 'cents')::bigint) AS cents
            FROM jsonb_array_elements(p_legs) l
           WHERE (l ->> 'cents')::bigint <> 0
           GROUP BY 1 HAVING sum((l ->> 'cents')::bigint) <> 0) legs
   ORDER BY legs.account_id;
  RETURN v_tx;
END
$$;

-- leg(kind, owner, cents): one leg for ledger_post. Immutable helper.
CREATE OR REPLACE FUNCTION app_private.leg(p_kind text, p_owner uuid, p_cents bigint) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('kind', p_kind, 'owner', p_owner, 'cents', p_cents)
$$;

-- session_pot_balance(session): money paid for a session and not yet distributed. Definer helper.
CREATE OR REPLACE FUNCTION app_private.session_pot_balance(p_session_id uuid) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN coalesce((SELECT a.balance_cents FROM app.ledger_accounts a
                    WHERE a.kind = 'session' AND a.owner_id = p_session_id AND a.currency = 'usd'), 0);
END
$$;

-- customer_credit_cents(customer): the customer's account credit (the ledger's balance). Definer helper.
CREATE OR REPLACE FUNCTION app_private.customer_credit_cents(p_customer_id uuid) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN coalesce((SELECT a.balance_cents FROM app.ledger_accounts a
                    WHERE a.kind = 'customer_credit' AND a.owner_id = p_customer_id AND a.currency = 'usd'), 0);
END
$$;

------------------------------------------------------------------------------------------------
-- Money events posted from the payment tables (called by the triggers in db/triggers/40_ledger.sql)
------------------------------------------------------------------------------------------------

-- ledger_charge_succeeded(payment): the card paid a charge: card -> session pot (key
-- `charge:<payment>`). Refunds already requested for that charge are then committed, and a
-- completed session's new money is split at once. Idempotent. Definer helper.
CREATE OR REPLACE FUNCTION app_private.ledger_charge_succeeded(p_payment_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_p app.scheduled_payments;
  v_refund uuid;
BEGIN
  SELECT * INTO v_p FROM app.scheduled_payments WHERE id = p_payment_id;
  PERFORM app_private.ledger_post('charge_succeeded', 'charge:' || v_p.id,
    jsonb_build_array(app_private.leg('customer_card', v_p.customer_id, -v_p.amount_cents),
                      app_private.leg('session', v_p.session_id, v_p.amount_cents)),
    v_p.session_id, v_p.id, NULL, jsonb_build_object('payment_type', v_p.payment_type), v_p.currency);
  FOR v_refund IN SELECT r.id FROM app.payment_refunds r WHERE r.payment_id = v_p.id AND r.status <> 'failed' LOOP
    PERFORM app_private.ledger_refund_changed(v_refund);
  END LOOP;
  IF (SELECT s.status FROM app.sessions s WHERE s.id = v_p.session_id) = 'completed' THEN
    PERFORM app_private.settle_completed(v_p.session_id);
  END IF;
END
$$;

-- ledger_refund_changed(refund): bring the ledger up to date with a refund row. Requested and its
-- charge already in the ledger: committed, session pot -> stripe_clearing (`refund_requested:<id>`);
-- succeeded: committed (if not yet) and stripe_clearing -> card (`refund_succeeded:<id>`); failed
-- after being committed: stripe_clearing -> back to the session pot (`refund_failed:<id>`), where
-- reconciliation reports it. Idempotent. Definer helper.
CREATE OR REPLACE FUNCTION app_private.ledger_refund_changed(p_refund_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_r app.payment_refunds;
  v_p app.scheduled_payments;
  v_committed boolean;
BEGIN
  SELECT * INTO v_r FROM app.payment_refunds WHERE id = p_refund_id;
  SELECT * INTO v_p FROM app.scheduled_payments WHERE id = v_r.payment_id;
  IF v_r.status = 'succeeded'
     OR (v_r.status = 'requested' AND EXISTS (SELECT FROM app.ledger_transactions t WHERE t.idempotency_key = 'charge:' || v_p.id)) THEN
    PERFORM app_private.ledger_post('refund_requested', 'refund_requested:' || v_r.id,
      jsonb_build_array(app_private.leg('session', v_p.session_id, -v_r.amount_cents),
                        app_private.leg('stripe_clearing', NULL, v_r.amount_cents)),
      v_p.session_id, v_p.id, v_r.id, jsonb_build_object('reason', v_r.reason), v_p.currency);
  END IF;
  v_committed := EXISTS (SELECT FROM app.ledger_transactions t WHERE t.idempotency_key = 'refund_requested:' || v_r.id);
  IF v_r.status = 'succeeded' THEN
    PERFORM app_private.ledger_post('refund_succeeded', 'refund_succeeded:' || v_r.id,
      jsonb_build_array(app_private.leg('stripe_clearing', NULL, -v_r.amount_cents),
                        app_private.leg('customer_card', v_p.customer_id, v_r.amount_cents)),
      v_p.session_id, v_p.id, v_r.id, jsonb_build_object('reason', v_r.reason), v_p.currency);
  ELSIF v_r.status = 'failed' AND v_committed THEN
    PERFORM app_private.ledger_post('refund_failed', 'refund_failed:' || v_r.id,
      jsonb_build_array(app_private.leg('stripe_clearing', NULL, -v_r.amount_cents),
                        app_private.leg('session', v_p.session_id, v_r.amount_cents)),
      v_p.session_id, v_p.id, v_r.id, jsonb_build_object('reason', v_r.reason), v_p.currency);
  END IF;
END
$$;

------------------------------------------------------------------------------------------------
-- Account credit
------------------------------------------------------------------------------------------------

-- charge_after_credit(session, payment type, amount): what the card is charged for one charge of a
-- session after the customer's account credit is spent on it first (SPEC: credit first, the card
-- for the rest). The credit spent is posted (customer_credit -> session pot, key
-- `credit_spent:<session>:<type>`). Decided once: asked again (a hold becoming the booking), it
-- returns the same answer — the existing charge's amount, or 0 when credit covered it all.
-- Definer helper for the charge functions in 40_payments.sql.
CREATE OR REPLACE FUNCTION app_private.charge_after_credit(p_session_id uuid, p_payment_type text, p_amount_cents integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_customer uuid;
  v_existing integer;
  v_credit bigint;
  v_use integer;
BEGIN
  IF p_amount_cents IS NULL OR p_amount_cents <= 0 THEN
    RETURN p_amount_cents;
  END IF;
  SELECT p.amount_cents INTO v_existing FROM app.scheduled_payments p
   WHERE p.idempotency_key = 'charge:' || p_session_id || ':' || p_payment_type;  -- payment_ensure's key
  IF FOUND THEN
    RETURN v_existing;
  END IF;
  SELECT (t.memo ->> 'cents')::integer INTO v_existing FROM app.ledger_transactions t
   WHERE t.idempotency_key = 'credit_spent:' || p_session_id || ':' || p_payment_type;
  IF FOUND THEN
    RETURN p_amount_cents - v_existing;
  END IF;
  SELECT s.customer_id INTO v_customer FROM app.sessions s WHERE s.id = p_session_id;
  -- customer row first, then the credit account: the order every credit writer uses
  PERFORM 1 FROM app.customers c WHERE c.user_id = v_customer FOR NO KEY UPDATE;
  SELECT a.balance_cents INTO v_credit FROM app.ledger_accounts a
   WHERE a.kind = 'customer_credit' AND a.owner_id = v_customer AND a.currency = 'usd' FOR UPDATE;
  v_use := least(coalesce(v_credit, 0), p_amount_cents)::integer;
  IF v_use > 0 THEN
    PERFORM app_private.ledger_post('credit_spent', format('credit_spent:%s:%s', p_session_id, p_payment_type),
      jsonb_build_array(app_private.leg('customer_credit', v_customer, -v_use),
                        app_private.leg('session', p_session_id, v_use)),
      p_session_id, NULL, NULL, jsonb_build_object('payment_type', p_payment_type, 'cents', v_use));
  END IF;
  RETURN p_amount_cents - v_use;
END
$$;

-- session_credit_spent(session, payment type?): account credit spent on a session (on one of its
-- charges when a type is given). Definer helper.
CREATE OR REPLACE FUNCTION app_private.session_credit_spent(p_session_id uuid, p_payment_type text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN (SELECT coalesce(sum((t.memo ->> 'cents')::bigint), 0)::bigint FROM app.ledger_transactions t
           WHERE t.session_id = p_session_id AND t.kind = 'credit_spent'
             AND (p_payment_type IS NULL OR t.memo ->> 'payment_type' = p_payment_type));
END
$$;

-- return_session_credit(session): a session cancelled outside the cancellation policy (a hold that
-- lapsed or was given back, a booking whose card charge failed) gives back the credit it spent
-- (session pot -> customer_credit, key `credit_returned:<session>`). Its card money is refunded by
-- the payment functions. Idempotent. Definer helper (sessions trigger).
CREATE OR REPLACE FUNCTION app_private.return_session_credit(p_session_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_spent bigint := app_private.session_credit_spent(p_session_id);
BEGIN
  IF v_spent > 0 THEN
    PERFORM app_private.ledger_post('credit_returned', 'credit_returned:' || p_session_id,
      jsonb_build_array(app_private.leg('session', p_session_id, -v_spent),
                        app_private.leg('customer_credit', (SELECT s.customer_id FROM app.sessions s WHERE s.id = p_session_id),
                                        v_spent)),
      p_session_id, NULL, NULL, jsonb_build_object('cents', v_spent));
  END IF;
END
$$;

-- credit_adjusted(customer, new balance): make the ledger agree with a credit balance written
-- directly on app.customers (an admin's goodwill credit, a DBA's correction, a test factory): the
-- difference moves between platform_revenue and the customer's credit (key
-- `credit_adjusted:<customer>:<account version>`). Definer helper (customers trigger).
CREATE OR REPLACE FUNCTION app_private.credit_adjusted(p_customer_id uuid, p_target bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_account bigint := app_private.ledger_account('customer_credit', p_customer_id);
  v_balance bigint;
  v_version bigint;
BEGIN
  SELECT a.balance_cents, a.version INTO v_balance, v_version FROM app.ledger_accounts a WHERE a.id = v_account FOR UPDATE;
  IF p_target IS DISTINCT FROM v_balance THEN
    PERFORM app_private.ledger_post('credit_adjusted', format('credit_adjusted:%s:%s', p_customer_id, v_version),
      jsonb_build_array(app_private.leg('platform_revenue', NULL, v_balance - p_target),
                        app_private.leg('customer_credit', p_customer_id, p_target - v_balance)),
      NULL, NULL, NULL, jsonb_build_object('from_cents', v_balance, 'to_cents', p_target));
  END IF;
END
$$;

------------------------------------------------------------------------------------------------
-- Completion: the mechanic's share and the platform's commission
------------------------------------------------------------------------------------------------

-- settle_completed(session): share out what a completed session's pot holds: the mechanic gets
-- (100 - commission)% of everything paid for the session (cumulative, so money arriving later —
-- the in-person balance — is split the same way without rounding drift), the platform the rest.
-- Key `completion:<session>:<pot version>`: one split per state of the pot; run again, nothing
-- is left to split. A session without a mechanic leaves it all to the platform. Definer helper.
CREATE OR REPLACE FUNCTION app_private.settle_completed(p_session_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
  v_pot app.ledger_accounts;
  v_pct numeric;
  v_split bigint;           -- taken out of the pot by earlier splits
  v_paid_mechanic bigint;   -- of which the mechanic got
  v_mechanic bigint;
BEGIN
  SELECT * INTO v_s FROM app.sessions WHERE id = p_session_id;
  SELECT * INTO v_pot FROM app.ledger_accounts a
   WHERE a.kind = 'session' AND a.owner_id = p_session_id AND a.currency = 'usd' FOR UPDATE;
  IF v_pot.id IS NULL OR v_pot.balance_cents <= 0 OR v_s.status <> 'completed' THEN
    RETURN;
  END IF;
  v_pct := (app_private.session_money_policy(p_session_id)).commission_pct;
  SELECT coalesce(sum(-e.amount_cents) FILTER (WHERE e.account_id = v_pot.id), 0)::bigint,
         coalesce(sum(e.amount_cents) FILTER (WHERE a.kind = 'mechanic_payable'), 0)::bigint
    INTO v_split, v_paid_mechanic
    FROM app.ledger_transactions t
    JOIN app.ledger_entries e ON e.transaction_id = t.id
    JOIN app.ledger_accounts a ON a.id = e.account_id
   WHERE t.session_id = p_session_id AND t.kind = 'completion';
  IF v_s.mechanic_id IS NULL THEN
    v_mechanic := 0;
  ELSE
    v_mechanic := floor((v_pot.balance_cents + v_split) * (100 - v_pct) / 100)::bigint - v_paid_mechanic;
    v_mechanic := least(greatest(v_mechanic, 0), v_pot.balance_cents);
  END IF;
  PERFORM app_private.ledger_post('completion', format('completion:%s:%s', p_session_id, v_pot.version),
    jsonb_build_array(app_private.leg('session', p_session_id, -v_pot.balance_cents),
                      app_private.leg('mechanic_payable', v_s.mechanic_id, v_mechanic),
                      app_private.leg('platform_revenue', NULL, v_pot.balance_cents - v_mechanic)),
    p_session_id, NULL, NULL, jsonb_build_object('commission_pct', v_pct, 'mechanic_cents', v_mechanic,
                                                 'platform_cents', v_pot.balance_cents - v_mechanic));
END
$$;

------------------------------------------------------------------------------------------------
-- Reads (SECURITY INVOKER: row-level security on the ledger decides what the caller sees)
------------------------------------------------------------------------------------------------

-- api.my_credit(limit?): the calling customer's account credit: balance and history (newest
-- first), each movement with its kind, amount, session and the balance after it. Customers (RLS:
-- their own account only); other roles get a zero balance and no history.
CREATE OR REPLACE FUNCTION api.my_credit(p_limit integer DEFAULT 100) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_account app.ledger_accounts;
BEGIN
  SELECT * INTO v_account FROM app.ledger_accounts a
   WHERE a.kind = 'customer_credit' AND a.owner_id = app_private.current_user_id() AND a.currency = 'usd';
  RETURN jsonb_build_object(
    'balance_cents', coalesce(v_account.balance_cents, 0),
    'currency', 'usd',
    'history', coalesce((
      SELECT jsonb_agg(jsonb_build_object('at', h.created_at, 'kind', h.kind, 'amount_cents', h.amount_cents,
                                          'balance_after_cents', h.balance_after_cents, 'session_id', h.session_id)
                       ORDER BY h.id DESC)
        FROM (SELECT e.id, e.created_at, t.kind, e.amount_cents, e.balance_after_cents, t.session_id
                FROM app.ledger_entries e JOIN app.ledger_transactions t ON t.id = e.transaction_id
               WHERE e.account_id = v_account.id
               ORDER BY e.id DESC LIMIT least(greatest(coalesce(p_limit, 100), 0), 1000)) h), '[]'::jsonb));
END
$$;
COMMENT ON FUNCTION api.my_credit(integer) IS
  'The calling customer''s account credit: {balance_cents, currency, history: [{at, kind, amount_cents, balance_after_cents, session_id}]} newest first (p_limit, at most 1000). Credit never expires. Customer (RLS: own account).';
GRANT EXECUTE ON FUNCTION api.my_credit(integer) TO autodoc_customer;

-- api.my_earnings(from?, to?): the calling mechanic's earnings (their payable account) in
-- [from, to): total and one item per money event (session, kind, amount). Defaults: the last 30
-- days up to now. Mechanics (RLS: own account). Raises 422 invalid_value when from > to.
CREATE OR REPLACE FUNCTION api.my_earnings(p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_to timestamptz := coalesce(p_to, app_private.now());
  v_from timestamptz := coalesce(p_from, coalesce(p_to, app_private.now()) - interval '30 days');
  v_account app.ledger_accounts;
BEGIN
  IF v_from > v_to THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'from must not be after to',
                                    jsonb_build_object('field', 'from', 'from', v_from, 'to', v_to));
  END IF;
  SELECT * INTO v_account FROM app.ledger_accounts a
   WHERE a.kind = 'mechanic_payable' AND a.owner_id = app_private.current_user_id() AND a.currency = 'usd';
  RETURN (
    SELECT jsonb_build_object(
             'from', v_from, 'to', v_to, 'currency', 'usd',
             'total_cents', coalesce(sum(i.amount_cents), 0),
             'balance_cents', coalesce(v_account.balance_cents, 0),
             'items', coalesce(jsonb_agg(jsonb_build_object('at', i.created_at, 'kind', i.kind, 'session_id', i.session_id,
                                                            'amount_cents', i.amount_cents) ORDER BY i.id), '[]'::jsonb))
      FROM (SELECT e.id, e.created_at, t.kind, t.session_id, e.amount_cents
              FROM app.ledger_entries e JOIN app.ledger_transactions t ON t.id = e.transaction_id
             WHERE e.account_id = v_account.id AND e.created_at >= v_from AND e.created_at < v_to) i);
END
$$;
COMMENT ON FUNCTION api.my_earnings(timestamptz, timestamptz) IS
  'The calling mechanic''s earnings in [p_from, p_to) (default: the last 30 days): {from, to, currency, total_cents, balance_cents, items: [{at, kind, session_id, amount_cents}]} — kind cancellation (their share of a late cancellation or no-show) or completion (their share of a completed session). Mechanic (RLS: own account). Raises 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.my_earnings(timestamptz, timestamptz) TO autodoc_mechanic;

GRANT EXECUTE ON FUNCTION app_private.leg(text, uuid, bigint) TO autodoc_customer, autodoc_mechanic, autodoc_admin;

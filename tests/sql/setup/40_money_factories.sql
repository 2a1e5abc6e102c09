-- Factories for the money tests (band 40). Prefixed `money_`.

-- money_booking(): a customer (with account credit when asked), a mechanic (with a workshop for in
-- person; none at all when p_mechanic is false: deferred matching) and a scheduled appointment at
-- p_start, inserted directly so the charge triggers fire as for a real booking; the charge is
-- played through the worker's write-back when p_paid. Returns the session id.
CREATE OR REPLACE FUNCTION tests.money_booking(p_start timestamptz, p_mode text DEFAULT 'online',
                                               p_plan text DEFAULT 'standard', p_credit integer DEFAULT 0,
                                               p_paid boolean DEFAULT true, p_mechanic boolean DEFAULT true)
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  v_customer uuid := tests.se_customer();
  v_session uuid;
  v_payment uuid;
BEGIN
  IF p_credit > 0 THEN
    UPDATE app.customers SET credit_balance_cents = p_credit WHERE user_id = v_customer;
  END IF;
  v_session := tests.se_session(v_customer,
                                CASE WHEN p_mechanic THEN tests.se_mechanic('America/Toronto', p_mode = 'in_person') END,
                                p_start, p_mode, 'scheduled', p_plan);
  IF p_paid THEN
    FOR v_payment IN SELECT id FROM app.scheduled_payments WHERE session_id = v_session AND status = 'pending' LOOP
      PERFORM tests.se_charge_done(v_payment);
    END LOOP;
  END IF;
  RETURN v_session;
END
$$;

-- money_quote(session, at, reason): the breakdown cancelling at `at` would give.
CREATE OR REPLACE FUNCTION tests.money_quote(p_session uuid, p_at timestamptz, p_reason text DEFAULT 'customer')
RETURNS jsonb LANGUAGE sql AS $$
  SELECT app_private.cancellation_breakdown(s, p_reason, p_at) FROM app.sessions s WHERE s.id = p_session
$$;

-- money_refund_done(refund, status): play the worker for a refund: complete its outbox row.
CREATE OR REPLACE FUNCTION tests.money_refund_done(p_refund_id uuid, p_status text DEFAULT 'succeeded') RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_outbox bigint;
BEGIN
  SELECT o.id INTO STRICT v_outbox FROM app.outbox o
   WHERE o.kind = 'stripe.refund' AND o.payload ->> 'refund_id' = p_refund_id::text;
  PERFORM api.outbox_complete(v_outbox, 'test-worker',
    jsonb_build_object('refund_id', 're_' || replace(p_refund_id::text, '-', ''), 'status', p_status));
END
$$;

-- money_account(kind, owner): an account's kept balance (0 when it does not exist yet).
CREATE OR REPLACE FUNCTION tests.money_balance(p_kind text, p_owner uuid) RETURNS bigint
LANGUAGE sql AS $$
  SELECT coalesce((SELECT balance_cents FROM app.ledger_accounts WHERE kind = p_kind AND owner_id = p_owner), 0)
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

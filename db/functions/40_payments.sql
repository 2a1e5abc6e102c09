-- Payments with Stripe: charges (scheduled_payments), refunds (payment_refunds ledger) and webhook
-- events. The database decides amounts and outcomes; the worker only calls Stripe with the row's
-- persisted idempotency key and reports back through api.outbox_complete().
--
-- Status of a payment only moves forward: pending -> failed -> succeeded -> refunded (a failed
-- PaymentIntent may still succeed later; a success is never undone by a late failure event).

-- payment_status_rank(): the forward order of payment statuses.
CREATE OR REPLACE FUNCTION app_private.payment_status_rank(p_status text) RETURNS integer
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT CASE p_status WHEN 'pending' THEN 0 WHEN 'failed' THEN 1 WHEN 'succeeded' THEN 2 WHEN 'refunded' THEN 3 END
$$;

-- payment_ensure(): the one charge of a given type for a session, created with its outbox row in
-- the caller's transaction. Key `charge:<session>:<type>`: calling it twice (a trigger firing again,
-- a job re-run) creates nothing new and returns the existing payment. Nothing to charge (amount <= 0)
-- returns NULL. Definer helper for triggers and booking functions; raises nothing of its own.
CREATE OR REPLACE FUNCTION app_private.payment_ensure(
  p_session_id uuid, p_payment_type text, p_amount_cents integer
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_key text := 'charge:' || p_session_id || ':' || p_payment_type;
  v_customer uuid;
  v_payment_id uuid;
  v_email text;
BEGIN
  IF p_amount_cents IS NULL OR p_amount_cents <= 0 THEN
    RETURN NULL;
  END IF;
  SELECT s.customer_id, u.email INTO STRICT v_customer, v_email  -- the two facts needed, one read
    FROM app.sessions s JOIN app.users u ON u.id = s.customer_id WHERE s.id = p_session_id;
  INSERT INTO app.scheduled_payments (session_id, customer_id, amount_cents, payment_type, idempotency_key,
                                      created_at, updated_at)
  VALUES (p_session_id, v_customer, p_amount_cents, p_payment_type, v_key, app_private.now(), app_private.now())
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id INTO v_payment_id;
  IF v_payment_id IS NULL THEN
    SELECT id INTO v_payment_id FROM app.scheduled_payments WHERE idempotency_key = v_key;
    RETURN v_payment_id;
  END IF;
  PERFORM app_private.outbox_enqueue('stripe.charge', v_key,
    jsonb_build_object('payment_id', v_payment_id, 'session_id', p_session_id, 'amount_cents', p_amount_cents,
                       'currency', 'usd', 'payment_type', p_payment_type, 'customer_email', v_email),
    p_session_id);
  RETURN v_payment_id;
END
$$;

-- session_booking_charge(): what a booking (or a slot hold) charges up front — scheduled online: the
-- full plan price; in person: the deposit of the booking's money policy (never more than the
-- price). The customer's account credit is spent first; the card is charged for the rest, and not
-- at all when credit covers it (db/functions/40_ledger.sql, charge_after_credit). Immediate sessions
-- are charged after the waiver (session_immediate_charge). Returns the payment id or NULL.
CREATE OR REPLACE FUNCTION app_private.session_booking_charge(p_session_id uuid)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_mode text;
  v_price integer;
  v_scheduled timestamptz;
BEGIN
  SELECT s.service_mode, p.price_cents, s.scheduled_for INTO v_mode, v_price, v_scheduled
    FROM app.sessions s JOIN app.plans p ON p.code = s.plan_code WHERE s.id = p_session_id;
  IF v_scheduled IS NULL THEN
    RETURN NULL;
  ELSIF v_mode = 'in_person' THEN
    RETURN app_private.payment_ensure(p_session_id, 'deposit',
             app_private.charge_after_credit(p_session_id, 'deposit', app_private.session_deposit_cents(p_session_id)));
  ELSE
    RETURN app_private.payment_ensure(p_session_id, 'full', app_private.charge_after_credit(p_session_id, 'full', v_price));
  END IF;
END
$$;

-- session_immediate_charge(): an immediate session is charged the full plan price once its waiver
-- is signed (SPEC section 7; called by api.sign_waiver), account credit first. Key charge:<session>:full, so a second
-- call is the same charge; a decline cancels the session (payment_mark_failed). Returns the payment
-- id or NULL (a free plan).
CREATE OR REPLACE FUNCTION app_private.session_immediate_charge(p_session_id uuid)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN app_private.payment_ensure(p_session_id, 'full', app_private.charge_after_credit(p_session_id, 'full',
    (SELECT p.price_cents FROM app.sessions s JOIN app.plans p ON p.code = s.plan_code
      WHERE s.id = p_session_id AND s.scheduled_for IS NULL)));
END
$$;

-- session_balance_charge(): after an in-person service, the plan price minus the deposit (card and
-- credit paid for it), credit first again.
CREATE OR REPLACE FUNCTION app_private.session_balance_charge(p_session_id uuid)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_price integer;
  v_deposit integer;
BEGIN
  SELECT p.price_cents INTO v_price
    FROM app.sessions s JOIN app.plans p ON p.code = s.plan_code
   WHERE s.id = p_session_id AND s.service_mode = 'in_person' AND s.scheduled_for IS NOT NULL;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(sum(amount_cents), 0)::integer INTO v_deposit FROM app.scheduled_payments
   WHERE session_id = p_session_id AND payment_type = 'deposit';
  v_deposit := v_deposit + app_private.session_credit_spent(p_session_id, 'deposit')::integer;
  RETURN app_private.payment_ensure(p_session_id, 'balance',
           app_private.charge_after_credit(p_session_id, 'balance', v_price - v_deposit));
END
$$;

-- session_cancel_for_payment(): a failed booking charge cancels the booking (reason payment_failed)
-- through the booking domain's transition_session (lifecycle rules, audit log), which frees the
-- slot; sessions already under way or over are left alone. Returns whether it cancelled.
CREATE OR REPLACE FUNCTION app_private.session_cancel_for_payment(p_session_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM 1 FROM app.sessions
   WHERE id = p_session_id AND status IN ('held', 'scheduled', 'pending', 'waiting')
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM app_private.transition_session(p_session_id, 'cancelled', 'payment_failed',
                                         jsonb_build_object('via', 'payment_failed', 'at', app_private.now()));
  RETURN true;
END
$$;

-- payment_mark_succeeded(): the charge went through (worker write-back or webhook). Only moves a
-- pending/failed payment forward. A success that arrives after the booking was cancelled for a
-- failed payment, or after its hold lapsed or was given back without becoming a booking, is
-- refunded in full (money is never kept for a cancelled booking by mistake).
CREATE OR REPLACE FUNCTION app_private.payment_mark_succeeded(p_payment_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_payment app.scheduled_payments;
  v_session_status text;
  v_cancel_reason text;
  v_never_booked boolean;
BEGIN
  UPDATE app.scheduled_payments
     SET status = 'succeeded', charged_at = coalesce(charged_at, app_private.now()), updated_at = app_private.now()
   WHERE id = p_payment_id AND status IN ('pending', 'failed')
  RETURNING * INTO v_payment;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT status, cancel_reason, type IS NULL INTO v_session_status, v_cancel_reason, v_never_booked
    FROM app.sessions WHERE id = v_payment.session_id;
  IF v_session_status = 'cancelled' AND (v_cancel_reason = 'payment_failed' OR v_never_booked)
     AND v_payment.amount_cents > v_payment.refund_amount_cents THEN
    PERFORM app_private.payment_request_refund(p_payment_id, v_payment.amount_cents - v_payment.refund_amount_cents,
                                               'booking_cancelled', 'late_success:' || v_payment.payment_type);
  END IF;
  RETURN true;
END
$$;

-- payment_mark_failed(): the charge was declined (worker write-back or webhook). Only a pending
-- payment becomes failed; a booking charge that fails cancels its booking.
CREATE OR REPLACE FUNCTION app_private.payment_mark_failed(p_payment_id uuid, p_message text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_payment app.scheduled_payments;
BEGIN
  UPDATE app.scheduled_payments
     SET status = 'failed', failed_at = app_private.now(), failure_message = left(p_message, 500), updated_at = app_private.now()
   WHERE id = p_payment_id AND status = 'pending'
  RETURNING * INTO v_payment;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF v_payment.payment_type IN ('full', 'deposit') THEN
    PERFORM app_private.session_cancel_for_payment(v_payment.session_id);
  END IF;
  RETURN true;
END
$$;

-- refund_unbooked_hold(): a hold that lapsed or was given back never became a booking, so every
-- charge already taken for it is refunded in full (key refund:<session>:hold_released:<type>, so a
-- second call is the same refund). A charge still pending has its PaymentIntent cancelled
-- (cancel_unbooked_hold_intents) and is refunded by payment_mark_succeeded if it succeeds anyway.
-- Called by the money trigger on sessions (db/triggers/40_payments.sql) on held -> cancelled.
CREATE OR REPLACE FUNCTION app_private.refund_unbooked_hold(p_session_id uuid)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_payment app.scheduled_payments;
  v_count integer := 0;
BEGIN
  FOR v_payment IN
    SELECT * FROM app.scheduled_payments
     WHERE session_id = p_session_id AND status = 'succeeded' AND amount_cents > refund_amount_cents
  LOOP
    PERFORM app_private.payment_request_refund(v_payment.id, v_payment.amount_cents - v_payment.refund_amount_cents,
                                               'hold_released', 'hold_released:' || v_payment.payment_type);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;

-- cancel_unbooked_hold_intents(): a hold that lapsed or was given back while its charge is still
-- pending leaves a PaymentIntent the customer could still confirm. For each such payment this
-- enqueues `stripe.cancel_intent` (key cancel:<session>:<type>, so a second call is the same
-- cancel); the worker cancels the intent and api.outbox_complete records the outcome (see
-- stripe_cancel_intent_apply). The charge's own outbox row may not have run yet, so the payload carries
-- only the payment id: the worker reads the payment's PaymentIntent when it claims the row
-- (stripe_cancel_intent_context) and retries with backoff while there is none yet — the charge row
-- was enqueued first and runs first. (Skipping a not-yet-run charge instead would not be safe: a
-- charge row that failed an attempt may already have created its intent at Stripe.) Succeeded and
-- failed payments get nothing here (succeeded ones are refunded by refund_unbooked_hold).
-- Called by the money trigger on sessions (db/triggers/40_payments.sql) on held -> cancelled. raises nothing of its own.
CREATE OR REPLACE FUNCTION app_private.cancel_unbooked_hold_intents(p_session_id uuid)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_payment app.scheduled_payments;
  v_count integer := 0;
BEGIN
  FOR v_payment IN
    SELECT * FROM app.scheduled_payments WHERE session_id = p_session_id AND status = 'pending'
  LOOP
    PERFORM app_private.outbox_enqueue('stripe.cancel_intent', format('cancel:%s:%s', p_session_id, v_payment.payment_type),
      jsonb_build_object('payment_id', v_payment.id, 'session_id', p_session_id,
                         'payment_type', v_payment.payment_type, 'reason', 'hold_released', 'requested_at', app_private.now()),
      p_session_id);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;

-- payment_refresh_refunded(): a payment whose succeeded refunds cover the whole charge is 'refunded'.
CREATE OR REPLACE FUNCTION app_private.payment_refresh_refunded(p_payment_id uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  UPDATE app.scheduled_payments p
     SET status = 'refunded', refunded_at = coalesce(p.refunded_at, app_private.now()), charged_at = coalesce(p.charged_at, app_private.now()),
         updated_at = app_private.now()
   WHERE p.id = p_payment_id AND p.status <> 'refunded'
     AND (SELECT coalesce(sum(r.amount_cents), 0) FROM app.payment_refunds r
           WHERE r.payment_id = p.id AND r.status = 'succeeded') >= p.amount_cents;
END
$$;

-- payment_request_refund(): record a refund of p_amount_cents for one purpose (key
-- `refund:<session>:<purpose>`, e.g. `refund:<id>:tier_24h`) and enqueue it for the worker, in the
-- caller's transaction. The same purpose twice is one refund (returns the existing id). The refunded
-- total can never exceed the charge: checked here with the payment row locked, and enforced by the
-- scheduled_payments_refund_within_charge constraint the ledger trigger maintains.
-- Raises 404 payment_not_found, 409 payment_not_refundable, 409 refund_exceeds_charge, 422 invalid_amount.
CREATE OR REPLACE FUNCTION app_private.payment_request_refund(
  p_payment_id uuid, p_amount_cents integer, p_reason text, p_purpose text
) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_payment app.scheduled_payments;
  v_key text;
  v_refund_id uuid;
BEGIN
  SELECT * INTO v_payment FROM app.scheduled_payments WHERE id = p_payment_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'payment_not_found', 'No such payment', jsonb_build_object('payment_id', p_payment_id));
  END IF;
  v_key := format('refund:%s:%s', v_payment.session_id, p_purpose);
  SELECT id INTO v_refund_id FROM app.payment_refunds WHERE idempotency_key = v_key;
  IF FOUND THEN
    RETURN v_refund_id;
  END IF;
  IF p_amount_cents IS NULL OR p_amount_cents <= 0 THEN
    PERFORM app_private.raise_error(422, 'invalid_amount', 'A refund must be a positive amount',
                                    jsonb_build_object('amount_cents', p_amount_cents));
  END IF;
  IF v_payment.status NOT IN ('pending', 'succeeded') THEN
    PERFORM app_private.raise_error(409, 'payment_not_refundable', 'This payment cannot be refunded',
                                    jsonb_build_object('payment_id', p_payment_id, 'status', v_payment.status));
  END IF;
  IF p_amount_cents > v_payment.amount_cents - v_payment.refund_amount_cents THEN
    PERFORM app_private.raise_error(409, 'refund_exceeds_charge', 'The refund would exceed what was charged',
      jsonb_build_object('payment_id', p_payment_id, 'requested_cents', p_amount_cents,
                         'refundable_cents', v_payment.amount_cents - v_payment.refund_amount_cents));
  END IF;
  INSERT INTO app.payment_refunds (payment_id, amount_cents, reason, idempotency_key, requested_at)
  VALUES (p_payment_id, p_amount_cents, p_reason, v_key, app_private.now())
  RETURNING id INTO v_refund_id;
  UPDATE app.scheduled_payments SET refund_reason = p_reason, updated_at = app_private.now() WHERE id = p_payment_id;
  PERFORM app_private.outbox_enqueue('stripe.refund', v_key,
    jsonb_build_object('refund_id', v_refund_id, 'payment_id', p_payment_id, 'session_id', v_payment.session_id,
                       'amount_cents', p_amount_cents, 'reason', p_reason),
    v_payment.session_id);
  RETURN v_refund_id;
END
$$;

-- Outbox kinds of the money domain (registered at the end of this file). Each has a context
-- function (facts read when the worker claims the row; `skip` = the effect must not run) and an
-- apply function (api.outbox_complete writes the worker's result back through it, once per row).

-- stripe_charge_apply(): a charge ran. Link the PaymentIntent and its client secret, then
-- succeeded / declined (a decline is a result, not a failure: it cancels the booking).
CREATE OR REPLACE FUNCTION app_private.stripe_charge_apply(p_outbox_id bigint, p_payload jsonb, p_result jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_payment_id uuid := (p_payload ->> 'payment_id')::uuid;
BEGIN
  UPDATE app.scheduled_payments
     SET payment_intent_id = coalesce(payment_intent_id, p_result ->> 'payment_intent_id'),
         client_secret = coalesce(client_secret, p_result ->> 'client_secret'), updated_at = app_private.now()
   WHERE id = v_payment_id;
  IF p_result ->> 'status' = 'succeeded' THEN
    PERFORM app_private.payment_mark_succeeded(v_payment_id);
  ELSIF (p_result ->> 'declined')::boolean THEN
    PERFORM app_private.payment_mark_failed(v_payment_id, coalesce(p_result ->> 'error_message', 'declined'));
  END IF;
END
$$;

-- stripe_refund_context(): the refund's PaymentIntent and the payment's status, read at claim time
-- (the charge row may have run after the refund was requested). A payment that failed took no
-- money, so there is nothing to refund: skip ('payment_failed').
CREATE OR REPLACE FUNCTION app_private.stripe_refund_context(p_payload jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT jsonb_build_object('payment_intent_id', p.payment_intent_id, 'payment_status', p.status)
         || CASE WHEN p.status = 'failed' THEN jsonb_build_object('skip', 'payment_failed') ELSE '{}'::jsonb END
    INTO v
    FROM app.payment_refunds r JOIN app.scheduled_payments p ON p.id = r.payment_id
   WHERE r.id = (p_payload ->> 'refund_id')::uuid;
  RETURN v;
END
$$;

-- stripe_refund_apply(): link the Stripe refund and settle the ledger row: succeeded, or failed
-- (Stripe said failed/canceled, or the row was skipped because nothing had been charged — the
-- reservation against the charge is released).
CREATE OR REPLACE FUNCTION app_private.stripe_refund_apply(p_outbox_id bigint, p_payload jsonb, p_result jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_refund app.payment_refunds;
  v_failed constant boolean := p_result ->> 'status' IN ('failed', 'canceled', 'skipped');
BEGIN
  UPDATE app.payment_refunds r
     SET stripe_refund_id = coalesce(r.stripe_refund_id, p_result ->> 'refund_id'),
         status = CASE WHEN r.status <> 'requested' THEN r.status
                       WHEN p_result ->> 'status' = 'succeeded' THEN 'succeeded'
                       WHEN v_failed THEN 'failed'
                       ELSE r.status END,
         succeeded_at = CASE WHEN p_result ->> 'status' = 'succeeded' THEN coalesce(r.succeeded_at, app_private.now()) ELSE r.succeeded_at END,
         failed_at = CASE WHEN v_failed THEN coalesce(r.failed_at, app_private.now()) ELSE r.failed_at END
   WHERE r.id = (p_payload ->> 'refund_id')::uuid
  RETURNING * INTO v_refund;
  IF FOUND THEN
    PERFORM app_private.payment_refresh_refunded(v_refund.payment_id);
  END IF;
END
$$;

-- stripe_cancel_intent_context(): the payment's PaymentIntent and status, read at claim time (the
-- charge row may have linked its intent after the cancel was enqueued). A payment already
-- settled — succeeded (refunded by its own path) or refunded — is left alone: skip
-- ('payment_succeeded' / 'payment_refunded').
CREATE OR REPLACE FUNCTION app_private.stripe_cancel_intent_context(p_payload jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT jsonb_build_object('payment_intent_id', p.payment_intent_id, 'payment_status', p.status)
         || CASE WHEN p.status IN ('succeeded', 'refunded') THEN jsonb_build_object('skip', 'payment_' || p.status)
                 ELSE '{}'::jsonb END
    INTO v
    FROM app.scheduled_payments p
   WHERE p.id = (p_payload ->> 'payment_id')::uuid;
  RETURN v;
END
$$;

-- stripe_cancel_intent_apply(): `canceled` fails the still-pending payment ('cancelled: hold
-- released'; nothing was charged, and failed keeps the forward-only order: a success can still
-- follow and is then refunded); `succeeded` (Stripe refused because the customer confirmed first)
-- is a late success, which payment_mark_succeeded refunds in full; `skipped` changes nothing.
CREATE OR REPLACE FUNCTION app_private.stripe_cancel_intent_apply(p_outbox_id bigint, p_payload jsonb, p_result jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_payment_id uuid := (p_payload ->> 'payment_id')::uuid;
BEGIN
  IF p_result ->> 'status' = 'canceled' THEN
    PERFORM app_private.payment_mark_failed(v_payment_id, 'cancelled: hold released');
  ELSIF p_result ->> 'status' = 'succeeded' THEN
    PERFORM app_private.payment_mark_succeeded(v_payment_id);
  END IF;
END
$$;

GRANT EXECUTE ON FUNCTION app_private.stripe_charge_apply(bigint, jsonb, jsonb),
                          app_private.stripe_refund_context(jsonb),
                          app_private.stripe_refund_apply(bigint, jsonb, jsonb),
                          app_private.stripe_cancel_intent_context(jsonb),
                          app_private.stripe_cancel_intent_apply(bigint, jsonb, jsonb)
  TO autodoc_worker;

-- payment_for_intent(): the payment a PaymentIntent belongs to — by its id, or, when the
-- webhook beats the worker's write-back, by the payment_id we put in its metadata (then linked).
CREATE OR REPLACE FUNCTION app_private.payment_for_intent(p_intent jsonb)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid;
  v_meta text := p_intent -> 'metadata' ->> 'payment_id';
BEGIN
  SELECT id INTO v_id FROM app.scheduled_payments WHERE payment_intent_id = p_intent ->> 'id';
  IF v_id IS NULL AND v_meta ~ '^[0-9a-fA-F-]{36}$' THEN
    UPDATE app.scheduled_payments
       SET payment_intent_id = p_intent ->> 'id',
           client_secret = coalesce(client_secret, p_intent ->> 'client_secret'), updated_at = app_private.now()
     WHERE id = v_meta::uuid AND payment_intent_id IS NULL
    RETURNING id INTO v_id;
  END IF;
  RETURN v_id;
END
$$;

-- api.stripe_apply_event(): apply one verified Stripe webhook event. Recorded by event id first, so
-- a replayed or duplicate event returns duplicate = true and changes nothing; out-of-order events
-- cannot move a payment backwards (see the status order above). Handles payment_intent.succeeded,
-- payment_intent.payment_failed and charge.refunded; other types are recorded and ignored.
-- Worker role (the webhook endpoint runs it as autodoc_worker after checking the signature).
CREATE OR REPLACE FUNCTION api.stripe_apply_event(p_event jsonb)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id text := p_event ->> 'id';
  v_type text := p_event ->> 'type';
  v_obj jsonb := p_event -> 'data' -> 'object';
  v_payment_id uuid;
  v_outcome text;
  v_refund jsonb;
  v_ledger integer;
BEGIN
  IF v_id IS NULL OR v_type IS NULL OR v_obj IS NULL THEN
    PERFORM app_private.raise_error(422, 'invalid_event', 'Not a Stripe event');
  END IF;
  INSERT INTO app.stripe_events (id, type, received_at, payload) VALUES (v_id, v_type, app_private.now(), p_event)
  ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN jsonb_build_object('event_id', v_id, 'duplicate', true,
                              'outcome', (SELECT outcome FROM app.stripe_events WHERE id = v_id));
  END IF;

  IF v_type IN ('payment_intent.succeeded', 'payment_intent.payment_failed') THEN
    v_payment_id := app_private.payment_for_intent(v_obj);
    IF v_payment_id IS NULL THEN
      v_outcome := 'unknown_payment';
    ELSIF v_type = 'payment_intent.succeeded' THEN
      v_outcome := CASE WHEN app_private.payment_mark_succeeded(v_payment_id) THEN 'payment_succeeded' ELSE 'no_change' END;
    ELSE
      v_outcome := CASE WHEN app_private.payment_mark_failed(v_payment_id,
                               coalesce(v_obj -> 'last_payment_error' ->> 'message', 'payment failed'))
                        THEN 'payment_failed' ELSE 'no_change' END;
    END IF;
  ELSIF v_type = 'charge.refunded' THEN
    SELECT id INTO v_payment_id FROM app.scheduled_payments WHERE payment_intent_id = v_obj ->> 'payment_intent';
    IF v_payment_id IS NULL THEN
      v_outcome := 'unknown_payment';
    ELSE
      PERFORM 1 FROM app.scheduled_payments WHERE id = v_payment_id FOR UPDATE;
      -- Settle our ledger rows Stripe reports as refunded.
      FOR v_refund IN SELECT value FROM jsonb_array_elements(coalesce(v_obj -> 'refunds' -> 'data', '[]'::jsonb)) LOOP
        UPDATE app.payment_refunds r
           SET stripe_refund_id = coalesce(r.stripe_refund_id, v_refund ->> 'id'),
               status = CASE WHEN coalesce(v_refund ->> 'status', 'succeeded') = 'succeeded' THEN 'succeeded' ELSE r.status END,
               succeeded_at = coalesce(r.succeeded_at, app_private.now())
         WHERE r.payment_id = v_payment_id AND r.status <> 'failed'
           AND (r.stripe_refund_id = v_refund ->> 'id'
                OR (r.stripe_refund_id IS NULL AND r.id::text = v_refund -> 'metadata' ->> 'refund_id'));
      END LOOP;
      -- A refund made outside this system (e.g. the Stripe dashboard) still counts: record the
      -- difference so the ledger matches Stripe (it cannot exceed the charge; Stripe refuses that).
      SELECT coalesce(sum(amount_cents), 0)::integer INTO v_ledger FROM app.payment_refunds
       WHERE payment_id = v_payment_id AND status = 'succeeded';
      IF (v_obj ->> 'amount_refunded')::integer > v_ledger
         AND NOT EXISTS (SELECT 1 FROM app.payment_refunds WHERE payment_id = v_payment_id AND status = 'requested') THEN
        INSERT INTO app.payment_refunds (payment_id, amount_cents, reason, status, idempotency_key, requested_at, succeeded_at)
        VALUES (v_payment_id, (v_obj ->> 'amount_refunded')::integer - v_ledger, 'external', 'succeeded',
                'refund:external:' || v_id, app_private.now(), app_private.now())
        ON CONFLICT (idempotency_key) DO NOTHING;
      END IF;
      PERFORM app_private.payment_refresh_refunded(v_payment_id);
      v_outcome := 'refund_recorded';
    END IF;
  ELSE
    v_outcome := 'ignored';
  END IF;

  UPDATE app.stripe_events SET processed_at = app_private.now(), outcome = v_outcome WHERE id = v_id;
  RETURN jsonb_build_object('event_id', v_id, 'duplicate', false, 'outcome', v_outcome);
END
$$;
COMMENT ON FUNCTION api.stripe_apply_event(jsonb) IS
  'Apply a verified Stripe webhook event once (recorded by event id; replays change nothing). Worker role.';
GRANT EXECUTE ON FUNCTION api.stripe_apply_event(jsonb) TO autodoc_worker;

-- api.session_payments(): the payments of one session as the caller may see them (RLS: the
-- customer their own, admins all), with the client secret the frontend confirms a charge with.
CREATE OR REPLACE FUNCTION api.session_payments(p_session_id uuid)
RETURNS TABLE (id uuid, session_id uuid, payment_type text, amount_cents integer, currency text, status text,
               payment_intent_id text, client_secret text, refund_amount_cents integer, refunded_at timestamptz,
               charged_at timestamptz, created_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  -- RLS decides: a session (hold or appointment) the caller cannot see is not found, like everywhere else.
  IF NOT EXISTS (SELECT FROM app.sessions s WHERE s.id = p_session_id) THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'No such session', jsonb_build_object('session_id', p_session_id));
  END IF;
  RETURN QUERY
  SELECT p.id, p.session_id, p.payment_type, p.amount_cents, p.currency, p.status, p.payment_intent_id,
         p.client_secret, p.refund_amount_cents, p.refunded_at, p.charged_at, p.created_at
    FROM app.scheduled_payments p
   WHERE p.session_id = p_session_id
   ORDER BY p.created_at, p.payment_type;
END
$$;
COMMENT ON FUNCTION api.session_payments(uuid) IS
  'Payments of a session or hold (customer: own; admin: all), with the PaymentIntent client secret. Customer, admin. Raises 404 session_not_found (also when not the caller''s).';
GRANT EXECUTE ON FUNCTION api.session_payments(uuid) TO autodoc_customer, autodoc_admin;

-- api.request_refund(): an admin refunds part or all of a payment for a named purpose (the purpose
-- makes a double submit one refund). Admin role. Raises like app_private.payment_request_refund.
CREATE OR REPLACE FUNCTION api.request_refund(
  p_payment_id uuid, p_amount_cents integer, p_purpose text, p_reason text DEFAULT 'admin'
) RETURNS jsonb
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_refund_id uuid;
BEGIN
  IF NOT app_private.is_admin() THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only admins can issue refunds');
  END IF;
  IF p_purpose IS NULL OR btrim(p_purpose) = '' THEN
    PERFORM app_private.raise_error(422, 'validation_error', 'A refund needs a purpose');
  END IF;
  v_refund_id := app_private.payment_request_refund(p_payment_id, p_amount_cents, p_reason, 'admin:' || p_purpose);
  RETURN (SELECT jsonb_build_object('refund_id', r.id, 'payment_id', r.payment_id, 'amount_cents', r.amount_cents,
                                    'status', r.status, 'idempotency_key', r.idempotency_key)
            FROM app.payment_refunds r WHERE r.id = v_refund_id);
END
$$;
COMMENT ON FUNCTION api.request_refund(uuid, integer, text, text) IS
  'Refund part or all of a payment (idempotent per purpose; never more than charged). Admin role. Raises 404 payment_not_found, 409 payment_not_refundable, 409 refund_exceeds_charge, 422 invalid_amount.';
GRANT EXECUTE ON FUNCTION api.request_refund(uuid, integer, text, text) TO autodoc_admin;
GRANT EXECUTE ON FUNCTION app_private.payment_request_refund(uuid, integer, text, text) TO autodoc_admin;

-- The money domain's outbox kinds (app.outbox_kinds; see db/functions/30_outbox.sql). Stripe calls
-- share the `stripe` lane; 8 attempts, 5 s doubling to at most an hour.
SELECT app_private.outbox_register_kind('stripe.charge', 40::smallint, 'money', NULL,
  'app_private.stripe_charge_apply(bigint, jsonb, jsonb)', 8, 5, 3600, 'stripe',
  'Create (and locally confirm) the PaymentIntent of one payment.');
SELECT app_private.outbox_register_kind('stripe.refund', 40::smallint, 'money',
  'app_private.stripe_refund_context(jsonb)', 'app_private.stripe_refund_apply(bigint, jsonb, jsonb)', 8, 5, 3600, 'stripe',
  'Refund part of a charge (skipped when the payment failed: nothing was charged).');
SELECT app_private.outbox_register_kind('stripe.cancel_intent', 40::smallint, 'money',
  'app_private.stripe_cancel_intent_context(jsonb)', 'app_private.stripe_cancel_intent_apply(bigint, jsonb, jsonb)',
  8, 5, 3600, 'stripe',
  'Cancel the open PaymentIntent of a hold given back (skipped when the payment already settled).');

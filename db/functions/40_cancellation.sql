-- Cancellation under the booking's policy (SPEC section 7): the quote, the one internal path every
-- policy cancellation takes (customer, admin, and the no-show / missing-waiver cancellations of the
-- lifecycle band), and the customer/admin API.
--
-- The breakdown, decided once from the session's policy version at the trusted clock's now:
--   paid     = what is in the session's pot (card charges that succeeded + credit spent on it)
--   refund   = floor(paid * refund_pct / 100) - fee (never below 0); the fee is what it took off
--   credit   = floor(paid * credit_pct / 100)
--   mechanic = floor(paid * mechanic_pct / 100)   (no mechanic assigned yet: added to the credit)
--   platform = paid - refund - credit - mechanic  (the fee and rounding included)
-- The refund goes back to the card, at most what the card paid net of earlier refunds; any rest
-- of it (the part paid with credit) is returned as credit. So paid = refund + credit + mechanic +
-- platform always (a CHECK on app.session_cancellations keeps it).

-- cancellation_tier(session, reason, at): the policy row that applies. reason no_show /
-- missing_waiver / unmatched pick that tier; any other reason picks the lead-time tier of (start - at), bands
-- [min_lead, max_lead) (so exactly 24 h before is the >= 24 h tier). Definer helper.
CREATE OR REPLACE FUNCTION app_private.cancellation_tier(p_session app.sessions, p_reason text, p_at timestamptz)
RETURNS app.cancellation_policies
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v app.cancellation_policies;
  v_lead interval := coalesce(p_session.scheduled_for, p_session.created_at) - p_at;
BEGIN
  IF p_reason IN ('no_show', 'missing_waiver', 'unmatched') THEN
    SELECT * INTO v FROM app.cancellation_policies c
     WHERE c.version = p_session.money_policy_version AND c.service_mode = p_session.service_mode AND c.tier = p_reason;
  ELSE
    SELECT * INTO v FROM app.cancellation_policies c
     WHERE c.version = p_session.money_policy_version AND c.service_mode = p_session.service_mode
       AND c.tier NOT IN ('no_show', 'missing_waiver', 'unmatched')
       AND (c.min_lead IS NULL OR v_lead >= c.min_lead) AND (c.max_lead IS NULL OR v_lead < c.max_lead);
  END IF;
  IF v.tier IS NULL THEN
    PERFORM app_private.raise_error(500, 'no_money_policy', 'No cancellation tier applies',
      jsonb_build_object('version', p_session.money_policy_version, 'service_mode', p_session.service_mode,
                         'reason', p_reason));
  END IF;
  RETURN v;
END
$$;

-- cancellation_breakdown(session, reason, at): the quote. While a charge is still being processed
-- its amount counts as paid and payment_pending is true (cancelling then is refused, see
-- cancel_with_policy). Definer helper; raises like cancellation_tier.
CREATE OR REPLACE FUNCTION app_private.cancellation_breakdown(p_session app.sessions, p_reason text, p_at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_tier app.cancellation_policies := app_private.cancellation_tier(p_session, p_reason, p_at);
  v_pending bigint;
  v_card bigint;
  v_paid bigint;
  v_refund_gross bigint;
  v_refund bigint;
  v_credit bigint;
  v_mechanic bigint;
BEGIN
  SELECT coalesce(sum(p.amount_cents) FILTER (WHERE p.status = 'pending'), 0),
         coalesce(sum(p.amount_cents - p.refund_amount_cents) FILTER (WHERE p.status IN ('pending', 'succeeded')), 0)
    INTO v_pending, v_card
    FROM app.scheduled_payments p WHERE p.session_id = p_session.id;
  v_paid := app_private.session_pot_balance(p_session.id) + v_pending;
  v_refund_gross := floor(v_paid * v_tier.refund_pct / 100)::bigint;
  v_refund := greatest(v_refund_gross - v_tier.fee_cents, 0);
  v_credit := floor(v_paid * v_tier.credit_pct / 100)::bigint;
  v_mechanic := floor(v_paid * v_tier.mechanic_pct / 100)::bigint;
  IF p_session.mechanic_id IS NULL THEN  -- nobody's time was booked: the customer keeps that share as credit
    v_credit := v_credit + v_mechanic;
    v_mechanic := 0;
  END IF;
  IF v_refund > v_card THEN  -- paid with credit: that part of the refund goes back as credit
    v_credit := v_credit + v_refund - v_card;
    v_refund := v_card;
  END IF;
  RETURN jsonb_build_object(
    'session_id', p_session.id, 'tier', v_tier.tier, 'description', v_tier.description,
    'policy_version', v_tier.version, 'service_mode', p_session.service_mode, 'currency', 'usd',
    'lead_seconds', floor(extract(epoch FROM coalesce(p_session.scheduled_for, p_session.created_at) - p_at))::bigint,
    'paid_cents', v_paid, 'refund_cents', v_refund, 'fee_cents', v_refund_gross - greatest(v_refund_gross - v_tier.fee_cents, 0),
    'credit_cents', v_credit, 'mechanic_cents', v_mechanic,
    'platform_cents', v_paid - v_refund - v_credit - v_mechanic,
    'payment_pending', v_pending > 0);
END
$$;

-- cancellation_receipt(session): the recorded breakdown of a policy cancellation as
-- {"cancellation": {...}}, or {} when the session was not cancelled under the policy. The
-- cancellation emails carry it (db/functions/50_notifications.sql). Definer helper.
CREATE OR REPLACE FUNCTION app_private.cancellation_receipt(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT jsonb_build_object(
           'session_id', c.session_id, 'tier', c.tier, 'description', p.description, 'policy_version', c.policy_version,
           'service_mode', c.service_mode, 'currency', c.currency, 'reason', c.reason, 'lead_seconds', c.lead_seconds,
           'paid_cents', c.paid_cents, 'refund_cents', c.refund_cents, 'fee_cents', c.fee_cents,
           'credit_cents', c.credit_cents, 'mechanic_cents', c.mechanic_cents, 'platform_cents', c.platform_cents,
           'cancelled_at', c.cancelled_at)
    INTO v
    FROM app.session_cancellations c
    JOIN app.cancellation_policies p ON (p.version, p.service_mode, p.tier) = (c.policy_version, c.service_mode, c.tier)
   WHERE c.session_id = p_session_id;
  RETURN CASE WHEN v IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('cancellation', v) END;
END
$$;

-- cancel_with_policy(session, reason, note?): THE policy cancellation. reason: customer | admin
-- (lead-time tiers; a scheduled appointment that is scheduled or pending), no_show | missing_waiver
-- (their own tiers; the session's cancel_reason becomes no_show / waiver_missing; called by the
-- lifecycle band's app_private.cancel_unsigned; also an immediate session that is waiting),
-- unmatched (its own tier, everything back; matching's app_private.refund_unmatched: a scheduled
-- booking without a mechanic; the session's cancel_reason becomes expired). Locks the customer's row, then the session (the booking functions' order),
-- so two cancels at once are serialised: the second finds the recorded cancellation and returns
-- its breakdown with already_cancelled = true, refunding nothing again. Otherwise: records the
-- breakdown, cancels the session through transition_session (lifecycle rules, audit log, emails
-- with the receipt), posts the cancellation (session pot -> credit, mechanic, platform) and asks
-- for the card refund through the refund path (key `refund:<session>:<tier>`).
-- No caller check (callers check). Raises 404 session_not_found, 409 not_cancellable (not a
-- scheduled session that is scheduled/pending), 409 payment_pending (a charge is still being
-- processed: try again shortly), 422 invalid_value (reason).
CREATE OR REPLACE FUNCTION app_private.cancel_with_policy(p_session_id uuid, p_reason text, p_note text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
  v_b jsonb;
  v_now timestamptz := app_private.now();
  v_refund bigint;
  v_part bigint;
  v_payment app.scheduled_payments;
  v_first boolean := true;
BEGIN
  PERFORM app_private.require_choice(p_reason, 'reason', ARRAY['customer', 'admin', 'no_show', 'missing_waiver', 'unmatched']);
  PERFORM 1 FROM app.customers c
   WHERE c.user_id = (SELECT s.customer_id FROM app.sessions s WHERE s.id = p_session_id)
     FOR NO KEY UPDATE;
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id FOR UPDATE;
  IF v_s.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  v_b := app_private.cancellation_receipt(p_session_id) -> 'cancellation';
  IF v_b IS NOT NULL THEN
    RETURN v_b || jsonb_build_object('already_cancelled', true);
  END IF;
  IF v_s.type IS NULL OR (p_reason IN ('customer', 'admin')
                          AND (v_s.status NOT IN ('scheduled', 'pending') OR v_s.scheduled_for IS NULL))
     OR (p_reason IN ('no_show', 'missing_waiver') AND v_s.status NOT IN ('scheduled', 'pending', 'waiting'))
     OR (p_reason = 'unmatched' AND (v_s.status NOT IN ('scheduled', 'pending') OR v_s.scheduled_for IS NULL
                                     OR v_s.mechanic_id IS NOT NULL)) THEN
    PERFORM app_private.raise_error(409, 'not_cancellable', format('A session that is %s cannot be cancelled', v_s.status),
      jsonb_build_object('session_id', v_s.id, 'status', v_s.status, 'is_immediate', v_s.scheduled_for IS NULL));
  END IF;
  v_b := app_private.cancellation_breakdown(v_s, p_reason, v_now);
  -- A customer waits for the charge to settle; the no-show job and the mechanic cannot wait: they
  -- share out what has been paid (a charge that succeeds later lands in the session's pot, and
  -- reconciliation reports it as session_unsettled).
  -- A refund in full (unmatched) waits too: it must include the charge still being processed.
  IF (v_b ->> 'payment_pending')::boolean AND p_reason IN ('customer', 'admin', 'unmatched') THEN
    PERFORM app_private.raise_error(409, 'payment_pending',
      'The payment for this booking is still being processed; try again in a minute',
      jsonb_build_object('session_id', v_s.id));
  END IF;

  INSERT INTO app.session_cancellations (session_id, policy_version, service_mode, tier, reason, note, lead_seconds,
                                         currency, paid_cents, refund_cents, fee_cents, credit_cents, mechanic_cents,
                                         platform_cents, cancelled_by, cancelled_at)
  VALUES (v_s.id, (v_b ->> 'policy_version')::int, v_s.service_mode, v_b ->> 'tier', p_reason, left(p_note, 500),
          (v_b ->> 'lead_seconds')::bigint, 'usd', (v_b ->> 'paid_cents')::int, (v_b ->> 'refund_cents')::int,
          (v_b ->> 'fee_cents')::int, (v_b ->> 'credit_cents')::int, (v_b ->> 'mechanic_cents')::int,
          (v_b ->> 'platform_cents')::int, app_private.current_user_id(), v_now);

  -- emails (with the receipt just recorded), CANCEL invites, reminders stopped: the sessions triggers
  PERFORM app_private.transition_session(v_s.id, 'cancelled',
    CASE p_reason WHEN 'missing_waiver' THEN 'waiver_missing' WHEN 'unmatched' THEN 'expired' ELSE p_reason END,
    jsonb_build_object('via', CASE p_reason WHEN 'missing_waiver' THEN 'waiver_missing' WHEN 'no_show' THEN 'no_show'
                                            WHEN 'unmatched' THEN 'unmatched' ELSE 'cancel_session' END,
                       'tier', v_b ->> 'tier', 'at', v_now));

  PERFORM app_private.ledger_post('cancellation', 'cancellation:' || v_s.id,
    jsonb_build_array(
      app_private.leg('session', v_s.id, -((v_b ->> 'paid_cents')::bigint - (v_b ->> 'refund_cents')::bigint)),
      app_private.leg('customer_credit', v_s.customer_id, (v_b ->> 'credit_cents')::bigint),
      app_private.leg('mechanic_payable', v_s.mechanic_id, (v_b ->> 'mechanic_cents')::bigint),
      app_private.leg('platform_revenue', NULL, (v_b ->> 'platform_cents')::bigint)),
    v_s.id, NULL, NULL, jsonb_build_object('tier', v_b ->> 'tier', 'reason', p_reason));

  -- The card refund, from the session's charges in the order they were made (normally one).
  v_refund := (v_b ->> 'refund_cents')::bigint;
  FOR v_payment IN
    SELECT * FROM app.scheduled_payments p
     WHERE p.session_id = v_s.id AND p.status = 'succeeded' AND p.amount_cents > p.refund_amount_cents
     ORDER BY p.created_at, p.payment_type
  LOOP
    EXIT WHEN v_refund <= 0;
    v_part := least(v_refund, v_payment.amount_cents - v_payment.refund_amount_cents);
    PERFORM app_private.payment_request_refund(v_payment.id, v_part::integer, 'cancellation',
              CASE WHEN v_first THEN v_b ->> 'tier' ELSE (v_b ->> 'tier') || ':' || v_payment.payment_type END);
    v_refund := v_refund - v_part;
    v_first := false;
  END LOOP;
  RETURN v_b - 'payment_pending' || jsonb_build_object('reason', p_reason, 'cancelled_at', v_now,
                                                       'already_cancelled', false);
END
$$;

-- cancellable_session(session): the session for api.cancel_session / api.cancellation_quote when
-- the caller may cancel it: the customer their own, an admin any. Raises 404 session_not_found
-- (also when not the caller's: another customer's session is not found). Definer helper.
CREATE OR REPLACE FUNCTION app_private.cancellable_session(p_session_id uuid) RETURNS app.sessions
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v app.sessions;
BEGIN
  SELECT * INTO v FROM app.sessions s
   WHERE s.id = p_session_id AND s.type IS NOT NULL
     AND (app_private.is_admin()
          OR (app_private.current_app_role() = 'customer' AND s.customer_id = app_private.current_user_id()));
  IF v.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  RETURN v;
END
$$;

-- api.cancellation_quote(session): what cancelling now would do, without cancelling:
-- {session_id, tier, description, policy_version, service_mode, currency, lead_seconds,
-- paid_cents, refund_cents, fee_cents, credit_cents, mechanic_cents, platform_cents,
-- payment_pending, already_cancelled}. A session already cancelled under the policy returns its
-- recorded breakdown (already_cancelled = true). The session's customer or an admin.
-- Raises 404 session_not_found, 409 not_cancellable.
CREATE OR REPLACE FUNCTION api.cancellation_quote(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_s app.sessions := app_private.cancellable_session(p_session_id);
  v_done jsonb := app_private.cancellation_receipt(p_session_id) -> 'cancellation';
BEGIN
  IF v_done IS NOT NULL THEN
    RETURN v_done || jsonb_build_object('already_cancelled', true, 'payment_pending', false);
  END IF;
  IF v_s.status NOT IN ('scheduled', 'pending') OR v_s.scheduled_for IS NULL THEN
    PERFORM app_private.raise_error(409, 'not_cancellable', format('A session that is %s cannot be cancelled', v_s.status),
      jsonb_build_object('session_id', v_s.id, 'status', v_s.status, 'is_immediate', v_s.scheduled_for IS NULL));
  END IF;
  RETURN app_private.cancellation_breakdown(v_s, CASE WHEN app_private.is_admin() THEN 'admin' ELSE 'customer' END,
                                            app_private.now())
         || jsonb_build_object('already_cancelled', false);
END
$$;
COMMENT ON FUNCTION api.cancellation_quote(uuid) IS
  'What cancelling a scheduled appointment now would do, without cancelling: {session_id, tier, description, policy_version, service_mode, currency, lead_seconds, paid_cents, refund_cents, fee_cents, credit_cents, mechanic_cents, platform_cents, payment_pending, already_cancelled}. Uses the policy version the session was booked under. The session''s customer or an admin. Raises 404 session_not_found (also another customer''s session), 409 not_cancellable.';
GRANT EXECUTE ON FUNCTION api.cancellation_quote(uuid) TO autodoc_customer, autodoc_admin;

-- api.cancel_session(session, reason?): cancel a scheduled appointment under the policy it was
-- booked under, at the trusted clock's now. The customer cancels their own (reason customer), an
-- admin any (reason admin); p_reason is a free-text note kept with the receipt. Returns the
-- breakdown (as api.cancellation_quote, plus reason and cancelled_at). Cancelling twice (double
-- click, two tabs) returns the first breakdown with already_cancelled = true and refunds once.
-- Raises 404 session_not_found, 409 not_cancellable, 409 payment_pending.
CREATE OR REPLACE FUNCTION api.cancel_session(p_session_id uuid, p_reason text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.cancellable_session(p_session_id);
  RETURN app_private.cancel_with_policy(p_session_id, CASE WHEN app_private.is_admin() THEN 'admin' ELSE 'customer' END,
                                        p_reason);
END
$$;
COMMENT ON FUNCTION api.cancel_session(uuid, text) IS
  'Cancel a scheduled appointment (status scheduled or pending) under the policy version it was booked under, at the trusted clock''s now: refund to the card through Stripe (outbox key refund:<session>:<tier>), account credit, the mechanic''s share, the platform''s; emails with the receipt. Returns {session_id, tier, description, policy_version, service_mode, currency, lead_seconds, paid_cents, refund_cents, fee_cents, credit_cents, mechanic_cents, platform_cents, reason, cancelled_at, already_cancelled}. A second call returns the first breakdown with already_cancelled = true and refunds nothing again. p_reason: an optional note. The session''s customer or an admin. Raises 404 session_not_found (also another customer''s session), 409 not_cancellable, 409 payment_pending (a charge is still being processed: retry shortly).';
GRANT EXECUTE ON FUNCTION api.cancel_session(uuid, text) TO autodoc_customer, autodoc_admin;

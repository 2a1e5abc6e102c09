-- Asking Stripe for what it never told us (issue 15). A webhook lost while the API was down (the
-- local Stripe server never retries, and real Stripe gives up after 3 days) would leave a payment
-- or refund pending for ever. A pg_cron job (db/jobs/40_stripe_sync.sql) finds payments and refunds
-- still pending past a threshold and enqueues one `stripe.sync` effect per payment; the worker
-- retrieves the PaymentIntent (and, for refunds, the Charge with its refunds) and the result is
-- applied through api.stripe_apply_event — the very function the webhook uses — as a synthetic
-- event (id `sync:<outbox id>:<object>`), so what a late webhook or a second lookup brings changes
-- nothing twice.

-- api.stripe_sync_pending(): enqueue a Stripe lookup for every payment whose PaymentIntent is still
-- pending, or which has a refund still requested, p_older_than after it was last changed (and not
-- older than p_max_age: past that, an operator looks). At most one lookup per payment per
-- p_older_than (a payment the customer never confirms is asked about at that pace, not every run).
-- Returns how many lookups it enqueued. Safe to run twice, also at once (unique keys). Owner (pg_cron), admin.
CREATE OR REPLACE FUNCTION api.stripe_sync_pending(p_older_than interval DEFAULT '15 minutes',
                                                   p_max_age interval DEFAULT '7 days')
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
  v_payment record;
  v_count integer := 0;
BEGIN
  FOR v_payment IN
    SELECT p.id, p.session_id FROM app.scheduled_payments p
     WHERE p.created_at > v_now - p_max_age
       AND ((p.status = 'pending' AND p.payment_intent_id IS NOT NULL AND p.updated_at <= v_now - p_older_than)
            OR EXISTS (SELECT 1 FROM app.payment_refunds r
                        WHERE r.payment_id = p.id AND r.status = 'requested' AND r.stripe_refund_id IS NOT NULL
                          AND r.requested_at <= v_now - p_older_than))
       AND NOT EXISTS (SELECT 1 FROM app.outbox o
                        WHERE o.kind = 'stripe.sync' AND o.session_id = p.session_id
                          AND o.payload ->> 'payment_id' = p.id::text
                          AND (o.status IN ('pending', 'running') OR o.created_at > v_now - p_older_than))
  LOOP
    PERFORM app_private.outbox_enqueue('stripe.sync',
      format('sync:%s:%s', v_payment.id, floor(extract(epoch FROM v_now))::bigint),
      jsonb_build_object('payment_id', v_payment.id, 'session_id', v_payment.session_id), v_payment.session_id);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.stripe_sync_pending(interval, interval) IS
  'Enqueue a Stripe lookup (outbox kind stripe.sync) for each payment still pending, or with a refund still requested, p_older_than after its last change (webhooks lost); applied like the webhook, idempotently. pg_cron every 5 minutes; admin.';
GRANT EXECUTE ON FUNCTION api.stripe_sync_pending(interval, interval) TO autodoc_admin;

-- stripe_sync_context(): at claim time, what is still unknown: the payment's PaymentIntent and
-- status, and the Stripe ids of its refunds still requested. Nothing left to ask about (the
-- webhook or the worker's write-back settled it meanwhile): skip ('settled').
CREATE OR REPLACE FUNCTION app_private.stripe_sync_context(p_payload jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT jsonb_build_object(
           'payment_intent_id', p.payment_intent_id, 'payment_status', p.status,
           'requested_refunds', coalesce((SELECT jsonb_agg(r.stripe_refund_id ORDER BY r.requested_at)
                                            FROM app.payment_refunds r
                                           WHERE r.payment_id = p.id AND r.status = 'requested'
                                             AND r.stripe_refund_id IS NOT NULL), '[]'::jsonb))
    INTO v
    FROM app.scheduled_payments p
   WHERE p.id = (p_payload ->> 'payment_id')::uuid;
  IF v IS NULL THEN
    RETURN jsonb_build_object('skip', 'payment_gone');
  ELSIF NOT (v ->> 'payment_status' = 'pending' AND v ->> 'payment_intent_id' IS NOT NULL)
        AND jsonb_array_length(v -> 'requested_refunds') = 0 THEN
    RETURN v || jsonb_build_object('skip', 'settled');
  END IF;
  RETURN v;
END
$$;

-- stripe_sync_apply(): what Stripe said, applied through api.stripe_apply_event as the webhook
-- would have delivered it: a succeeded PaymentIntent as payment_intent.succeeded, one that needs a
-- new payment method after an error as payment_intent.payment_failed, a Charge with refunds as
-- charge.refunded. Any other state (the customer has not confirmed yet) changes nothing.
CREATE OR REPLACE FUNCTION app_private.stripe_sync_apply(p_outbox_id bigint, p_payload jsonb, p_result jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_intent jsonb := p_result -> 'payment_intent';
  v_charge jsonb := p_result -> 'charge';
  v_type text;
BEGIN
  IF jsonb_typeof(v_intent) = 'object' THEN
    v_type := CASE WHEN v_intent ->> 'status' = 'succeeded' THEN 'payment_intent.succeeded'
                   WHEN v_intent ->> 'status' = 'requires_payment_method'
                        AND jsonb_typeof(v_intent -> 'last_payment_error') = 'object' THEN 'payment_intent.payment_failed'
              END;
    IF v_type IS NOT NULL THEN
      PERFORM api.stripe_apply_event(jsonb_build_object('id', format('sync:%s:payment_intent', p_outbox_id),
                                                        'type', v_type, 'data', jsonb_build_object('object', v_intent)));
    END IF;
  END IF;
  IF jsonb_typeof(v_charge) = 'object' AND jsonb_array_length(coalesce(v_charge -> 'refunds' -> 'data', '[]'::jsonb)) > 0 THEN
    PERFORM api.stripe_apply_event(jsonb_build_object('id', format('sync:%s:charge', p_outbox_id),
                                                      'type', 'charge.refunded', 'data', jsonb_build_object('object', v_charge)));
  END IF;
END
$$;

GRANT EXECUTE ON FUNCTION app_private.stripe_sync_context(jsonb), app_private.stripe_sync_apply(bigint, jsonb, jsonb)
  TO autodoc_worker;

SELECT app_private.outbox_register_kind('stripe.sync', 40::smallint, 'money',
  'app_private.stripe_sync_context(jsonb)', 'app_private.stripe_sync_apply(bigint, jsonb, jsonb)', 5, 30, 3600, 'stripe',
  'Ask Stripe for the state of a payment (and its refunds) still pending past a threshold; applied like the webhook.');

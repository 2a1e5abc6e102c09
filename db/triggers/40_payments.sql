-- Money triggers: the refund ledger keeps its payment's refunded total; sessions ask for charges and refunds.

-- Refund ledger -> payment: keep scheduled_payments.refund_amount_cents equal to the sum of the
-- payment's live (not failed) refunds. Increments, not a re-sum: under concurrent inserts each
-- UPDATE re-reads the latest payment row, so the CHECK scheduled_payments_refund_within_charge sees
-- the true total and rejects an over-refund (SQLSTATE 23514) instead of letting one through.
CREATE OR REPLACE FUNCTION app_private.payment_refunds_maintain_total() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_old integer := 0;
  v_new integer := 0;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status <> 'failed' THEN
    v_old := OLD.amount_cents;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'failed' THEN
    v_new := NEW.amount_cents;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.payment_id <> OLD.payment_id THEN
    RAISE EXCEPTION 'a refund cannot move to another payment' USING ERRCODE = '23514';
  END IF;
  IF v_new <> v_old THEN
    UPDATE app.scheduled_payments
       SET refund_amount_cents = refund_amount_cents + v_new - v_old
     WHERE id = coalesce(NEW.payment_id, OLD.payment_id);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS payment_refunds_10_maintain_total ON app.payment_refunds;
CREATE TRIGGER payment_refunds_10_maintain_total AFTER INSERT OR UPDATE OR DELETE ON app.payment_refunds
  FOR EACH ROW EXECUTE FUNCTION app_private.payment_refunds_maintain_total();

-- Sessions -> money (scheduled appointments only; immediate sessions are charged after the waiver,
-- elsewhere). Named sessions_90_40_* so it runs after the booking domain's own triggers and before
-- the notifications trigger (sessions_90_50_*): a booking's charge row is queued before its emails.
--   held inserted: the hold's charge (full / deposit); a booking (scheduled/pending inserted, or
--     held -> scheduled/pending) is charged by the fan-out of its session.booked event
--     (db/functions/50_booking_fan_out.sql), with the same key;
--   held -> cancelled (lapsed or given back): whatever was charged for the hold is refunded,
--     and a charge still pending has its PaymentIntent cancelled at Stripe (refunds first);
--   in-person -> completed: the balance charge.
CREATE OR REPLACE FUNCTION app_private.sessions_money_effects() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.scheduled_for IS NULL THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.status = 'held' THEN  -- a booking's charge comes from its session.booked event (50_booking_fan_out.sql)
      PERFORM app_private.session_booking_charge(NEW.id);
    END IF;
  ELSIF OLD.status = 'held' AND NEW.status = 'cancelled' THEN
    PERFORM app_private.refund_unbooked_hold(NEW.id);
    PERFORM app_private.cancel_unbooked_hold_intents(NEW.id);
  ELSIF NEW.status = 'completed' AND OLD.status <> 'completed' AND NEW.service_mode = 'in_person' THEN
    PERFORM app_private.session_balance_charge(NEW.id);
  END IF;
  RETURN NULL;
END
$$;

-- WHEN: the function is called only for rows that can be one of the three above (a trigger for
-- INSERT OR UPDATE cannot name OLD in its WHEN, so the function still checks the transition): a
-- booking (scheduled/pending), a reschedule or any other status change pays nothing here, without
-- a PL/pgSQL call (issue 13: one call less on every booking).
DROP TRIGGER IF EXISTS sessions_90_40_money ON app.sessions;
CREATE TRIGGER sessions_90_40_money AFTER INSERT OR UPDATE OF status ON app.sessions
  FOR EACH ROW WHEN (NEW.scheduled_for IS NOT NULL AND NEW.status IN ('held', 'cancelled', 'completed'))
  EXECUTE FUNCTION app_private.sessions_money_effects();

-- Money triggers: the refund ledger keeps its payment's refunded total.

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

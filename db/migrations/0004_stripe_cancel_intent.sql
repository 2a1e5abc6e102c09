-- depends: 0003_side_effects
-- A new outbox kind, `stripe.cancel_intent`: when a slot hold lapses or is given back while its
-- charge is still pending, the worker cancels the open PaymentIntent at Stripe so the customer can
-- never confirm it later. No new payment status: a cancelled intent leaves its payment `failed`
-- (failure_message 'cancelled: hold released'), which keeps the forward-only status order and the
-- late-success refund path unchanged.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The list of kinds only grows, so no existing row or client loses a guarantee: the constraint is
-- replaced by a wider one of the same name. Validating in this transaction holds the outbox's
-- ACCESS EXCLUSIVE lock for one scan of a small table (done rows are purged after 30 days); the
-- worker's claims wait that long at most, and lock_timeout bounds the wait for the lock itself.
-- squawk-ignore ban-drop-constraint
ALTER TABLE app.outbox DROP CONSTRAINT outbox_kind_is_known;
ALTER TABLE app.outbox ADD CONSTRAINT outbox_kind_is_known
  CHECK (kind IN ('stripe.charge', 'stripe.refund', 'stripe.cancel_intent', 'email.send', 'noop')) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.outbox VALIDATE CONSTRAINT outbox_kind_is_known;

-- Reverts 0004_stripe_cancel_intent: the outbox kinds of 0003 again. Fails (and changes nothing)
-- while stripe.cancel_intent rows remain: deal with them (they are purged 30 days after done)
-- before rolling back.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE app.outbox DROP CONSTRAINT outbox_kind_is_known;
ALTER TABLE app.outbox ADD CONSTRAINT outbox_kind_is_known
  CHECK (kind IN ('stripe.charge', 'stripe.refund', 'email.send', 'noop'));

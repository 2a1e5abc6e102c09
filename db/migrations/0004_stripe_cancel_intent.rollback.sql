-- Reverts 0004_stripe_cancel_intent to version 0003: the outbox kinds of 0003 again, and the
-- functions only version 0004's files create (re-apply version 0003's files afterwards:
-- docs/migrations.md). Fails (and changes nothing) while stripe.cancel_intent rows remain: deal
-- with them (they are purged 30 days after done) before rolling back.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname || '.' || p.proname = ANY (ARRAY[
      'app_private.cancel_unbooked_hold_intents', 'app_private.enqueue_invite_email'])
  LOOP
    EXECUTE format('DROP FUNCTION %s', f);
  END LOOP;
END
$$;

ALTER TABLE app.outbox DROP CONSTRAINT outbox_kind_is_known;
ALTER TABLE app.outbox ADD CONSTRAINT outbox_kind_is_known
  CHECK (kind IN ('stripe.charge', 'stripe.refund', 'email.send', 'noop'));

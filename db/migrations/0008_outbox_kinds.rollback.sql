-- Reverts 0008_outbox_kinds: the CHECK list of kinds again, no registry, and none of the functions
-- and triggers the idempotent files of this version created (the previous version's files, applied
-- again after the rollback, recreate the p_now signatures and the one sessions side-effects trigger).
-- Fails (and changes nothing) while rows of a kind the CHECK does not list remain.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS sessions_90_40_money ON app.sessions;
DROP TRIGGER IF EXISTS sessions_90_50_notifications ON app.sessions;
DROP FUNCTION IF EXISTS app_private.sessions_money_effects();
DROP FUNCTION IF EXISTS app_private.sessions_notification_effects();

-- band 00: the error catalog raise_error reads (the previous 00_identity.sql, re-applied, stops reading it)
DROP FUNCTION IF EXISTS app_private.error_message(text);
DROP FUNCTION IF EXISTS app_private.error_catalog();
-- band 30
DROP FUNCTION IF EXISTS app_private.outbox_register_kind(text, smallint, text, regprocedure, regprocedure, integer,
                                                         double precision, double precision, text, text);
DROP FUNCTION IF EXISTS app_private.outbox_context(text, jsonb);
DROP FUNCTION IF EXISTS app_private.outbox_apply_result(bigint, text, jsonb, jsonb);
DROP FUNCTION IF EXISTS api.outbox_claim(text, integer, integer);
DROP FUNCTION IF EXISTS api.outbox_complete(bigint, text, jsonb);
DROP FUNCTION IF EXISTS api.outbox_fail(bigint, text, text, boolean);
DROP FUNCTION IF EXISTS api.outbox_release(text, bigint[]);
DROP FUNCTION IF EXISTS api.worker_started(text, text, integer, jsonb);
DROP FUNCTION IF EXISTS api.worker_heartbeat(text, jsonb, boolean);
DROP FUNCTION IF EXISTS api.outbox_kinds();
DROP FUNCTION IF EXISTS api.outbox_health();
DROP FUNCTION IF EXISTS api.outbox_retry(bigint);
DROP FUNCTION IF EXISTS api.outbox_purge_done(interval);
DROP FUNCTION IF EXISTS api.purge_cron_history(interval);
-- band 40
DROP FUNCTION IF EXISTS app_private.stripe_charge_apply(bigint, jsonb, jsonb);
DROP FUNCTION IF EXISTS app_private.stripe_refund_context(jsonb);
DROP FUNCTION IF EXISTS app_private.stripe_refund_apply(bigint, jsonb, jsonb);
DROP FUNCTION IF EXISTS app_private.stripe_cancel_intent_context(jsonb);
DROP FUNCTION IF EXISTS app_private.stripe_cancel_intent_apply(bigint, jsonb, jsonb);
DROP FUNCTION IF EXISTS app_private.payment_ensure(uuid, text, integer);
DROP FUNCTION IF EXISTS app_private.session_booking_charge(uuid);
DROP FUNCTION IF EXISTS app_private.session_balance_charge(uuid);
DROP FUNCTION IF EXISTS app_private.session_cancel_for_payment(uuid);
DROP FUNCTION IF EXISTS app_private.payment_mark_succeeded(uuid);
DROP FUNCTION IF EXISTS app_private.payment_mark_failed(uuid, text);
DROP FUNCTION IF EXISTS app_private.refund_unbooked_hold(uuid);
DROP FUNCTION IF EXISTS app_private.cancel_unbooked_hold_intents(uuid);
DROP FUNCTION IF EXISTS app_private.payment_refresh_refunded(uuid);
DROP FUNCTION IF EXISTS app_private.payment_request_refund(uuid, integer, text, text);
DROP FUNCTION IF EXISTS app_private.payment_for_intent(jsonb);
DROP FUNCTION IF EXISTS api.stripe_apply_event(jsonb);
DROP FUNCTION IF EXISTS api.request_refund(uuid, integer, text, text);
-- band 50
DROP FUNCTION IF EXISTS app_private.place_facts(text, app.workshops);
DROP FUNCTION IF EXISTS app_private.invite_bump(uuid, text);
DROP FUNCTION IF EXISTS app_private.enqueue_session_email(uuid, text, text, text, boolean, jsonb);
DROP FUNCTION IF EXISTS app_private.plan_reminders(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.stop_reminders(uuid, text);
DROP FUNCTION IF EXISTS app_private.enqueue_invite_email(uuid, text, text, integer, jsonb);
DROP FUNCTION IF EXISTS app_private.on_session_booked(uuid);
DROP FUNCTION IF EXISTS app_private.on_session_rescheduled(uuid, timestamptz, uuid);
DROP FUNCTION IF EXISTS app_private.on_mechanic_assigned(uuid);
DROP FUNCTION IF EXISTS app_private.on_session_cancelled(uuid);
DROP FUNCTION IF EXISTS app_private.resend_confirmation(uuid);
DROP FUNCTION IF EXISTS api.send_due_reminders();
DROP FUNCTION IF EXISTS api.resend_confirmation(uuid);

-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.outbox ADD CONSTRAINT outbox_kind_is_known
  CHECK (kind IN ('stripe.charge', 'stripe.refund', 'stripe.cancel_intent', 'email.send', 'noop'));
DROP INDEX app.outbox_kind;
ALTER TABLE app.outbox DROP CONSTRAINT outbox_kind_registered;
DROP TABLE app.outbox_kinds;

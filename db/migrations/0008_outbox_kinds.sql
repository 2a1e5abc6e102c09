-- depends: 0006_live_events
-- The outbox kind registry: the queue knows no domain. Each kind is a row (owning band and domain,
-- the function that adds claim-time facts, the function that applies a result, its retry policy
-- and its lane); a new effect is a row plus functions in its domain's file. The rows are data owned
-- by their domain: each domain's idempotent file upserts its own (db/functions/30_outbox.sql: noop,
-- 40_payments.sql: stripe.*, 50_notifications.sql: email.send). This migration seeds the kinds
-- that rows may already use, so the foreign key that replaces the CHECK list validates; the files
-- then fill in their functions and policy.
--
-- Also: the side-effect functions of bands 30, 40 and 50 read the trusted clock
-- (app_private.now()) instead of taking p_now; their old signatures are dropped here.
-- squawk-ignore-file ban-drop-function
-- (the dropped functions are old signatures whose callers change in the same commit: a clean break)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE app.outbox_kinds (
  kind                 text PRIMARY KEY,
  band                 smallint NOT NULL,          -- the owning domain's band (docs/conventions.md)
  domain               text NOT NULL,
  -- context_fn(payload jsonb) RETURNS jsonb: facts read when a row is claimed, merged into its
  -- payload; a `skip` key (the reason) means the effect must not run (the worker completes the row
  -- with {"status": "skipped", "reason": ...}). NULL: no claim-time facts.
  context_fn           regprocedure,
  -- apply_fn(outbox_id bigint, payload jsonb, result jsonb) RETURNS void: writes a completed
  -- effect's result back to the domain's tables, in api.outbox_complete's transaction. NULL: none.
  apply_fn             regprocedure,
  max_attempts         integer NOT NULL DEFAULT 8,
  backoff_base_seconds double precision NOT NULL DEFAULT 5,   -- retry n waits base * 2^(n-1) ...
  backoff_max_seconds  double precision NOT NULL DEFAULT 3600, -- ... at most this long
  lane                 text NOT NULL DEFAULT 'default',        -- rows of one lane share a concurrency budget
  description          text NOT NULL DEFAULT '',
  CONSTRAINT outbox_kinds_kind_format CHECK (kind ~ '^[a-z_]+(\.[a-z_]+)*$'),
  CONSTRAINT outbox_kinds_band_range CHECK (band BETWEEN 0 AND 99),
  CONSTRAINT outbox_kinds_lane_format CHECK (lane ~ '^[a-z_]+$'),
  CONSTRAINT outbox_kinds_retry_policy CHECK (max_attempts >= 1 AND backoff_base_seconds > 0
                                              AND backoff_max_seconds >= backoff_base_seconds)
);
ALTER TABLE app.outbox_kinds ENABLE ROW LEVEL SECURITY;

INSERT INTO app.outbox_kinds (kind, band, domain, lane) VALUES
  ('noop', 30, 'outbox', 'default'),
  ('stripe.charge', 40, 'money', 'stripe'),
  ('stripe.refund', 40, 'money', 'stripe'),
  ('stripe.cancel_intent', 40, 'money', 'stripe'),
  ('email.send', 50, 'notifications', 'email')
ON CONFLICT (kind) DO NOTHING;

-- The foreign key replaces the CHECK list (migration 0004 existed only to widen it). Validating in
-- this transaction blocks writes to the outbox for one scan of a small table (done rows are purged
-- after 30 days); lock_timeout bounds the wait for the lock itself.
ALTER TABLE app.outbox ADD CONSTRAINT outbox_kind_registered
  FOREIGN KEY (kind) REFERENCES app.outbox_kinds (kind) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.outbox VALIDATE CONSTRAINT outbox_kind_registered;
-- squawk-ignore ban-drop-constraint
ALTER TABLE app.outbox DROP CONSTRAINT outbox_kind_is_known;
CREATE INDEX outbox_kind ON app.outbox (kind);

-- Old signatures (p_now parameters, the queue calling into payments). The idempotent files
-- re-applied after this migration create the new ones.
DROP FUNCTION IF EXISTS api.outbox_claim(text, integer, integer, timestamptz);
DROP FUNCTION IF EXISTS api.outbox_complete(bigint, text, jsonb, timestamptz);
DROP FUNCTION IF EXISTS api.outbox_fail(bigint, text, text, boolean, double precision, timestamptz);
DROP FUNCTION IF EXISTS api.outbox_release(text, bigint[], timestamptz);
DROP FUNCTION IF EXISTS api.worker_started(text, text, integer, jsonb, timestamptz);
DROP FUNCTION IF EXISTS api.worker_heartbeat(text, jsonb, boolean, timestamptz);
DROP FUNCTION IF EXISTS api.outbox_health(timestamptz);
DROP FUNCTION IF EXISTS api.outbox_retry(bigint, timestamptz);
DROP FUNCTION IF EXISTS api.outbox_purge_done(interval, timestamptz);
DROP FUNCTION IF EXISTS api.purge_cron_history(interval, timestamptz);
DROP FUNCTION IF EXISTS api.stripe_apply_event(jsonb, timestamptz);
DROP FUNCTION IF EXISTS api.request_refund(uuid, integer, text, text, timestamptz);
DROP FUNCTION IF EXISTS api.send_due_reminders(timestamptz);
DROP FUNCTION IF EXISTS api.resend_confirmation(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.outbox_context(text, jsonb);
DROP FUNCTION IF EXISTS app_private.outbox_apply_result(bigint, text, jsonb, jsonb, timestamptz);
DROP FUNCTION IF EXISTS app_private.payment_ensure(uuid, text, integer, timestamptz);
DROP FUNCTION IF EXISTS app_private.session_booking_charge(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.session_balance_charge(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.session_cancel_for_payment(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.payment_mark_succeeded(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.payment_mark_failed(uuid, text, timestamptz);
DROP FUNCTION IF EXISTS app_private.refund_unbooked_hold(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.cancel_unbooked_hold_intents(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.payment_refresh_refunded(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.payment_request_refund(uuid, integer, text, text, timestamptz);
DROP FUNCTION IF EXISTS app_private.payment_for_intent(jsonb, timestamptz);
DROP FUNCTION IF EXISTS app_private.invite_bump(uuid, text, timestamptz);
DROP FUNCTION IF EXISTS app_private.enqueue_session_email(uuid, text, text, text, boolean, jsonb, timestamptz);
DROP FUNCTION IF EXISTS app_private.plan_reminders(uuid, timestamptz, timestamptz);
DROP FUNCTION IF EXISTS app_private.stop_reminders(uuid, text, timestamptz);
DROP FUNCTION IF EXISTS app_private.enqueue_invite_email(uuid, text, text, integer, jsonb, timestamptz);
DROP FUNCTION IF EXISTS app_private.on_session_booked(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.on_session_rescheduled(uuid, timestamptz, uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.on_mechanic_assigned(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.on_session_cancelled(uuid, timestamptz);
DROP FUNCTION IF EXISTS app_private.resend_confirmation(uuid, timestamptz);
-- The one sessions side-effects trigger is split by domain (db/triggers/40_payments.sql: money,
-- db/triggers/50_notifications.sql: emails and reminders).
DROP TRIGGER IF EXISTS sessions_90_side_effects ON app.sessions;
DROP FUNCTION IF EXISTS app_private.sessions_side_effects();

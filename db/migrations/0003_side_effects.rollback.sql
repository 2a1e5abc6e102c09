-- Reverts 0003_side_effects to version 0002: the side-effect tables, and every function and job
-- that only version 0003's files create (re-apply version 0002's files afterwards:
-- docs/migrations.md). Functions go by name, every overload, so a later change of their arguments
-- cannot leave one behind.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
BEGIN
  IF to_regclass('cron.job') IS NOT NULL THEN  -- only the pg_cron database has jobs
    PERFORM cron.unschedule(jobid) FROM cron.job
    WHERE database = current_database()
      AND jobname IN ('autodoc-send-reminders', 'autodoc-purge-cron-history', 'autodoc-purge-outbox');
  END IF;
END
$$;

-- The side-effect trigger on sessions (db/triggers/30_outbox.sql) would call into dropped tables.
DROP TRIGGER IF EXISTS sessions_90_side_effects ON app.sessions;

-- The tables first: their triggers go with them, and then nothing depends on the functions.
DROP TABLE app.session_reminders;
DROP TABLE app.session_invites;
DROP TABLE app.stripe_events;
DROP TABLE app.payment_refunds;
DROP TABLE app.scheduled_payments;
DROP TABLE app.worker_heartbeats;
DROP TABLE app.outbox;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname || '.' || p.proname = ANY (ARRAY[
      'api.appointment_invite', 'api.outbox_claim', 'api.outbox_complete', 'api.outbox_dead_letters',
      'api.outbox_fail', 'api.outbox_health', 'api.outbox_purge_done', 'api.outbox_release',
      'api.outbox_retry', 'api.purge_cron_history', 'api.request_refund', 'api.resend_confirmation',
      'api.send_due_reminders', 'api.session_payments', 'api.stripe_apply_event', 'api.worker_heartbeat',
      'api.worker_started', 'app_private.acting_as', 'app_private.appointments',
      'app_private.enqueue_session_email', 'app_private.invite_bump', 'app_private.on_mechanic_assigned',
      'app_private.on_session_booked', 'app_private.on_session_cancelled',
      'app_private.on_session_rescheduled', 'app_private.outbox_apply_result', 'app_private.outbox_context',
      'app_private.outbox_enqueue', 'app_private.outbox_notify_insert', 'app_private.outbox_notify_update',
      'app_private.payment_deposit_cents', 'app_private.payment_ensure', 'app_private.payment_for_intent',
      'app_private.payment_mark_failed', 'app_private.payment_mark_succeeded',
      'app_private.payment_refresh_refunded', 'app_private.payment_refunds_maintain_total',
      'app_private.payment_request_refund', 'app_private.payment_status_rank', 'app_private.plan_reminders',
      'app_private.refund_unbooked_hold', 'app_private.reminder_offsets', 'app_private.resend_confirmation',
      'app_private.session_balance_charge', 'app_private.session_booking_charge',
      'app_private.session_cancel_for_payment', 'app_private.session_email_context',
      'app_private.session_invite_data', 'app_private.sessions_side_effects', 'app_private.stop_reminders'])
  LOOP
    EXECUTE format('DROP FUNCTION %s', f);
  END LOOP;
END
$$;

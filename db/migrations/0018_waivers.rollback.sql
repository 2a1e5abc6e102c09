-- Reverts 0018_waivers: the session-rules, waiver and rating tables, the session columns and the
-- widened cancel reason, the mechanics' rating_sum, and everything the files create from this
-- version on: functions, triggers, the no-show cron job, the grant of mechanic_zone to mechanics.
-- The previous version's files create api.mechanic_schedule(text, int) and the older bodies of the
-- functions this version changed (error catalog, on_session_cancelled, session_booking_charge).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
BEGIN
  IF to_regnamespace('cron') IS NOT NULL THEN
    PERFORM cron.unschedule(j.jobid) FROM cron.job j WHERE j.jobname = 'autodoc-no-shows';
  END IF;
END
$$;
DROP TRIGGER IF EXISTS mechanics_keep_rating_sum ON app.mechanics;
DROP FUNCTION IF EXISTS app_private.mechanics_keep_rating_sum();
REVOKE EXECUTE ON FUNCTION app_private.mechanic_zone(uuid) FROM autodoc_mechanic;

DROP FUNCTION IF EXISTS api.mechanic_schedule(text, int, date);
DROP FUNCTION IF EXISTS api.mechanic_day(date);
DROP FUNCTION IF EXISTS app_private.session_waiver_facts(uuid[]);
DROP FUNCTION IF EXISTS app_private.session_immediate_charge(uuid);
DROP FUNCTION IF EXISTS api.current_waiver();
DROP FUNCTION IF EXISTS api.publish_waiver(text, text);
DROP FUNCTION IF EXISTS api.sign_waiver(uuid, text, boolean, text, inet, text);
DROP FUNCTION IF EXISTS api.session_waiver(uuid);
DROP FUNCTION IF EXISTS api.join_session(uuid);
DROP FUNCTION IF EXISTS api.complete_session(uuid, text);
DROP FUNCTION IF EXISTS api.rate_session(uuid, int, text);
DROP FUNCTION IF EXISTS api.cancel_for_missing_waiver(uuid, text);
DROP FUNCTION IF EXISTS api.mark_no_shows();
DROP FUNCTION IF EXISTS app_private.mark_no_show(uuid);
DROP FUNCTION IF EXISTS app_private.cancel_unsigned(app.sessions, text);
DROP FUNCTION IF EXISTS app_private.live_session(uuid);
DROP FUNCTION IF EXISTS app_private.session_participants(app.sessions);
DROP FUNCTION IF EXISTS app_private.signing_window(app.sessions);
DROP FUNCTION IF EXISTS app_private.join_window(app.sessions);
DROP FUNCTION IF EXISTS app_private.session_paid(app.sessions);
DROP FUNCTION IF EXISTS app_private.lock_session(uuid);
DROP FUNCTION IF EXISTS app_private.signature_bytes(text);
DROP FUNCTION IF EXISTS app_private.waiver_version_json(int);
DROP FUNCTION IF EXISTS app_private.session_rules();

ALTER TABLE app.sessions DROP CONSTRAINT sessions_cancel_reason_valid;
ALTER TABLE app.sessions ADD CONSTRAINT sessions_cancel_reason_valid
  CHECK (cancel_reason IN ('customer', 'mechanic', 'no_show', 'payment_failed', 'expired', 'admin'));
ALTER TABLE app.sessions DROP CONSTRAINT sessions_completion_notes_length;
ALTER TABLE app.sessions DROP COLUMN completion_notes;
ALTER TABLE app.sessions DROP COLUMN mechanic_joined_at;
ALTER TABLE app.sessions DROP COLUMN customer_joined_at;
ALTER TABLE app.mechanics DROP COLUMN rating_sum;
DROP TABLE app.session_ratings;
DROP TABLE app.waiver_signatures;
DROP TABLE app.waiver_versions;
DROP TABLE app.session_rules;
-- their triggers went with the tables
DROP FUNCTION IF EXISTS app_private.session_ratings_update_mechanic();
DROP FUNCTION IF EXISTS app_private.waiver_versions_append_only();

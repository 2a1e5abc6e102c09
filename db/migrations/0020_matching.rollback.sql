-- Roll back 0020_matching: drop the matching tables, columns and indexes, and what the band-60
-- idempotent files (and api.live_events_head in 50_live_events.sql) created (functions, triggers,
-- policies, jobs). The previous version's idempotent files, re-applied, restore api.create_session
-- without its call into matching.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
    PERFORM cron.unschedule(jobname) FROM cron.job
     WHERE jobname IN ('autodoc-run-deferred-matching', 'autodoc-expire-offers');
  END IF;
END
$$;

DROP TRIGGER IF EXISTS session_assignments_60_offer_stats ON app.session_assignments;
DROP TRIGGER IF EXISTS sessions_60_close_matching ON app.sessions;

DROP FUNCTION IF EXISTS api.match_mechanics(uuid, integer, boolean);
DROP FUNCTION IF EXISTS api.matching_criteria();
DROP FUNCTION IF EXISTS api.set_matching_criterion(text, numeric, boolean);
DROP FUNCTION IF EXISTS api.session_matching(uuid);
DROP FUNCTION IF EXISTS api.my_offers(boolean);
DROP FUNCTION IF EXISTS api.accept_offer(uuid);
DROP FUNCTION IF EXISTS api.decline_offer(uuid, text);
DROP FUNCTION IF EXISTS api.cancel_request(uuid);
DROP FUNCTION IF EXISTS api.expire_offers();
DROP FUNCTION IF EXISTS api.run_deferred_matching();
DROP FUNCTION IF EXISTS api.live_events_head();
DROP FUNCTION IF EXISTS app_private.match_candidates(uuid, integer, boolean);
DROP FUNCTION IF EXISTS app_private.mechanic_unavailable_reasons(uuid, app.sessions);
DROP FUNCTION IF EXISTS app_private.open_offers(app.sessions, integer);
DROP FUNCTION IF EXISTS app_private.open_offer(app.sessions, uuid, text, numeric, jsonb);
DROP FUNCTION IF EXISTS app_private.matching_settings();
DROP FUNCTION IF EXISTS app_private.start_matching(uuid);
DROP FUNCTION IF EXISTS app_private.start_immediate_matching(uuid);
DROP FUNCTION IF EXISTS app_private.next_matching_round(uuid);
DROP FUNCTION IF EXISTS app_private.finish_unmatched(uuid);
DROP FUNCTION IF EXISTS app_private.matching_session_event(uuid, text, jsonb);
DROP FUNCTION IF EXISTS app_private.offer_json(uuid);
DROP FUNCTION IF EXISTS app_private.enqueue_offer_email(uuid);
DROP FUNCTION IF EXISTS app_private.session_assignments_offer_stats();
DROP FUNCTION IF EXISTS app_private.sessions_close_matching();

DROP TABLE app.mechanic_offer_stats;
DROP TABLE app.session_matching;
DROP TABLE app.matching_settings;
DROP TABLE app.matching_criteria;
DROP INDEX app.sessions_booked_start_idx;
DROP INDEX app.session_assignments_session_status_idx;
DROP INDEX app.session_assignments_open_expiry_idx;
ALTER TABLE app.session_assignments DROP CONSTRAINT session_assignments_decline_reason_length;
ALTER TABLE app.session_assignments DROP COLUMN decline_reason;
ALTER TABLE app.workshops DROP COLUMN location_keys;
ALTER TABLE app.mechanics DROP COLUMN location_keys;
ALTER TABLE app.mechanics DROP COLUMN brand_keys;
ALTER TABLE app.mechanics DROP COLUMN search_document;
DROP FUNCTION app_private.location_keys(text, text, text, text);
DROP FUNCTION app_private.brand_keys(text[]);
DROP FUNCTION app_private.mechanic_search_text(text[], text);

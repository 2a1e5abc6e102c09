-- Reverts 0006_live_events to version 0005: the events table, and every function and job that
-- only version 0006's files create (re-apply version 0005's files afterwards: docs/migrations.md).
-- Functions go by name, every overload, so a later change of their arguments cannot leave one behind.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
BEGIN
  IF to_regclass('cron.job') IS NOT NULL THEN  -- only the pg_cron database has jobs
    PERFORM cron.unschedule(jobid) FROM cron.job
    WHERE database = current_database() AND jobname IN ('autodoc-purge-live-events');
  END IF;
END
$$;

DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname || '.' || p.proname = ANY (ARRAY[
      'api.live_events_after', 'api.my_live_events', 'api.purge_live_events',
      'app_private.emit_live_event', 'app_private.lock_mechanic_time'])
  LOOP
    EXECUTE format('DROP FUNCTION %s', f);
  END LOOP;
END
$$;

DROP TABLE app.live_events;

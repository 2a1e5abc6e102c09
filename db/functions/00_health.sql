-- api.health(): what /health reports from inside the database — migration version, pg_cron and
-- the project's scheduled jobs, and the outbox's queue depth and worker heartbeat.
-- SECURITY DEFINER because cron.job and the migration table are not readable by application
-- roles; it exposes only operational facts, never rows of users. Callable by every role.
CREATE OR REPLACE FUNCTION api.health() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  result jsonb;
  jobs jsonb := '[]'::jsonb;
  has_cron boolean := to_regclass('cron.job') IS NOT NULL;
BEGIN
  -- Static, though cron.job exists only in the pg_cron database: PL/pgSQL plans a statement when it
  -- first runs it, and elsewhere this branch never runs.
  IF has_cron THEN
    SELECT coalesce(jsonb_agg(jsonb_build_object('name', j.jobname, 'schedule', j.schedule, 'active', j.active)
                              ORDER BY j.jobname), '[]'::jsonb)
      INTO jobs FROM cron.job j WHERE j.jobname LIKE 'autodoc-%';
  END IF;
  result := jsonb_build_object(
    'database', true,
    'migration', (SELECT migration_id FROM public._yoyo_migration
                   ORDER BY applied_at_utc DESC, migration_id DESC LIMIT 1),
    'pg_cron', jsonb_build_object('installed', has_cron, 'jobs', jobs));
  -- a static call: PL/pgSQL resolves it when run, and band 30 (api.outbox_health) is installed with
  -- every version that has this health function
  result := result || jsonb_build_object('outbox', api.outbox_health());
  RETURN result;
END
$$;
COMMENT ON FUNCTION api.health() IS
  'Operational status: migration version, pg_cron jobs, outbox and worker heartbeat. Any role.';
GRANT EXECUTE ON FUNCTION api.health() TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

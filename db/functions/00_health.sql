-- api.health(): what /health reports from inside the database — migration version, pg_cron and
-- the project's scheduled jobs, and (when the outbox exists) queue depth and worker heartbeat.
-- SECURITY DEFINER because cron.job and the migration table are not readable by application
-- roles; it exposes only operational facts, never rows of users. Callable by every role.
CREATE OR REPLACE FUNCTION api.health(p_now timestamptz DEFAULT now()) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  result jsonb;
  jobs jsonb := '[]';
  has_cron boolean := to_regclass('cron.job') IS NOT NULL;
BEGIN
  IF has_cron THEN
    EXECUTE $q$SELECT coalesce(jsonb_agg(jsonb_build_object('name', jobname, 'schedule', schedule, 'active', active)
                                ORDER BY jobname), '[]') FROM cron.job WHERE jobname LIKE 'autodoc-%'$q$ INTO jobs;
  END IF;
  result := jsonb_build_object(
    'database', true,
    'migration', (SELECT migration_id FROM public._yoyo_migration
                   ORDER BY applied_at_utc DESC, migration_id DESC LIMIT 1),
    'pg_cron', jsonb_build_object('installed', has_cron, 'jobs', jobs));
  IF to_regprocedure('api.outbox_health()') IS NOT NULL THEN
    EXECUTE 'SELECT api.outbox_health()' INTO jobs;
    result := result || jsonb_build_object('outbox', jobs);
  END IF;
  RETURN result;
END
$$;
COMMENT ON FUNCTION api.health(timestamptz) IS
  'Operational status: migration version, pg_cron jobs, outbox and worker heartbeat. Any role.';
GRANT EXECUTE ON FUNCTION api.health(timestamptz) TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

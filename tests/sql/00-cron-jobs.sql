-- pg_cron: every schedule in db/jobs exists in cron.job, runs as the owner in this database, and
-- is one call of one api function (so the function carries all the logic and its tests).
BEGIN;
SELECT plan(5);

SELECT has_extension('pg_cron', 'pg_cron is installed in the cron database');

SELECT set_eq(
  $$SELECT jobname FROM cron.job WHERE jobname LIKE 'autodoc-%'$$,
  ARRAY['autodoc-release-expired-holds', 'autodoc-send-reminders', 'autodoc-purge-cron-history',
        'autodoc-purge-outbox', 'autodoc-purge-live-events', 'autodoc-waitlist-advance', 'autodoc-waitlist-expire',
        'autodoc-no-shows', 'autodoc-stripe-sync', 'autodoc-run-deferred-matching', 'autodoc-expire-offers',
        'autodoc-reconcile-payments'],
  'the project''s jobs are scheduled');

SELECT is_empty($$SELECT jobname FROM cron.job WHERE jobname LIKE 'autodoc-%' AND username <> 'autodoc_owner'$$,
  'every job runs as autodoc_owner');

SELECT is_empty($$SELECT jobname FROM cron.job WHERE jobname LIKE 'autodoc-%' AND database <> current_database()$$,
  'every job runs in this database');

SELECT is_empty($$SELECT jobname FROM cron.job WHERE jobname LIKE 'autodoc-%'
                  AND command !~ '^SELECT api\.[a-z_]+\(\)$'$$,
  'every job is one call of one api function');

SELECT * FROM finish();
ROLLBACK;

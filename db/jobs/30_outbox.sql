-- Outbox and housekeeping schedules (pg_cron 1.4: minute-granular, GMT). Each job is one call of one function
-- that processes everything due as of now and is safe to run twice (also at once).

-- pg_cron never purges its run history; keep a week of it.
SELECT cron.schedule('autodoc-purge-cron-history', '17 3 * * *', $$SELECT api.purge_cron_history()$$);

-- Done outbox rows are kept 30 days for audit, then deleted (pending/running/dead rows never are).
SELECT cron.schedule('autodoc-purge-outbox', '37 3 * * *', $$SELECT api.outbox_purge_done()$$);

-- Side-effect schedules (pg_cron 1.4: minute-granular, GMT). Each job is one call of one function
-- that processes everything due as of now and is safe to run twice (also at once).

-- Reminders 1 day / 1 hour / 15 minutes before each scheduled start. Rows are locked with SKIP
-- LOCKED and marked sent, and the outbox key is unique per session, kind and start, so a run that
-- overlaps or repeats never sends twice; a late run skips reminders that are no longer meaningful.
SELECT cron.schedule('autodoc-send-reminders', '* * * * *', $$SELECT api.send_due_reminders()$$);

-- pg_cron never purges its run history; keep a week of it.
SELECT cron.schedule('autodoc-purge-cron-history', '17 3 * * *', $$SELECT api.purge_cron_history()$$);

-- Done outbox rows are kept 30 days for audit, then deleted (pending/running/dead rows never are).
SELECT cron.schedule('autodoc-purge-outbox', '37 3 * * *', $$SELECT api.outbox_purge_done()$$);

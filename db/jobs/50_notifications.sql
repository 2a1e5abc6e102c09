-- Notification schedules (pg_cron 1.4: minute-granular, GMT). Each job is one call of one function
-- that processes everything due as of now and is safe to run twice (also at once).

-- Reminders 1 day / 1 hour / 15 minutes before each scheduled start. Rows are locked with SKIP
-- LOCKED and marked sent, and the outbox key is unique per session, kind and start, so a run that
-- overlaps or repeats never sends twice; a late run skips reminders that are no longer meaningful.
SELECT cron.schedule('autodoc-send-reminders', '* * * * *', $$SELECT api.send_due_reminders()$$);

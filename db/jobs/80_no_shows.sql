-- The no-show job (pg_cron 1.4: minute-granular, GMT): every 5 minutes, scheduled sessions still
-- unsigned 15 minutes after their start are cancelled as no-shows. api.mark_no_shows() processes
-- everything due as of now and re-checks each session under its locks, so a late, repeated or
-- overlapping run marks (and pays) nothing twice.
SELECT cron.schedule('autodoc-no-shows', '*/5 * * * *', $$SELECT api.mark_no_shows()$$);

-- Release lapsed slot holds every minute (pg_cron schedules are minute-granular, GMT).
-- api.release_expired_holds() is idempotent and safe when two runs overlap (SKIP LOCKED), and it
-- processes everything due as of now, so missed minutes are caught up by the next run.
-- Booking functions also release lapsed holds in their way, so a late run never blocks a booking.
SELECT cron.schedule('autodoc-release-expired-holds', '* * * * *', $$SELECT api.release_expired_holds()$$);

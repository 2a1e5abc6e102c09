-- Matching jobs (every minute; pg_cron is minute-granular, GMT). Both functions process everything
-- due as of now and are idempotent and safe when two runs overlap (SKIP LOCKED), so a late or
-- missed run is caught up by the next one.
-- Deferred matching: scheduled bookings without a mechanic are matched matching_lead before start.
SELECT cron.schedule('autodoc-run-deferred-matching', '* * * * *', $$SELECT api.run_deferred_matching()$$);
-- Offers past their expiry expire; a session left without open offers gets its next round.
SELECT cron.schedule('autodoc-expire-offers', '* * * * *', $$SELECT api.expire_offers()$$);

-- Waitlist schedules (pg_cron 1.4: minute-granular, GMT). Each job processes everything due as of now
-- and is safe to run twice, also at once (SKIP LOCKED, per-mechanic locks, state checks).

-- Lapsed turns expire and free capacity of on-shift mechanics goes to the next in line.
SELECT cron.schedule('autodoc-waitlist-advance', '* * * * *', $$SELECT api.advance_waitlist()$$);

-- Pending entries older than max_wait (default 2 hours) expire, with an email.
SELECT cron.schedule('autodoc-waitlist-expire', '*/5 * * * *', $$SELECT api.expire_waitlist()$$);

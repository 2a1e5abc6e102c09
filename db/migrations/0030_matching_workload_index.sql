-- depends: 0027_lean_booking
-- Matching speed, the tail (issue 11): the workload criterion counts one candidate's sessions starting
-- within 12 hours of the request (app_private.match_candidates, per walked candidate). With only
-- (mechanic_id, scheduled_for) that read every session the mechanic ever had (~100 heap pages each on
-- the bench's 1M sessions, 0.2-0.3 ms per candidate); keyed by mechanic and start it is a short range
-- of one index. (sessions_booked_start_idx, by start for every mechanic at once, stays: a window over
-- everyone, as the app-side baseline of bench/matching.py reads it.)
-- squawk-ignore-file require-concurrent-index-creation
-- (yoyo runs a migration in one transaction, where CREATE INDEX CONCURRENTLY cannot run)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE INDEX sessions_mechanic_start_idx ON app.sessions (mechanic_id, (lower(period)))
  WHERE mechanic_id IS NOT NULL AND status <> 'cancelled';

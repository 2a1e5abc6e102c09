-- depends: 0029_fan_out_in_worker
-- Matching speed, the tail (issue 11; docs/matching.md "How it stays fast"):
-- * the stored points carry whether the mechanic is on shift now (active and currently_on_shift, kept
--   by the mechanics trigger of db/triggers/60_matching_static.sql), with an index of the on-shift
--   mechanics best first: an immediate request walks only them instead of reading every mechanic
--   in the stored order and dropping the 70% off shift;
-- * the workload criterion counts one candidate's sessions starting within 12 hours of the request
--   (per walked candidate). With only (mechanic_id, scheduled_for) that read every session the
--   mechanic ever had (~100 heap pages each on the bench's 1M sessions); keyed by mechanic and start it
--   is a short range of one index. (sessions_booked_start_idx, by start for everyone at once, stays:
--   the app-side baseline of bench/matching.py reads a window over everyone.)
-- squawk-ignore-file require-concurrent-index-creation
-- (yoyo runs a migration in one transaction, where CREATE INDEX CONCURRENTLY cannot run)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE app.mechanic_match_static ADD COLUMN on_shift boolean NOT NULL DEFAULT false;
-- (every migrate recomputes every stored row, the flag included: db/triggers/60_matching_static.sql)
CREATE INDEX mechanic_match_static_on_shift_idx ON app.mechanic_match_static (points DESC, mechanic_id)
  WHERE on_shift;

CREATE INDEX sessions_mechanic_start_idx ON app.sessions (mechanic_id, (lower(period)))
  WHERE mechanic_id IS NOT NULL AND status <> 'cancelled';

-- Reverts 0030_matching_tail: the workload's per-mechanic index, the on-shift index and flag of the
-- stored points go (the previous version's files neither read nor write the flag).
-- squawk-ignore-file require-concurrent-index-deletion
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP INDEX app.sessions_mechanic_start_idx;
DROP INDEX app.mechanic_match_static_on_shift_idx;
ALTER TABLE app.mechanic_match_static DROP COLUMN on_shift;

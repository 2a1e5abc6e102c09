-- Reverts 0030_matching_workload_index: the workload's per-mechanic index goes (the query still runs,
-- through sessions_mechanic_id_idx).
-- squawk-ignore-file require-concurrent-index-deletion
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP INDEX app.sessions_mechanic_start_idx;

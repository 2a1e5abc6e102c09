-- Reverts 0015_retire_worker_reads: nothing to restore. Version 0014's files created none of what
-- 0015 removes (they dropped it too), so a database rolled back to 0014 has none of it either.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

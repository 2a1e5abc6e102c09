-- Reverts 0009_retire_worker_reads: nothing to restore. Version 0006's files created none of what
-- 0009 removes (they dropped it too), so a database rolled back to 0006 has none of it either.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- Reverts 0012_retire_worker_reads: nothing to restore. Version 0011's files created none of what
-- 0012 removes (they dropped it too), so a database rolled back to 0011 has none of it either.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

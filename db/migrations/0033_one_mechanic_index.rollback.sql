-- Reverts 0033_one_mechanic_index: the two indexes by mechanic as 0002 and 0030 made them.
-- squawk-ignore-file require-concurrent-index-creation, require-concurrent-index-deletion
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP INDEX app.sessions_mechanic_start_idx;
CREATE INDEX sessions_mechanic_id_idx ON app.sessions (mechanic_id, scheduled_for);
CREATE INDEX sessions_mechanic_start_idx ON app.sessions (mechanic_id, (lower(period)))
  WHERE mechanic_id IS NOT NULL AND status <> 'cancelled';

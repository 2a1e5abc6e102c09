-- depends: 0031_outbox_kind_no_share_lock
-- A booking transaction that carries only its guarantees, part 5 (issue 13): one index by mechanic
-- instead of two. Every scheduled booking wrote an entry into both sessions_mechanic_id_idx
-- (mechanic_id, scheduled_for; 0002) and sessions_mechanic_start_idx (mechanic_id, lower(period))
-- WHERE mechanic_id IS NOT NULL AND status <> 'cancelled' (0030). The partial one cannot serve the
-- readers that need every status (a mechanic's past/all appointments under RLS, the foreign key's
-- check when a mechanic row goes), so it becomes whole and the other goes:
-- * (mechanic_id, lower(period)) answers everything (mechanic_id, scheduled_for) answered (the key's
--   check and RLS by its first column) and orders the appointment lists, which sort by start =
--   lower(period), where scheduled_for is NULL for immediate sessions;
-- * INCLUDE (status): the matching workload count (mechanic, start window, status <> 'cancelled')
--   can still be answered from the index alone, as it was from the partial index;
-- * busy time, time off conflicts and bookings outside hours read the exclusion constraint's GiST
--   index (mechanic_id, period), as before.
-- squawk-ignore-file require-concurrent-index-creation, require-concurrent-index-deletion
-- (yoyo runs a migration in one transaction, where CREATE/DROP INDEX CONCURRENTLY cannot run)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP INDEX app.sessions_mechanic_start_idx;
DROP INDEX app.sessions_mechanic_id_idx;
CREATE INDEX sessions_mechanic_start_idx ON app.sessions (mechanic_id, (lower(period))) INCLUDE (status);

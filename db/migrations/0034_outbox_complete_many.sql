-- depends: 0033_one_mechanic_index
-- A cheaper booking fan-out, worker side (issue 13):
-- * api.outbox_complete_many (db/functions/30_outbox.sql): the worker writes back the completions
--   that finished while its previous write-back ran in one statement and one commit (this migration
--   only marks the version; the function lives in the idempotent file, its rollback drops it);
-- * scheduled_payments_status: an index on a four-value column that no query reads through (the
--   only filters on status alone are the reconciliation's `status IN ('succeeded', 'refunded')`,
--   most rows, and stripe_sync_pending's, ORed with a subquery: both scan the table), so each
--   charge inserted and each PaymentIntent linked wrote an entry for nothing, and a status change
--   (pending -> succeeded) could never be a HOT update.
-- squawk-ignore-file require-concurrent-index-deletion
-- (yoyo runs a migration in one transaction, where DROP INDEX CONCURRENTLY cannot run; the drop holds
-- the table's lock only for the catalog change)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP INDEX app.scheduled_payments_status;

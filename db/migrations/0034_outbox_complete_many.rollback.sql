-- Reverts 0034_outbox_complete_many: the batched completion goes (the previous version's
-- db/functions/30_outbox.sql has api.outbox_complete do its own write-back) and the payments'
-- status index comes back.
-- squawk-ignore-file require-concurrent-index-creation
-- (yoyo runs a rollback in one transaction, where CREATE INDEX CONCURRENTLY cannot run)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION IF EXISTS api.outbox_complete_many(text, bigint[], jsonb[]);
CREATE INDEX scheduled_payments_status ON app.scheduled_payments (status);

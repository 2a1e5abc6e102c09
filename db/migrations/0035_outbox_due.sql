-- depends: 0034_outbox_complete_many
-- The outbox drains a backlog in time linear in its size (issue 13): app_private.outbox_due
-- (db/functions/30_outbox.sql) chooses the due rows of api.outbox_claim and api.outbox_apply_due,
-- reading each kind's pending rows in index order and at most the batch of them, where one query
-- over every kind fetched and sorted every due row on each call (a backlog of 194,000 rows: 0.3 s a
-- batch). This migration only marks the version; the function lives in the idempotent file, its
-- rollback drops it.
SELECT 1;

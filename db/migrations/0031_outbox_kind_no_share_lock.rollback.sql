-- Reverts 0031_outbox_kind_no_share_lock: the outbox's foreign key to app.outbox_kinds comes back as
-- 0008 added it (NOT VALID, then validated: one scan of the outbox, which keeps taking writes while
-- it runs); the triggers of db/triggers/30_outbox_kind_registered.sql and their functions go.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS outbox_05_kind_registered ON app.outbox;
DROP FUNCTION IF EXISTS app_private.outbox_kind_registered();
DROP TRIGGER IF EXISTS outbox_kinds_15_keep_referenced ON app.outbox_kinds;
DROP TRIGGER IF EXISTS outbox_kinds_15_no_truncate_referenced ON app.outbox_kinds;
DROP FUNCTION IF EXISTS app_private.outbox_kinds_keep_referenced();
ALTER TABLE app.outbox ADD CONSTRAINT outbox_kind_registered
  FOREIGN KEY (kind) REFERENCES app.outbox_kinds (kind) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.outbox VALIDATE CONSTRAINT outbox_kind_registered;

-- Reverts 0035_outbox_due: the previous version's db/functions/30_outbox.sql chooses the due rows in
-- api.outbox_claim and api.outbox_apply_due themselves.
DROP FUNCTION IF EXISTS app_private.outbox_due(text[], timestamptz, integer, boolean);

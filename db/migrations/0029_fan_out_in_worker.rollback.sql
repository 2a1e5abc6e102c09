-- Reverts 0029_fan_out_in_worker: the booking events go back to the default lane (the previous
-- version's worker completes them through api.outbox_complete, which applies the same fan-out),
-- the lane and api.outbox_apply_due go (the previous files do not create it).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

UPDATE app.outbox_kinds SET lane = 'default' WHERE lane = 'database';
DELETE FROM app.outbox_lanes WHERE lane = 'database';
DROP FUNCTION IF EXISTS api.outbox_apply_due(text, integer);

-- Session emails not sent yet carry ids only (their facts are read when claimed, by
-- app_private.session_email_facts): the previous version's worker needs the facts in the row. Those
-- the claim would skip are done as skipped; the others get their facts written in.
UPDATE app.outbox o
   SET status = 'done', done_at = now(), updated_at = now(), leased_until = NULL, locked_by = NULL,
       result = jsonb_build_object('status', 'skipped', 'reason', app_private.session_email_facts(o.payload) ->> 'skip')
 WHERE o.kind = 'email.send' AND o.status IN ('pending', 'running') AND o.payload ? 'recipient_id'
   AND NOT o.payload ? 'to' AND app_private.session_email_facts(o.payload) ? 'skip';
UPDATE app.outbox o
   SET payload = o.payload || app_private.session_email_facts(o.payload)
 WHERE o.kind = 'email.send' AND o.status IN ('pending', 'running') AND o.payload ? 'recipient_id'
   AND NOT o.payload ? 'to';
UPDATE app.outbox_kinds SET context_fn = NULL WHERE kind = 'email.send';
DROP FUNCTION IF EXISTS app_private.session_email_facts(jsonb);
DROP FUNCTION IF EXISTS app_private.invite_facts(jsonb, text, text, integer, text);  -- the previous session_invite_data joins itself

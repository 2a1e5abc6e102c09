-- Reverts 0025_booking_event: no session.booked kind and no fan-out functions. Events not yet
-- fanned out are applied first (the charge, the emails and the reminders the previous version
-- writes in the booking transaction), so rolling back loses no booking's effects; then the event
-- rows and the kind go. The previous version's files (re-applied after a rollback) bring back the
-- sessions triggers that write those effects themselves.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

SELECT app_private.session_booked_fan_out(o.session_id)
  FROM app.outbox o
 WHERE o.kind = 'session.booked' AND o.status <> 'done' AND o.session_id IS NOT NULL
 ORDER BY o.id;
DELETE FROM app.outbox WHERE kind = 'session.booked';
DELETE FROM app.outbox_kinds WHERE kind = 'session.booked';

DROP FUNCTION IF EXISTS app_private.session_booked_apply(bigint, jsonb, jsonb);
DROP FUNCTION IF EXISTS app_private.session_booked_fan_out(uuid);

-- The previous version's files bring back the outbox NOTIFY triggers (and their functions) and
-- api.outbox_kinds() without `applies`; its row type changes, so it goes first.
DROP FUNCTION IF EXISTS api.outbox_kinds();

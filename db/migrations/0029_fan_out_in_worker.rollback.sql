-- Reverts 0029_fan_out_in_worker: the booking events go back to the default lane (the previous
-- version's worker completes them through api.outbox_complete, which applies the same fan-out),
-- the lane and api.outbox_apply_due go (the previous files do not create it).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

UPDATE app.outbox_kinds SET lane = 'default' WHERE lane = 'database';
DELETE FROM app.outbox_lanes WHERE lane = 'database';
DROP FUNCTION IF EXISTS api.outbox_apply_due(text, integer);

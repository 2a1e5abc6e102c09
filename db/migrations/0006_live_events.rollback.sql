-- Reverts 0006_live_events: the events and the functions that write and read them.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION IF EXISTS app_private.emit_live_event(text, uuid[], jsonb, uuid);
DROP FUNCTION IF EXISTS api.live_events_after(bigint, integer);
DROP FUNCTION IF EXISTS api.my_live_events(bigint, integer);
DROP FUNCTION IF EXISTS api.purge_live_events(interval);
DROP TABLE app.live_events;

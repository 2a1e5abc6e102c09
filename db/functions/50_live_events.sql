-- Live events (Server-Sent Events for the dashboards): written in the same transaction as the
-- change (app_private.emit_live_event), relayed by the API's one listener per process
-- (api.live_events_after), replayed to a reconnecting client (api.my_live_events).
-- The relays are woken AFTER the writing transaction commits, not from it (a NOTIFY in a committing
-- transaction serialises commits: db/triggers/30_outbox.sql): the API sends NOTIFY
-- autodoc_events_v1 in a statement of its own after a writing request, the worker after a completion
-- that wrote back; rows written by SQL-only writers (pg_cron jobs, psql) are found by the relay's
-- poll (1 s).

-- emit_live_event(kind, audience, payload, session?): record an event for the given users. Returns
-- the event id. Called by definer functions and triggers; owner only. Raises nothing
-- of its own (CHECK violations for a malformed kind, an empty audience or a non-object payload).
CREATE OR REPLACE FUNCTION app_private.emit_live_event(p_kind text, p_audience uuid[], p_payload jsonb,
                                                       p_session_id uuid DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id bigint;
  v_audience uuid[] := ARRAY(SELECT DISTINCT a FROM unnest(p_audience) a WHERE a IS NOT NULL);
BEGIN
  INSERT INTO app.live_events (kind, audience, session_id, payload, created_at)
  VALUES (p_kind, v_audience, p_session_id, coalesce(p_payload, '{}'::jsonb), app_private.now())
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

-- api.live_events_after(after_id, limit?): the relay's read: every event with id > after_id, oldest
-- first (at most p_limit). The relay filters by `audience` before sending anything to a client.
-- Worker role only (the API's listener connects as autodoc_worker); RLS lets that role read all.
CREATE OR REPLACE FUNCTION api.live_events_after(p_after_id bigint, p_limit integer DEFAULT 500)
RETURNS TABLE (id bigint, kind text, audience uuid[], session_id uuid, payload jsonb, created_at timestamptz)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT e.id, e.kind, e.audience, e.session_id, e.payload, e.created_at
  FROM app.live_events e
  WHERE e.id > coalesce(p_after_id, 0)
  ORDER BY e.id
  LIMIT least(greatest(coalesce(p_limit, 500), 1), 5000)
$$;
COMMENT ON FUNCTION api.live_events_after(bigint, integer) IS
'The live-event relay''s read: events with id > p_after_id, oldest first, at most p_limit (max 5000). Worker role (the API''s listener).';
GRANT EXECUTE ON FUNCTION api.live_events_after(bigint, integer) TO autodoc_worker;

-- api.my_live_events(after_id, limit?): replay for a reconnecting client (Last-Event-ID): the
-- caller's events with id > after_id, oldest first. SECURITY INVOKER: RLS shows only events whose
-- audience holds the caller.
CREATE OR REPLACE FUNCTION api.my_live_events(p_after_id bigint, p_limit integer DEFAULT 500)
RETURNS TABLE (id bigint, kind text, session_id uuid, payload jsonb, created_at timestamptz)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT e.id, e.kind, e.session_id, e.payload, e.created_at
  FROM app.live_events e
  WHERE e.id > coalesce(p_after_id, 0)
  ORDER BY e.id
  LIMIT least(greatest(coalesce(p_limit, 500), 1), 5000)
$$;
COMMENT ON FUNCTION api.my_live_events(bigint, integer) IS
'The caller''s live events after p_after_id (a reconnecting SSE client''s Last-Event-ID), oldest first. RLS: only events addressed to the caller. Customers, mechanics, admins.';
GRANT EXECUTE ON FUNCTION api.my_live_events(bigint, integer) TO autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.purge_live_events(keep?): delete events older than p_keep (default 1 hour: the replay window).
-- pg_cron job autodoc-purge-live-events. Returns how many were deleted. Owner (pg_cron), admin.
CREATE OR REPLACE FUNCTION api.purge_live_events(p_keep interval DEFAULT '1 hour') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_count integer;
BEGIN
  DELETE FROM app.live_events e WHERE e.created_at < app_private.now() - p_keep;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.purge_live_events(interval) IS
'Delete live events older than p_keep (default 1 hour, the Last-Event-ID replay window). pg_cron job autodoc-purge-live-events. Admin.';
GRANT EXECUTE ON FUNCTION api.purge_live_events(interval) TO autodoc_admin;

-- api.live_events_head(): the oldest and newest event ids still kept ({oldest_id, newest_id}, NULLs
-- when there is none). The SSE endpoint uses it to tell whether a reconnecting client's
-- Last-Event-ID is still inside the replay window, and the relay to start at the head. Ids only:
-- nothing about whom the events are for. Customers, mechanics, admins, the worker (the relay).
CREATE OR REPLACE FUNCTION api.live_events_head()
RETURNS TABLE (oldest_id bigint, newest_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT min(e.id), max(e.id) FROM app.live_events e
$$;
COMMENT ON FUNCTION api.live_events_head() IS
'The oldest and newest live-event ids still kept (NULLs when none): whether a Last-Event-ID can still be replayed, and where the relay starts. Customers, mechanics, admins, worker.';
GRANT EXECUTE ON FUNCTION api.live_events_head() TO autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

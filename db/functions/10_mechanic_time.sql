-- Who may change a mechanic's time: ONE guarantee for everything that occupies it (a booking, a
-- hold, a reschedule, an accepted offer) or removes it (time off, weekly blocks, workshop hours,
-- going off shift). Every such writer takes the mechanic's lock FIRST, then checks, then writes, in
-- one transaction; the check runs after the lock was granted, so it sees everything the previous
-- holder committed. The checks live in triggers (db/triggers/10_mechanic_time.sql), so a DBA's
-- INSERT takes the same path as the API. docs/conventions.md "Who may change a mechanic's time"
-- explains the choice (an advisory lock rather than one busy-period table).

-- lock_mechanic_time(mechanic): the lock. A transaction-level advisory lock: no row is written, it is
-- released at commit or rollback, and writers for other mechanics never wait. Key: (20, hash of the
-- uuid) — class 20 (booking band) keeps it apart from any other advisory lock; a hash collision only
-- makes two mechanics' writers wait for each other. Taking it again in the same transaction is free
-- (re-entrant), so a function may lock and the trigger behind its INSERT lock again.
-- Refused under REPEATABLE READ: a transaction that waited for the lock would then check against
-- its old snapshot and miss what the previous holder committed. READ COMMITTED (the default) checks
-- with a fresh snapshot per statement; SERIALIZABLE detects the conflict itself (40001, retry).
-- Owner only (SECURITY DEFINER callers and triggers). Raises 500 isolation_not_supported.
CREATE OR REPLACE FUNCTION app_private.lock_mechanic_time(p_mechanic_id uuid) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF p_mechanic_id IS NULL THEN
    RETURN;
  END IF;
  IF pg_catalog.current_setting('transaction_isolation') = 'repeatable read' THEN
    PERFORM app_private.raise_error(500, 'isolation_not_supported',
      'Changes to a mechanic''s time must run in READ COMMITTED or SERIALIZABLE transactions');
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock(20, pg_catalog.hashtext(p_mechanic_id::text));
END
$$;

-- lock_mechanics_time(mechanics): the lock for several mechanics (a reschedule to another mechanic,
-- a workshop's hours), taken in one global order so two such writers never wait for each other in a
-- circle. The order is the lock key's (the hash lock_mechanic_time uses), not the uuid's: with
-- uuid order, two mechanics whose keys collide could still be taken in opposite orders. Owner only.
CREATE OR REPLACE FUNCTION app_private.lock_mechanics_time(p_mechanic_ids uuid[]) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_id uuid;
BEGIN
  FOR v_id IN
    SELECT DISTINCT ON (pg_catalog.hashtext(m::text)) m
    FROM unnest(p_mechanic_ids) m
    WHERE m IS NOT NULL
    ORDER BY pg_catalog.hashtext(m::text)
  LOOP
    PERFORM app_private.lock_mechanic_time(v_id);
  END LOOP;
END
$$;

-- time_off_conflicts(mechanic, range): the mechanic's bookings and live holds overlapping range,
-- as a JSON array [{session_id, starts_at, ends_at, status}] (soonest first), NULL when none.
-- Holds lapsed by now do not count. Owner only.
CREATE OR REPLACE FUNCTION app_private.time_off_conflicts(p_mechanic_id uuid, p_range tstzrange) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
BEGIN
  RETURN (SELECT jsonb_agg(jsonb_build_object('session_id', s.id, 'starts_at', lower(s.period), 'ends_at', s.ends_at,
                                              'status', s.status) ORDER BY lower(s.period))
          FROM app.sessions s
          WHERE s.mechanic_id = p_mechanic_id AND s.status = ANY (app_private.blocking_statuses())
            AND s.period && p_range
            AND NOT (s.status = 'held' AND s.hold_expires_at <= v_now));
END
$$;

-- bookings_outside_hours(mechanic): the mechanic's scheduled bookings and live holds that are not
-- over yet and do not lie inside the mechanic's opening hours as they are now, as a JSON array
-- [{session_id, mechanic_id, starts_at, ends_at, status}] (soonest first), NULL when none.
-- Immediate sessions follow the shift, not the weekly hours, so they never count. Owner only.
CREATE OR REPLACE FUNCTION app_private.bookings_outside_hours(p_mechanic_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' SET jit = off AS $$
DECLARE
  v_now timestamptz := app_private.now();
  v_span tstzrange;
  v_open tstzmultirange;
BEGIN
  SELECT range_merge(range_agg(s.period)) INTO v_span
  FROM app.sessions s
  WHERE s.mechanic_id = p_mechanic_id AND s.scheduled_for IS NOT NULL
    AND s.status = ANY (app_private.blocking_statuses()) AND s.ends_at > v_now
    AND NOT (s.status = 'held' AND s.hold_expires_at <= v_now);
  IF v_span IS NULL THEN
    RETURN NULL;   -- nothing booked ahead: any hours will do
  END IF;
  v_open := app_private.mechanic_open_during(p_mechanic_id, v_span);
  RETURN (SELECT jsonb_agg(jsonb_build_object('session_id', s.id, 'mechanic_id', s.mechanic_id,
                                              'starts_at', lower(s.period), 'ends_at', s.ends_at, 'status', s.status)
                           ORDER BY lower(s.period))
          FROM app.sessions s
          WHERE s.mechanic_id = p_mechanic_id AND s.scheduled_for IS NOT NULL
            AND s.status = ANY (app_private.blocking_statuses()) AND s.ends_at > v_now
            AND NOT (s.status = 'held' AND s.hold_expires_at <= v_now)
            AND NOT coalesce(s.period <@ v_open, false));
END
$$;

-- require_hours_cover_bookings(mechanics): after hours changed (weekly blocks, workshop hours, a
-- mechanic's workshop or zone), lock the mechanics and raise 409 hours_conflict (detail.sessions:
-- every booking the new hours would leave outside, over all the mechanics) unless every booked
-- session still fits. Owner only.
CREATE OR REPLACE FUNCTION app_private.require_hours_cover_bookings(p_mechanic_ids uuid[]) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_conflicts jsonb;
BEGIN
  PERFORM app_private.lock_mechanics_time(p_mechanic_ids);
  SELECT jsonb_agg(c ORDER BY c ->> 'starts_at') INTO v_conflicts
  FROM unnest(p_mechanic_ids) m, jsonb_array_elements(app_private.bookings_outside_hours(m)) c;
  IF v_conflicts IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'hours_conflict',
      'The new hours would leave booked sessions outside opening hours; cancel or move them first',
      jsonb_build_object('sessions', v_conflicts));
  END IF;
END
$$;

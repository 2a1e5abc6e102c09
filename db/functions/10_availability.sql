-- Availability: the one source of truth for "can this mechanic take [start, end)?".
--
-- Building blocks (all used by both the single-slot check and the day/calendar grids):
--   app_private.booking_settings()      the one settings row (notice, horizon, grid, default window)
--   app_private.mechanic_zone()         the IANA zone hours are read in (workshop's or mechanic's)
--   app_private.mechanic_windows()      opening windows as instants, per local day they open on
--   app_private.mechanic_busy()         bookings (blocking_statuses(), live holds) as a multirange
--   app_private.mechanic_time_off_in()  time off as a multirange
--   app_private.mechanic_open_during()  the opening hours around one range, as a multirange
--   app_private.availability_reasons()  the rules: which reasons make a slot unavailable
-- "Now" is app_private.now() (the trusted clock), read once per call by the PL/pgSQL functions and
-- handed to the inlined rule function as a value.
-- Local wall-clock times become instants with `(date + time) AT TIME ZONE zone`, so DST days
-- (23 h / 25 h), half-hour zones and windows crossing midnight give exact instants.
--
-- mechanic_windows() and availability_reasons() are SQL functions without a SET clause on purpose:
-- PostgreSQL inlines them into the grid query (a SET clause would prevent that). Every name in them
-- is schema-qualified and only the owner can execute them. The other helpers are PL/pgSQL because
-- PL/pgSQL caches its plans across calls, where a non-inlined SQL function is planned on every
-- call (measured: ~0.15 ms per call on the booking path).

-- booking_settings(): the settings row. Owner only.
CREATE OR REPLACE FUNCTION app_private.booking_settings() RETURNS app.booking_settings
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v app.booking_settings;
BEGIN
  SELECT * INTO v FROM app.booking_settings s WHERE s.id;
  RETURN v;
END
$$;

-- mechanic_zone(mechanic): the zone opening hours are interpreted in; NULL for an unknown mechanic.
CREATE OR REPLACE FUNCTION app_private.mechanic_zone(p_mechanic_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  -- a scalar subquery, not a join: with few workshops the planner would hash the whole table
  RETURN (SELECT coalesce((SELECT w.timezone FROM app.workshops w WHERE w.id = m.workshop_id), m.timezone)
          FROM app.mechanics m WHERE m.user_id = p_mechanic_id);
END
$$;

-- mechanic_windows(mechanic, from, to): every opening window that OPENS on a local day in
-- [from, to], as an instant range. Workshop mechanics: the workshop's open days; independents:
-- their weekly blocks; nobody with hours defined at all: the default window every day.
-- close <= open means the window closes on the next local day. Owner only.
CREATE OR REPLACE FUNCTION app_private.mechanic_windows(p_mechanic_id uuid, p_from date, p_to date)
RETURNS TABLE (local_date date, opening tstzrange)
LANGUAGE sql STABLE AS $$
  WITH m AS (
    SELECT mc.user_id, mc.workshop_id,
           coalesce((SELECT w.timezone FROM app.workshops w WHERE w.id = mc.workshop_id), mc.timezone) AS tz
    FROM app.mechanics mc
    WHERE mc.user_id = p_mechanic_id
  ), hours AS (
    SELECT wa.day_of_week, wa.is_open, wa.open_time, wa.close_time
    FROM m JOIN app.workshop_availability wa ON wa.workshop_id = m.workshop_id
    UNION ALL
    SELECT b.day_of_week, true, b.start_time, b.end_time
    FROM m JOIN app.mechanic_availability_blocks b ON b.mechanic_id = m.user_id
    WHERE m.workshop_id IS NULL
  ), effective AS (
    SELECT h.day_of_week::int AS dow, h.open_time, h.close_time FROM hours h WHERE h.is_open
    UNION ALL
    SELECT d, s.default_open_time, s.default_close_time
    FROM app.booking_settings s CROSS JOIN generate_series(0, 6) d
    WHERE s.id AND NOT EXISTS (SELECT FROM hours)
  ), days AS (
    SELECT p_from + g AS d FROM generate_series(0, p_to - p_from) g
  )
  SELECT days.d,
         tstzrange((days.d + e.open_time) AT TIME ZONE m.tz,
                   ((days.d + (e.close_time <= e.open_time)::int) + e.close_time) AT TIME ZONE m.tz, '[)')
  FROM m CROSS JOIN days JOIN effective e ON e.dow = extract(dow FROM days.d)::int
$$;

-- mechanic_busy(mechanic, range, except session): the mechanic's bookings overlapping range.
-- Counts exactly what sessions_no_mechanic_overlap counts, minus holds already lapsed by now
-- (they no longer block; the booking functions release them before inserting). Owner only.
CREATE OR REPLACE FUNCTION app_private.mechanic_busy(p_mechanic_id uuid, p_range tstzrange,
                                                     p_except_session uuid DEFAULT NULL)
RETURNS tstzmultirange
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
BEGIN
  RETURN (SELECT coalesce(range_agg(s.period), '{}'::tstzmultirange)
          FROM app.sessions s
          WHERE s.mechanic_id = p_mechanic_id
            AND s.status = ANY (app_private.blocking_statuses())
            AND s.period && p_range
            AND NOT (s.status = 'held' AND s.hold_expires_at <= v_now)
            AND s.id IS DISTINCT FROM p_except_session);
END
$$;

-- mechanic_time_off_in(mechanic, range): time off overlapping range as a multirange. Owner only.
CREATE OR REPLACE FUNCTION app_private.mechanic_time_off_in(p_mechanic_id uuid, p_range tstzrange)
RETURNS tstzmultirange
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  RETURN (SELECT coalesce(range_agg(t.period), '{}'::tstzmultirange)
          FROM app.mechanic_time_off t
          WHERE t.mechanic_id = p_mechanic_id AND t.period && p_range);
END
$$;

-- mechanic_open_during(mechanic, range): the mechanic's opening hours (see mechanic_windows) on the
-- local days `range` touches, from the day before (a window opening the evening before may still be
-- open), as a multirange; NULL for an unknown mechanic. `range <@ result` = inside opening hours.
-- Owner only.
CREATE OR REPLACE FUNCTION app_private.mechanic_open_during(p_mechanic_id uuid, p_range tstzrange)
RETURNS tstzmultirange
LANGUAGE plpgsql STABLE SET search_path = '' SET jit = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_zone text := app_private.mechanic_zone(p_mechanic_id);
BEGIN
  IF v_zone IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN (SELECT coalesce(range_agg(w.opening), '{}'::tstzmultirange)
          FROM app_private.mechanic_windows(p_mechanic_id, (lower(p_range) AT TIME ZONE v_zone)::date - 1,
                                            (upper(p_range) AT TIME ZONE v_zone)::date) w);
END
$$;

-- availability_reasons(...): THE rules. Empty array = available. Reasons, in this order:
-- in_the_past, too_short_notice, beyond_horizon, closed, time_off, overlapping_booking.
-- A pure function of its arguments (p_as_of is the caller's app_private.now(), read once), so the
-- planner inlines it into the grid query.
CREATE OR REPLACE FUNCTION app_private.availability_reasons(
  p_slot tstzrange, p_open tstzmultirange, p_time_off tstzmultirange, p_busy tstzmultirange,
  p_as_of timestamptz, p_min_notice interval, p_horizon interval)
RETURNS text[]
LANGUAGE sql STABLE AS $$   -- STABLE, not IMMUTABLE: timestamptz + interval is stable, and an
                            -- over-declared volatility would stop the planner inlining it
  SELECT array_remove(ARRAY[
    CASE WHEN lower(p_slot) < p_as_of THEN 'in_the_past' END,
    CASE WHEN lower(p_slot) >= p_as_of AND lower(p_slot) < p_as_of + p_min_notice THEN 'too_short_notice' END,
    CASE WHEN lower(p_slot) > p_as_of + p_horizon THEN 'beyond_horizon' END,
    CASE WHEN NOT coalesce(p_slot <@ p_open, false) THEN 'closed' END,
    CASE WHEN coalesce(p_slot && p_time_off, false) THEN 'time_off' END,
    CASE WHEN coalesce(p_slot && p_busy, false) THEN 'overlapping_booking' END
  ], NULL)
$$;

-- slot_reasons(mechanic, slot, except session): reasons for one arbitrary [start, end), as of now.
-- Used by api.check_availability (the booking functions check through require_slot and the
-- sessions trigger, see 20_booking.sql). Owner only.
CREATE OR REPLACE FUNCTION app_private.slot_reasons(p_mechanic_id uuid, p_slot tstzrange,
                                                    p_except_session uuid DEFAULT NULL)
RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = '' SET jit = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_settings app.booking_settings := app_private.booking_settings();
  v_open tstzmultirange := app_private.mechanic_open_during(p_mechanic_id, p_slot);
BEGIN
  IF v_open IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN app_private.availability_reasons(p_slot, v_open,
           app_private.mechanic_time_off_in(p_mechanic_id, p_slot),
           app_private.mechanic_busy(p_mechanic_id, p_slot, p_except_session),
           app_private.now(), v_settings.min_notice, v_settings.booking_horizon);
END
$$;

-- slot_grid(mechanic, from, to, duration): every candidate slot of the local days [from, to]:
-- starts every slot_step across each (merged) opening window; a slot is available when the whole
-- duration fits in the opening hours and nothing else excludes it. Set-based: one query for the
-- whole range (busy time and time off are read once). Owner only.
CREATE OR REPLACE FUNCTION app_private.slot_grid(p_mechanic_id uuid, p_from date, p_to date, p_duration interval)
RETURNS TABLE (local_date date, starts_at timestamptz, ends_at timestamptz, available boolean, reasons text[])
LANGUAGE plpgsql STABLE SET search_path = ''
-- generate_series' row estimates would trigger JIT (~20 ms); custom plans would re-plan the inlined
-- window query on every call (~0.6 ms). Generic plans are right here: the shape never changes.
SET jit = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_settings app.booking_settings := app_private.booking_settings();
  v_now timestamptz := app_private.now();
  v_open tstzmultirange;
  v_span tstzrange;
  v_busy tstzmultirange;
  v_off tstzmultirange;
BEGIN
  SELECT coalesce(range_agg(w.opening), '{}'::tstzmultirange),
         tstzrange(min(lower(w.opening)), max(upper(w.opening)) + p_duration)
  INTO v_open, v_span
  FROM app_private.mechanic_windows(p_mechanic_id, p_from - 1, p_to) w;
  IF v_span IS NULL THEN
    RETURN;   -- closed on every day
  END IF;
  v_busy := app_private.mechanic_busy(p_mechanic_id, v_span);
  v_off := app_private.mechanic_time_off_in(p_mechanic_id, v_span);
  RETURN QUERY
  WITH merged AS (
    SELECT w.local_date, unnest(range_agg(w.opening)) AS opening
    FROM app_private.mechanic_windows(p_mechanic_id, p_from, p_to) w
    GROUP BY w.local_date
  ), cand AS (
    SELECT m.local_date, g AS starts_at
    FROM merged m CROSS JOIN LATERAL generate_series(lower(m.opening), upper(m.opening), v_settings.slot_step) g
    WHERE g < upper(m.opening)
  )
  SELECT c.local_date, c.starts_at, c.starts_at + p_duration, cardinality(r.reasons) = 0, r.reasons
  FROM cand c
  CROSS JOIN LATERAL (SELECT app_private.availability_reasons(tstzrange(c.starts_at, c.starts_at + p_duration, '[)'),
                        v_open, v_off, v_busy, v_now, v_settings.min_notice, v_settings.booking_horizon) AS reasons) r
  ORDER BY c.starts_at;
END
$$;

-- plan_duration(code): the plan's duration; raises 422 unknown_plan for an unknown/inactive plan.
CREATE OR REPLACE FUNCTION app_private.plan_duration(p_plan_code text) RETURNS interval
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_minutes int;
BEGIN
  SELECT p.duration_minutes INTO v_minutes FROM app.plans p WHERE p.code = p_plan_code AND p.is_active;
  IF v_minutes IS NULL THEN
    PERFORM app_private.raise_error(422, 'unknown_plan', format('Unknown plan "%s"', p_plan_code),
      jsonb_build_object('field', 'plan_code', 'value', p_plan_code));
  END IF;
  RETURN make_interval(mins => v_minutes);
END
$$;

-- require_mechanic(id): the mechanic's zone; raises 404 mechanic_not_found (also when inactive).
CREATE OR REPLACE FUNCTION app_private.require_mechanic(p_mechanic_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_zone text;
BEGIN
  SELECT coalesce((SELECT w.timezone FROM app.workshops w WHERE w.id = m.workshop_id), m.timezone) INTO v_zone
  FROM app.mechanics m
  WHERE m.user_id = p_mechanic_id AND m.is_active;
  IF v_zone IS NULL THEN
    PERFORM app_private.raise_error(404, 'mechanic_not_found', 'Mechanic not found',
      jsonb_build_object('mechanic_id', p_mechanic_id));
  END IF;
  RETURN v_zone;
END
$$;

------------------------------------------------------------------------------------------------
-- Public interface
------------------------------------------------------------------------------------------------

-- api.check_availability(mechanic, starts_at, ends_at?, plan?): is the mechanic available for
-- [starts_at, ends_at) (ends_at defaults to starts_at + the plan's duration)? Returns one row with
-- the reasons when not. Any role (reveals only free/busy). Raises 404 mechanic_not_found,
-- 422 missing_field, 422 unknown_plan, 422 invalid_range.
CREATE OR REPLACE FUNCTION api.check_availability(p_mechanic_id uuid, p_starts_at timestamptz,
  p_ends_at timestamptz DEFAULT NULL, p_plan_code text DEFAULT 'standard')
RETURNS TABLE (available boolean, reasons text[], starts_at timestamptz, ends_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_end timestamptz;
  v_reasons text[];
BEGIN
  IF p_mechanic_id IS NULL OR p_starts_at IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'mechanic_id and starts_at are required',
      jsonb_build_object('field', CASE WHEN p_mechanic_id IS NULL THEN 'mechanic_id' ELSE 'starts_at' END));
  END IF;
  PERFORM app_private.require_mechanic(p_mechanic_id);
  v_end := coalesce(p_ends_at, p_starts_at + app_private.plan_duration(p_plan_code));
  IF v_end <= p_starts_at THEN
    PERFORM app_private.raise_error(422, 'invalid_range', 'ends_at must be after starts_at',
      jsonb_build_object('starts_at', p_starts_at, 'ends_at', v_end));
  END IF;
  v_reasons := app_private.slot_reasons(p_mechanic_id, tstzrange(p_starts_at, v_end, '[)'));
  RETURN QUERY SELECT cardinality(v_reasons) = 0, v_reasons, p_starts_at, v_end;
END
$$;
COMMENT ON FUNCTION api.check_availability(uuid, timestamptz, timestamptz, text) IS
'Is the mechanic available for [starts_at, ends_at) (ends_at defaults to starts_at + plan duration)? Returns available and reasons (in_the_past, too_short_notice, beyond_horizon, closed, time_off, overlapping_booking). Any role. Raises 404 mechanic_not_found, 422 missing_field/unknown_plan/invalid_range.';
GRANT EXECUTE ON FUNCTION api.check_availability(uuid, timestamptz, timestamptz, text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- api.mechanic_slots(mechanic, date, plan?): the candidate slots of one LOCAL day (in the
-- mechanic's or workshop's zone), every 30 minutes across the opening window, each with available
-- and reasons; a slot is available only when the plan's whole duration fits. Any role.
-- Raises 404 mechanic_not_found, 422 missing_field, 422 unknown_plan.
CREATE OR REPLACE FUNCTION api.mechanic_slots(p_mechanic_id uuid, p_date date, p_plan_code text DEFAULT 'standard')
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz, local_start timestamp, available boolean, reasons text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_zone text;
BEGIN
  IF p_mechanic_id IS NULL OR p_date IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'mechanic_id and date are required',
      jsonb_build_object('field', CASE WHEN p_mechanic_id IS NULL THEN 'mechanic_id' ELSE 'date' END));
  END IF;
  v_zone := app_private.require_mechanic(p_mechanic_id);
  RETURN QUERY
  SELECT g.starts_at, g.ends_at, g.starts_at AT TIME ZONE v_zone, g.available, g.reasons
  FROM app_private.slot_grid(p_mechanic_id, p_date, p_date, app_private.plan_duration(p_plan_code)) g;
END
$$;
COMMENT ON FUNCTION api.mechanic_slots(uuid, date, text) IS
'Slots of one local day (mechanic''s/workshop''s zone): a 30-minute grid across the opening window (default 09:00-18:00), each with starts_at, ends_at (= start + plan duration), local_start, available, reasons. Any role. Raises 404 mechanic_not_found, 422 missing_field/unknown_plan.';
GRANT EXECUTE ON FUNCTION api.mechanic_slots(uuid, date, text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- api.mechanic_calendar(mechanic, from?, days?, plan?): one row per local day from `from`
-- (default: the mechanic's local today) for `days` days (default 30, from the settings) with the
-- number of available and candidate slots, so a calendar can grey out days. Any role.
-- Raises 404 mechanic_not_found, 422 unknown_plan, 422 invalid_value (days outside 1..366).
CREATE OR REPLACE FUNCTION api.mechanic_calendar(p_mechanic_id uuid, p_from date DEFAULT NULL, p_days int DEFAULT NULL,
                                                 p_plan_code text DEFAULT 'standard')
RETURNS TABLE (local_date date, available_slots int, total_slots int)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_zone text;
  v_from date;
  v_days int;
BEGIN
  IF p_mechanic_id IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'mechanic_id is required', '{"field": "mechanic_id"}');
  END IF;
  v_zone := app_private.require_mechanic(p_mechanic_id);
  v_from := coalesce(p_from, (app_private.now() AT TIME ZONE v_zone)::date);
  v_days := coalesce(p_days, (app_private.booking_settings()).calendar_days);
  IF v_days NOT BETWEEN 1 AND 366 THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'days must be between 1 and 366',
      jsonb_build_object('field', 'days', 'value', v_days));
  END IF;
  RETURN QUERY
  SELECT d.day, coalesce(count(*) FILTER (WHERE g.available), 0)::int, count(g.starts_at)::int
  FROM (SELECT v_from + i AS day FROM generate_series(0, v_days - 1) i) d
  LEFT JOIN app_private.slot_grid(p_mechanic_id, v_from, v_from + v_days - 1,
                                  app_private.plan_duration(p_plan_code)) g ON g.local_date = d.day
  GROUP BY d.day
  ORDER BY d.day;
END
$$;
COMMENT ON FUNCTION api.mechanic_calendar(uuid, date, int, text) IS
'Per local day from p_from (default mechanic''s today) for p_days (default 30): available_slots and total_slots for the plan. Any role. Raises 404 mechanic_not_found, 422 unknown_plan/invalid_value.';
GRANT EXECUTE ON FUNCTION api.mechanic_calendar(uuid, date, int, text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- parse_time(text, field): a local wall-clock time from JSON text; raises 422 invalid_value.
CREATE OR REPLACE FUNCTION app_private.parse_time(p_value text, p_field text) RETURNS time
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
  IF p_value IS NULL OR p_value !~ '^\d{1,2}:\d{2}(:\d{2})?$' THEN
    PERFORM app_private.raise_error(422, 'invalid_value', format('%s must be a time like "09:00"', p_field),
      jsonb_build_object('field', p_field, 'value', p_value));
  END IF;
  RETURN p_value::time;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
  PERFORM app_private.raise_error(422, 'invalid_value', format('%s must be a time like "09:00"', p_field),
    jsonb_build_object('field', p_field, 'value', p_value));
  RETURN NULL;
END
$$;

-- require_timezone(zone): raises 422 invalid_timezone (or missing_field) unless an IANA zone.
CREATE OR REPLACE FUNCTION app_private.require_timezone(p_zone text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  IF p_zone IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'timezone is required', '{"field": "timezone"}');
  -- 'localtime' means the server's own zone and posix/ right/ are aliases with other leap-second
  -- rules: a booking's wall-clock hours must not depend on how the server is set up.
  ELSIF NOT app_private.is_valid_timezone(p_zone) OR p_zone = 'localtime' OR p_zone ~ '^(posix|right)/' THEN
    PERFORM app_private.raise_error(422, 'invalid_timezone', format('Unknown time zone "%s"', p_zone),
      jsonb_build_object('field', 'timezone', 'value', p_zone));
  END IF;
END
$$;


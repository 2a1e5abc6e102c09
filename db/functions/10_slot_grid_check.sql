-- The slot grid as a rule (SPEC §4): a booking, hold or reschedule with a chosen mechanic must start
-- on a start the day grid offers (app_private.slot_grid: every slot_step from the opening of each
-- merged opening window, in absolute time, so DST days keep the same spacing). Kept in its own file
-- beside 10_availability.sql: it reads the same building blocks and adds no rule of its own.

-- require_on_grid(mechanic, start, duration, field?): raises 422 off_grid when `start` lies inside
-- one of the mechanic's opening windows but not on its grid; detail: field, value, step_minutes and
-- `nearest`, the grid starts just before and after `start` at which the whole duration still fits
-- in that window (0, 1 or 2 instants). A start outside every window is left to the availability
-- check (409 slot_unavailable, reason closed): there is no grid there to be off. Unknown mechanic:
-- nothing to check (the caller raises mechanic_not_found). Owner only; called by api.create_session,
-- api.hold_slot and api.reschedule_session after their own field checks.
-- force_generic_plan (like mechanic_open_during): with a custom plan the window query (the inlined
-- mechanic_windows) was planned again on every call, 0.6 of the 0.7 ms this check cost a booking.
CREATE OR REPLACE FUNCTION app_private.require_on_grid(p_mechanic_id uuid, p_start timestamptz, p_duration interval,
                                                       p_field text DEFAULT 'scheduled_for')
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = '' SET jit = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_zone text := app_private.mechanic_zone(p_mechanic_id);
  v_step interval := (app_private.booking_settings()).slot_step;
  v_window tstzrange;
  v_k numeric;
  v_nearest jsonb;
BEGIN
  IF v_zone IS NULL OR p_start IS NULL THEN
    RETURN;
  END IF;
  -- the merged windows of the start's local day and the day before (overnight hours) that contain it
  FOR v_window IN
    SELECT m.opening
    FROM (SELECT unnest(range_agg(w.opening)) AS opening
          FROM app_private.mechanic_windows(p_mechanic_id, (p_start AT TIME ZONE v_zone)::date - 1,
                                            (p_start AT TIME ZONE v_zone)::date) w
          GROUP BY w.local_date) m
    WHERE m.opening @> p_start
    ORDER BY lower(m.opening)   -- several (overnight hours): `nearest` comes from the latest
  LOOP
    v_k := extract(epoch FROM p_start - lower(v_window)) / extract(epoch FROM v_step);
    IF v_k = trunc(v_k) THEN
      RETURN;   -- on the grid of a window that contains it
    END IF;
  END LOOP;
  IF v_window IS NULL THEN
    RETURN;     -- outside the opening hours: not a grid question
  END IF;
  SELECT coalesce(jsonb_agg(c.g ORDER BY c.g), '[]') INTO v_nearest
  FROM (VALUES (lower(v_window) + v_step * floor(v_k)::float8), (lower(v_window) + v_step * ceil(v_k)::float8)) AS c(g)
  WHERE c.g + p_duration <= upper(v_window);
  PERFORM app_private.raise_error(422, 'off_grid',
    format('Appointments start every %s minutes from the opening time; pick one of the offered starts',
           extract(epoch FROM v_step)::int / 60),
    jsonb_build_object('field', p_field, 'value', p_start, 'nearest', v_nearest,
                       'step_minutes', extract(epoch FROM v_step)::int / 60));
END
$$;

-- Time off in whole local days: a client that means "off on 2026-12-10" sends the day, and the
-- database turns it into instants in the mechanic's zone (the workshop's for workshop mechanics),
-- the same zone every other rule about the mechanic's time uses. Beside 22_mechanics.sql so the
-- time-off function itself keeps one signature (instants).

-- api.mechanic_day_start(day, mechanic?): the instant the local day `day` starts for the mechanic
-- (midnight in their zone; on a day whose midnight does not exist, PostgreSQL's rule for a skipped
-- wall-clock time applies). The time off of local days D1..D2 is [day_start(D1), day_start(D2 + 1)).
-- The mechanic themselves, or an admin naming one. Raises 403 forbidden, 404 mechanic_not_found,
-- 422 missing_field.
CREATE OR REPLACE FUNCTION api.mechanic_day_start(p_day date, p_mechanic_id uuid DEFAULT NULL) RETURNS timestamptz
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_mechanic(p_mechanic_id);
BEGIN
  IF p_day IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'day is required', '{"field": "day"}');
  END IF;
  RETURN p_day::timestamp AT TIME ZONE app_private.require_mechanic(v_id);
END
$$;
COMMENT ON FUNCTION api.mechanic_day_start(date, uuid) IS
'The instant local day p_day starts for the mechanic (their zone, or their workshop''s): time off of local days D1..D2 is [mechanic_day_start(D1), mechanic_day_start(D2 + 1)). The calling mechanic, or an admin naming p_mechanic_id. Raises 403 forbidden, 404 mechanic_not_found, 422 missing_field.';
GRANT EXECUTE ON FUNCTION api.mechanic_day_start(date, uuid) TO autodoc_mechanic, autodoc_admin;

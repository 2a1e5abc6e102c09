-- A mechanic's schedule: the appointments booked with them, each with who is coming (the
-- customer's first name) and the vehicle. Row-level security keeps every other fact about the
-- customer hidden: the first name comes from a definer helper that answers only for sessions
-- assigned to the calling mechanic, and the vehicle is visible to the mechanic through the
-- policy "mechanics see the vehicles of their sessions".

-- session_customer_first_names(ids): (session id, customer's first name) for those of the given
-- sessions that are booked with, or offered to, the calling mechanic (live assignment); nothing for
-- any other session or caller. The first name is the first word of app.users.full_name.
-- PL/pgSQL: its body names a policy helper that is created after the function files.
CREATE OR REPLACE FUNCTION app_private.session_customer_first_names(p_session_ids uuid[])
RETURNS TABLE (session_id uuid, customer_first_name text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF app_private.current_app_role() IS DISTINCT FROM 'mechanic' THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT s.id, split_part(btrim(u.full_name), ' ', 1)
  FROM app.sessions s
  JOIN app.users u ON u.id = s.customer_id
  WHERE s.id = ANY (p_session_ids)
    AND (s.mechanic_id = app_private.current_user_id() OR s.id = ANY (app_private.my_assigned_session_ids()));
END
$$;
GRANT EXECUTE ON FUNCTION app_private.session_customer_first_names(uuid[]) TO autodoc_mechanic;

-- session_waiver_facts(ids): (session, signed, signed_at, mode) of the given sessions' waivers, for
-- those booked with the calling mechanic (their schedule shows who has signed). Never the image.
-- PL/pgSQL: its body names a band-80 table created by a later migration than this file's first.
CREATE OR REPLACE FUNCTION app_private.session_waiver_facts(p_session_ids uuid[])
RETURNS TABLE (session_id uuid, signed_at timestamptz, mode text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN QUERY
  SELECT w.session_id, w.signed_at, w.mode
  FROM app.waiver_signatures w
  JOIN app.sessions s ON s.id = w.session_id
  WHERE w.session_id = ANY (p_session_ids)
    AND (app_private.is_admin() OR s.mechanic_id = app_private.current_user_id());
END
$$;
GRANT EXECUTE ON FUNCTION app_private.session_waiver_facts(uuid[]) TO autodoc_mechanic, autodoc_admin;
-- the day view reads the mechanic's own zone (an invoker helper over public directory rows)
GRANT EXECUTE ON FUNCTION app_private.mechanic_zone(uuid) TO autodoc_mechanic;

-- api.mechanic_schedule(scope?, limit?, date?): the calling mechanic's appointments with
-- customer_first_name and the waiver status (waiver_status signed | unsigned, waiver_signed_at,
-- waiver_mode). p_scope upcoming (soonest first), past (latest first) or all, as
-- api.my_appointments; or 'day': every appointment (any status) starting on the local day p_date
-- (default: today) in the mechanic's zone (the workshop's for workshop mechanics), earliest first.
-- Mechanics. Raises 422 invalid_value.
CREATE OR REPLACE FUNCTION api.mechanic_schedule(p_scope text DEFAULT 'upcoming', p_limit int DEFAULT 100,
                                                 p_date date DEFAULT NULL)
RETURNS TABLE (id uuid, status text, type text, service_mode text, plan_code text, plan_name text, price_cents int,
               starts_at timestamptz, scheduled_for timestamptz, ends_at timestamptz, is_immediate boolean,
               customer_id uuid, customer_first_name text, mechanic_id uuid, mechanic_name text, workshop_id uuid,
               workshop_name text, workshop_address text, timezone text, vehicle_id uuid, vehicle jsonb,
               is_advice_only boolean, concern text, concern_category text, is_urgent boolean,
               preparation_notes text, special_requests text, file_refs jsonb, cancel_reason text, metadata jsonb,
               created_at timestamptz, waiver_status text, waiver_signed_at timestamptz, waiver_mode text)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_uid uuid := app_private.current_user_id();
  v_zone text;
  v_day date;
BEGIN
  PERFORM app_private.require_choice(p_scope, 'scope', ARRAY['upcoming', 'past', 'all', 'day']);
  IF p_scope = 'day' THEN
    v_zone := app_private.mechanic_zone(v_uid);
    v_day := coalesce(p_date, (app_private.now() AT TIME ZONE coalesce(v_zone, 'UTC'))::date);
  END IF;
  RETURN QUERY
  WITH a AS MATERIALIZED (
         SELECT * FROM api.my_appointments(p_scope => p_scope, p_limit => p_limit) WHERE p_scope <> 'day'
         UNION ALL
         (SELECT x.* FROM app_private.appointments() x
           WHERE p_scope = 'day' AND x.mechanic_id = v_uid
             AND x.starts_at >= (v_day::timestamp AT TIME ZONE v_zone)
             AND x.starts_at < ((v_day + 1)::timestamp AT TIME ZONE v_zone)
           ORDER BY x.starts_at
           LIMIT greatest(coalesce(p_limit, 100), 0))),
       n AS (SELECT * FROM app_private.session_customer_first_names(ARRAY(SELECT a.id FROM a))),
       w AS (SELECT * FROM app_private.session_waiver_facts(ARRAY(SELECT a.id FROM a)))
  SELECT a.id, a.status, a.type, a.service_mode, a.plan_code, a.plan_name, a.price_cents, a.starts_at,
         a.scheduled_for, a.ends_at, a.is_immediate, a.customer_id, n.customer_first_name, a.mechanic_id,
         a.mechanic_name, a.workshop_id, a.workshop_name, a.workshop_address, a.timezone, a.vehicle_id, a.vehicle,
         a.is_advice_only, a.concern, a.concern_category, a.is_urgent, a.preparation_notes, a.special_requests,
         a.file_refs, a.cancel_reason, a.metadata, a.created_at,
         CASE WHEN w.session_id IS NOT NULL THEN 'signed' ELSE 'unsigned' END, w.signed_at, w.mode
  FROM a LEFT JOIN n ON n.session_id = a.id LEFT JOIN w ON w.session_id = a.id
  ORDER BY CASE WHEN p_scope IN ('upcoming', 'day') THEN a.starts_at END ASC, a.starts_at DESC;
END
$$;
COMMENT ON FUNCTION api.mechanic_schedule(text, int, date) IS
'The calling mechanic''s appointments with customer_first_name and waiver_status (signed | unsigned), waiver_signed_at, waiver_mode; the vehicle shows through RLS, nothing else about the customer. p_scope upcoming | past | all (as api.my_appointments) or day: every appointment starting on the local day p_date (default today) in the mechanic''s zone, earliest first. Mechanics. Raises 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.mechanic_schedule(text, int, date) TO autodoc_mechanic;

-- api.mechanic_day(date?): the calling mechanic's day: {date, timezone, sessions: the rows of
-- api.mechanic_schedule(p_scope => 'day')}. p_date NULL: today in the mechanic's zone (trusted
-- clock). Mechanics. Raises 403 forbidden (not a mechanic).
CREATE OR REPLACE FUNCTION api.mechanic_day(p_date date DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_zone text;
  v_day date;
BEGIN
  IF app_private.current_app_role() IS DISTINCT FROM 'mechanic' THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only a mechanic has a schedule');
  END IF;
  v_zone := coalesce(app_private.mechanic_zone(app_private.current_user_id()), 'UTC');
  v_day := coalesce(p_date, (app_private.now() AT TIME ZONE v_zone)::date);
  RETURN jsonb_build_object('date', v_day, 'timezone', v_zone,
    'sessions', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.starts_at), '[]'::jsonb)
                   FROM api.mechanic_schedule(p_scope => 'day', p_limit => 500, p_date => v_day) r));
END
$$;
COMMENT ON FUNCTION api.mechanic_day(date) IS
'The calling mechanic''s local day (p_date, default today in their zone): {date, timezone, sessions: [api.mechanic_schedule rows: status, times, mode, workshop, customer_first_name, vehicle, concern, waiver_status, waiver_signed_at, waiver_mode, ...]}, earliest first. Mechanics. Raises 403 forbidden.';
GRANT EXECUTE ON FUNCTION api.mechanic_day(date) TO autodoc_mechanic;

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

-- api.mechanic_schedule(scope?, limit?): the calling mechanic's appointments (api.my_appointments:
-- upcoming soonest first, past latest first, or all) with customer_first_name added. Mechanics.
-- Raises 422 invalid_value.
CREATE OR REPLACE FUNCTION api.mechanic_schedule(p_scope text DEFAULT 'upcoming', p_limit int DEFAULT 100)
RETURNS TABLE (id uuid, status text, type text, service_mode text, plan_code text, plan_name text, price_cents int,
               starts_at timestamptz, scheduled_for timestamptz, ends_at timestamptz, is_immediate boolean,
               customer_id uuid, customer_first_name text, mechanic_id uuid, mechanic_name text, workshop_id uuid,
               workshop_name text, workshop_address text, timezone text, vehicle_id uuid, vehicle jsonb,
               is_advice_only boolean, concern text, concern_category text, is_urgent boolean,
               preparation_notes text, special_requests text, file_refs jsonb, cancel_reason text, metadata jsonb,
               created_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  RETURN QUERY
  WITH a AS MATERIALIZED (SELECT * FROM api.my_appointments(p_scope => p_scope, p_limit => p_limit)),
       n AS (SELECT * FROM app_private.session_customer_first_names(ARRAY(SELECT a.id FROM a)))
  SELECT a.id, a.status, a.type, a.service_mode, a.plan_code, a.plan_name, a.price_cents, a.starts_at,
         a.scheduled_for, a.ends_at, a.is_immediate, a.customer_id, n.customer_first_name, a.mechanic_id,
         a.mechanic_name, a.workshop_id, a.workshop_name, a.workshop_address, a.timezone, a.vehicle_id, a.vehicle,
         a.is_advice_only, a.concern, a.concern_category, a.is_urgent, a.preparation_notes, a.special_requests,
         a.file_refs, a.cancel_reason, a.metadata, a.created_at
  FROM a LEFT JOIN n ON n.session_id = a.id
  ORDER BY CASE WHEN p_scope = 'upcoming' THEN a.starts_at END ASC, a.starts_at DESC;
END
$$;
COMMENT ON FUNCTION api.mechanic_schedule(text, int) IS
'The calling mechanic''s appointments (as api.my_appointments: p_scope upcoming | past | all) with customer_first_name; the vehicle shows through RLS, nothing else about the customer. Mechanics. Raises 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.mechanic_schedule(text, int) TO autodoc_mechanic;

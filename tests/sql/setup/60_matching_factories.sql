-- Matching factories (tests schema): sessions inserted directly (no matching runs, no booking-time
-- rules), so a test chooses the exact instant and calls the matching functions itself.

-- m_immediate(customer, at, vehicle?, concern?, metadata?): a pending immediate request that started at `at`.
CREATE OR REPLACE FUNCTION tests.m_immediate(p_customer uuid, p_at timestamptz, p_vehicle uuid DEFAULT NULL,
  p_concern text DEFAULT 'Grinding noise when braking', p_metadata jsonb DEFAULT '{}') RETURNS uuid
LANGUAGE sql AS $$
  INSERT INTO app.sessions (customer_id, plan_code, type, service_mode, vehicle_id, is_advice_only, concern,
                            concern_category, scheduled_for, ends_at, status, metadata, created_at)
  VALUES (p_customer, 'standard', 'video', 'online', p_vehicle, p_vehicle IS NULL, p_concern, 'diagnostic', NULL,
          p_at + interval '30 minutes', 'pending', p_metadata, p_at)
  RETURNING id
$$;

-- m_scheduled(customer, starts_at, vehicle?, mode?, concern?): a scheduled booking without a mechanic
-- (deferred matching due at starts_at - matching_lead), its booking event fanned out as the worker
-- would (tests.fan_out: its charge is asked for, as for every booking).
CREATE OR REPLACE FUNCTION tests.m_scheduled(p_customer uuid, p_starts_at timestamptz, p_vehicle uuid DEFAULT NULL,
  p_mode text DEFAULT 'online', p_concern text DEFAULT 'Grinding noise when braking', p_metadata jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
BEGIN
  INSERT INTO app.sessions (customer_id, plan_code, type, service_mode, vehicle_id, is_advice_only, concern,
                            concern_category, scheduled_for, ends_at, status, metadata, matching_will_run_at, created_at)
  VALUES (p_customer, 'standard', 'video', p_mode, p_vehicle, p_vehicle IS NULL, p_concern, 'diagnostic', p_starts_at,
          p_starts_at + interval '30 minutes', 'scheduled', p_metadata,
          p_starts_at - (SELECT s.matching_lead FROM app.booking_settings s), p_starts_at - interval '3 days')
  RETURNING id INTO v_id;
  PERFORM tests.fan_out(v_id);
  RETURN v_id;
END
$$;

-- m_booked(customer, mechanic, starts_at, status?): a session with that mechanic, walked through the
-- lifecycle to `status` (scheduled, pending, active or completed).
CREATE OR REPLACE FUNCTION tests.m_booked(p_customer uuid, p_mechanic uuid, p_starts_at timestamptz,
                                          p_status text DEFAULT 'scheduled') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
  v_step text;
BEGIN
  INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, service_mode, is_advice_only, concern,
                            concern_category, scheduled_for, ends_at, status, created_at)
  VALUES (p_customer, p_mechanic, 'standard', 'video', 'online', true, 'Earlier visit', 'diagnostic', p_starts_at,
          p_starts_at + interval '30 minutes', 'scheduled', p_starts_at - interval '3 days')
  RETURNING id INTO v_id;
  PERFORM tests.fan_out(v_id);  -- the booking's charge and emails, as the worker would
  FOREACH v_step IN ARRAY ARRAY['pending', 'active', 'completed'] LOOP
    EXIT WHEN p_status = 'scheduled';
    UPDATE app.sessions SET status = v_step WHERE id = v_id;
    EXIT WHEN v_step = p_status;
  END LOOP;
  RETURN v_id;
END
$$;

-- m_mechanic(name, on_shift?, workshop?): a neutral mechanic (nothing in common with the test
-- customer: elsewhere, no specialties, no reviews, no experience) that a test then changes.
CREATE OR REPLACE FUNCTION tests.m_mechanic(p_name text, p_on_shift boolean DEFAULT true, p_workshop uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid := tests.create_user('mechanic', NULL, p_name);
BEGIN
  INSERT INTO app.mechanics (user_id, display_name, workshop_id, timezone, currently_on_shift, rating, rating_count,
                             country, state_province, city, postal_code)
  VALUES (v_id, p_name, p_workshop, 'America/Toronto', p_on_shift, 0, 0, 'US', 'WA', 'Seattle', '98101');
  RETURN v_id;
END
$$;

-- m_only(code): only this criterion counts (the others disabled), to test it in isolation.
CREATE OR REPLACE FUNCTION tests.m_only(p_code text) RETURNS void
LANGUAGE sql AS $$
  UPDATE app.matching_criteria SET enabled = (code = p_code);
$$;

-- m_score(session, mechanic): the mechanic's match_score for the session (NULL: not a candidate).
CREATE OR REPLACE FUNCTION tests.m_score(p_session uuid, p_mechanic uuid) RETURNS numeric
LANGUAGE sql AS $$
  SELECT c.match_score FROM app_private.match_candidates(p_session, 1000, false) c WHERE c.mechanic_id = p_mechanic
$$;

-- m_reason(session, mechanic, criterion): that criterion's {points, reason} for the mechanic.
CREATE OR REPLACE FUNCTION tests.m_reason(p_session uuid, p_mechanic uuid, p_criterion text) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT r - 'criterion'
  FROM app_private.match_candidates(p_session, 1000, false) c, jsonb_array_elements(c.match_reasons) r
  WHERE c.mechanic_id = p_mechanic AND r ->> 'criterion' = p_criterion
$$;

-- m_ranking(session): the candidates' names, best first.
CREATE OR REPLACE FUNCTION tests.m_ranking(p_session uuid) RETURNS text[]
LANGUAGE sql AS $$
  SELECT array_agg(c.display_name ORDER BY c.rank) FROM app_private.match_candidates(p_session, 1000, false) c
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

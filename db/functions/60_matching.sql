-- Matching: the ranked list of mechanics for a session, explained criterion by criterion.
--
-- One function (app_private.match_candidates, behind api.match_mechanics) serves immediate and
-- scheduled sessions. Each criterion (app.matching_criteria) yields a value between 0 and 1 per
-- candidate; its points are weight * value and the score is their sum. Weights are rows: an admin
-- changes the ranking by changing rows, never code. Hard filters decide who appears at all,
-- whatever the weights: active; on shift (immediate) or free for the whole slot (scheduled, by the
-- availability functions of band 10); no time off and no overlapping booking; in person needs a
-- workshop; the brand-specialist tab needs the vehicle's make among the brand-specialist brands.
--
-- Speed: the numbers of every candidate are computed in one set-based query (10,000 mechanics in a
-- few milliseconds), sorted by score; only then is availability checked, candidate by candidate in
-- score order until `limit` are found (availability gives the same points to everyone who passes,
-- so checking it after sorting cannot change the order), and the reasons (JSON) are built only for
-- the candidates returned.
--
-- Untrusted input: the session's metadata is free-form (api.create_session's p_metadata). Matching
-- reads exactly one caller-supplied key, `brand_specialist_only` (JSON true = the brand-specialist
-- tab); everything else comes from trusted columns (session, customer profile, vehicle, favorites).

-- matching_settings(): the settings row. Owner only.
CREATE OR REPLACE FUNCTION app_private.matching_settings() RETURNS app.matching_settings
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v app.matching_settings;
BEGIN
  SELECT * INTO v FROM app.matching_settings s WHERE s.id;
  RETURN v;
END
$$;

-- mechanic_unavailable_reasons(mechanic, session): why the mechanic cannot take the session's time
-- (empty = free). Immediate: time off or another booking overlapping the session's period
-- (app_private.mechanic_time_off_in / mechanic_busy). Scheduled: app_private.slot_reasons, the one
-- availability rule, minus the booking-time rules (notice, horizon, past) that concern the customer's
-- booking, not the mechanic: deferred matching runs 30 minutes before the start, inside the notice.
-- Owner only.
CREATE OR REPLACE FUNCTION app_private.mechanic_unavailable_reasons(p_mechanic_id uuid, p_session app.sessions)
RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
BEGIN
  IF p_session.scheduled_for IS NULL THEN
    RETURN array_remove(ARRAY[
      CASE WHEN NOT isempty(app_private.mechanic_time_off_in(p_mechanic_id, p_session.period)) THEN 'time_off' END,
      CASE WHEN NOT isempty(app_private.mechanic_busy(p_mechanic_id, p_session.period, v_now, p_session.id))
           THEN 'overlapping_booking' END], NULL);
  END IF;
  RETURN ARRAY(SELECT r FROM unnest(app_private.slot_reasons(p_mechanic_id, p_session.period, v_now, p_session.id)) r
               WHERE r NOT IN ('in_the_past', 'too_short_notice', 'beyond_horizon'));
END
$$;

-- match_candidates(session, limit, exclude_offered): the ranked candidates for a session, best
-- first, at most p_limit: rank, mechanic, name, match_score and match_reasons (a JSON array of
-- {criterion, points, reason}, one element per criterion that scored). p_exclude_offered leaves out
-- mechanics who already had an offer (or booking) for this session (re-matching). No caller check:
-- owner only (api.match_mechanics checks the caller). Raises 404 session_not_found.
CREATE OR REPLACE FUNCTION app_private.match_candidates(p_session_id uuid, p_limit integer,
                                                        p_exclude_offered boolean DEFAULT true)
RETURNS TABLE (rank integer, mechanic_id uuid, display_name text, match_score numeric, match_reasons jsonb)
LANGUAGE plpgsql STABLE SET search_path = '' SET jit = off AS $$
DECLARE
  v_s app.sessions;
  v_set app.matching_settings := app_private.matching_settings();
  v_cust app.customers;
  v_make text;
  v_lexemes text[];
  v_query tsquery;
  v_brand_only boolean;
  v_immediate boolean;
  v_start timestamptz;
  v_mean numeric;
  v_prefix text;
  -- weights (0 when the criterion is disabled)
  w_avail numeric; w_brand numeric; w_spec numeric; w_postal numeric; w_city numeric; w_prov numeric;
  w_country numeric; w_rating numeric; w_fav numeric; w_repeat numeric; w_exp numeric; w_load numeric;
  w_accept numeric; w_mode numeric;
  r record;
  v_rank integer := 0;
BEGIN
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id AND s.type IS NOT NULL;
  IF v_s.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found',
      jsonb_build_object('session_id', p_session_id));
  END IF;
  SELECT * INTO v_cust FROM app.customers c WHERE c.user_id = v_s.customer_id;
  IF NOT v_s.is_advice_only THEN   -- advice only: matched against general mechanics, not brand specialists
    SELECT v.make INTO v_make FROM app.vehicles v WHERE v.id = v_s.vehicle_id;
  END IF;
  v_immediate := v_s.scheduled_for IS NULL;
  v_start := lower(v_s.period);
  -- the only caller-supplied metadata key matching reads
  v_brand_only := v_make IS NOT NULL AND coalesce(v_s.metadata -> 'brand_specialist_only' = 'true'::jsonb, false);
  -- the concern's stemmed words, OR-ed: a mechanic matches on any of them
  v_lexemes := tsvector_to_array(to_tsvector('english'::regconfig, coalesce(v_s.concern, '')));
  IF cardinality(v_lexemes) > 0 THEN
    v_query := array_to_string(ARRAY(SELECT quote_literal(l) FROM unnest(v_lexemes) l), ' | ')::tsquery;
  END IF;
  v_prefix := nullif(left(upper(replace(coalesce(v_cust.postal_code, ''), ' ', '')), v_set.postal_prefix_length), '');
  SELECT coalesce(sum(m.rating * m.rating_count) / nullif(sum(m.rating_count), 0), 0) INTO v_mean
  FROM app.mechanics m WHERE m.is_active AND m.rating_count > 0;
  SELECT max(c.weight) FILTER (WHERE c.code = 'availability' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'brand_specialist' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'specialty_match' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'postal_prefix' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'same_city' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'same_province' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'same_country' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'rating' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'favorite' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'repeat_customer' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'experience' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'workload' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'acceptance_rate' AND c.enabled),
         max(c.weight) FILTER (WHERE c.code = 'service_mode' AND c.enabled)
  INTO w_avail, w_brand, w_spec, w_postal, w_city, w_prov, w_country, w_rating, w_fav, w_repeat, w_exp, w_load,
       w_accept, w_mode
  FROM app.matching_criteria c;

  FOR r IN
    WITH cand AS (
      SELECT m.user_id, m.display_name, m.rating, m.rating_count, m.years_of_experience, w.name AS workshop_name,
             coalesce(w.timezone, m.timezone) AS tz,
             -- where the mechanic is: the workshop for in-person sessions, else their own location
             CASE WHEN v_s.service_mode = 'in_person' THEN w.postal_code ELSE m.postal_code END AS postal_code,
             CASE WHEN v_s.service_mode = 'in_person' THEN w.city ELSE m.city END AS city,
             CASE WHEN v_s.service_mode = 'in_person' THEN w.state_province ELSE m.state_province END AS province,
             CASE WHEN v_s.service_mode = 'in_person' THEN w.country ELSE m.country END AS country,
             v_make IS NOT NULL AND EXISTS (SELECT FROM unnest(m.brand_specialist_brands) b
                                            WHERE lower(btrim(b)) = lower(btrim(v_make))) AS is_brand,
             CASE WHEN v_query IS NOT NULL AND m.search_document @@ v_query
                  THEN ARRAY(SELECT l FROM unnest(v_lexemes) l WHERE l = ANY (tsvector_to_array(m.search_document)))
                  ELSE '{}'::text[] END AS matched_words,
             f.mechanic_id IS NOT NULL AS is_favorite,
             coalesce(st.accepted, 0) AS accepted,
             coalesce(st.accepted + st.declined + st.expired, 0) AS answered
      FROM app.mechanics m
      LEFT JOIN app.workshops w ON w.id = m.workshop_id
      LEFT JOIN app.favorites f ON f.customer_id = v_s.customer_id AND f.mechanic_id = m.user_id
      LEFT JOIN app.mechanic_offer_stats st ON st.mechanic_id = m.user_id
      WHERE m.is_active
        AND (NOT v_immediate OR m.currently_on_shift)
        AND (v_s.service_mode <> 'in_person' OR m.workshop_id IS NOT NULL)
        AND m.user_id IS DISTINCT FROM v_s.mechanic_id
        AND (NOT p_exclude_offered OR NOT EXISTS (SELECT FROM app.session_assignments a
                                                  WHERE a.session_id = v_s.id AND a.mechanic_id = m.user_id))
    ), history AS (   -- completed sessions with this customer, per mechanic
      SELECT s.mechanic_id, count(*) AS n
      FROM app.sessions s
      WHERE s.customer_id = v_s.customer_id AND s.status = 'completed' AND s.mechanic_id IS NOT NULL
      GROUP BY s.mechanic_id
    ), today AS (     -- sessions on the session's local day (the mechanic's zone), per mechanic
      SELECT c.user_id, count(*) AS n
      FROM cand c
      JOIN app.sessions s ON s.mechanic_id = c.user_id
       AND lower(s.period) >= v_start - interval '1 day' AND lower(s.period) < v_start + interval '1 day'
       AND s.status <> 'cancelled'   -- the session itself has no mechanic yet: never counted
      WHERE (lower(s.period) AT TIME ZONE c.tz)::date = (v_start AT TIME ZONE c.tz)::date
      GROUP BY c.user_id
    ), valued AS (
      SELECT c.*,
             coalesce(h.n, 0) AS completed_with_customer,
             coalesce(t.n, 0) AS sessions_that_day,
             (v_set.rating_prior_reviews * v_mean + c.rating * c.rating_count)
               / nullif(v_set.rating_prior_reviews + c.rating_count, 0) AS adjusted_rating,
             (c.accepted + 0.5 * v_set.acceptance_prior_offers)
               / nullif(c.answered + v_set.acceptance_prior_offers, 0) AS acceptance,
             v_prefix IS NOT NULL AND left(upper(replace(coalesce(c.postal_code, ''), ' ', '')), v_set.postal_prefix_length) = v_prefix
               AS same_postal,
             lower(btrim(c.city)) = lower(btrim(v_cust.city)) AS same_city,
             lower(btrim(c.province)) = lower(btrim(v_cust.state_province)) AS same_province,
             lower(btrim(c.country)) = lower(btrim(v_cust.country)) AS same_country
      FROM cand c
      LEFT JOIN history h ON h.mechanic_id = c.user_id
      LEFT JOIN today t ON t.user_id = c.user_id
      WHERE NOT v_brand_only OR c.is_brand
    ), pointed AS (
      SELECT v.*,
        coalesce(w_avail, 0) AS p_avail,
        CASE WHEN v.is_brand THEN coalesce(w_brand, 0) ELSE 0 END AS p_brand,
        coalesce(w_spec, 0) * least(1.0, cardinality(v.matched_words)::numeric / v_set.specialty_full_matches) AS p_spec,
        CASE WHEN v.same_postal THEN coalesce(w_postal, 0) ELSE 0 END AS p_postal,
        CASE WHEN v.same_city THEN coalesce(w_city, 0) ELSE 0 END AS p_city,
        CASE WHEN v.same_province THEN coalesce(w_prov, 0) ELSE 0 END AS p_prov,
        CASE WHEN v.same_country THEN coalesce(w_country, 0) ELSE 0 END AS p_country,
        coalesce(w_rating, 0) * coalesce(v.adjusted_rating, 0) / 5 AS p_rating,
        CASE WHEN v.is_favorite THEN coalesce(w_fav, 0) ELSE 0 END AS p_fav,
        coalesce(w_repeat, 0) * least(1.0, v.completed_with_customer::numeric / v_set.repeat_full_sessions) AS p_repeat,
        coalesce(w_exp, 0) * least(1.0, v.years_of_experience::numeric / v_set.experience_full_years) AS p_exp,
        coalesce(w_load, 0) * greatest(0.0, 1 - v.sessions_that_day::numeric / v_set.workload_full_sessions) AS p_load,
        coalesce(w_accept, 0) * coalesce(v.acceptance, 0.5) AS p_accept,
        coalesce(w_mode, 0) AS p_mode
      FROM valued v
    )
    SELECT p.*, round(p.p_avail + p.p_brand + p.p_spec + p.p_postal + p.p_city + p.p_prov + p.p_country + p.p_rating
                      + p.p_fav + p.p_repeat + p.p_exp + p.p_load + p.p_accept + p.p_mode, 2) AS score
    FROM pointed p
    ORDER BY score DESC, p.adjusted_rating DESC NULLS LAST, p.user_id
  LOOP
    EXIT WHEN v_rank >= p_limit;
    -- the hard availability filter, through band 10's functions (never a copy of the rules)
    CONTINUE WHEN cardinality(app_private.mechanic_unavailable_reasons(r.user_id, v_s)) > 0;
    v_rank := v_rank + 1;
    rank := v_rank;
    mechanic_id := r.user_id;
    display_name := r.display_name;
    match_score := r.score;
    SELECT coalesce(jsonb_agg(jsonb_build_object('criterion', x.code, 'points', round(x.points, 2), 'reason', x.reason)
                              ORDER BY x.points DESC, x.code), '[]'::jsonb)
    INTO match_reasons
    FROM (VALUES
      ('availability', r.p_avail, CASE WHEN v_immediate THEN 'On shift now' ELSE 'Free for the whole slot' END),
      ('brand_specialist', r.p_brand, format('Brand specialist for %s', v_make)),
      ('specialty_match', r.p_spec, format('Concern matches specialties/bio: %s', array_to_string(r.matched_words, ', '))),
      ('postal_prefix', r.p_postal, format('Same postal area (%s)', v_prefix)),
      ('same_city', r.p_city, format('Same city (%s)', r.city)),
      ('same_province', r.p_prov, format('Same province/state (%s)', r.province)),
      ('same_country', r.p_country, format('Same country (%s)', r.country)),
      ('rating', r.p_rating, format('Rated %s from %s reviews (adjusted %s)', r.rating, r.rating_count,
                                    round(coalesce(r.adjusted_rating, 0), 2))),
      ('favorite', r.p_fav, 'One of the customer''s favorite mechanics'),
      ('repeat_customer', r.p_repeat, format('%s completed session(s) with this customer', r.completed_with_customer)),
      ('experience', r.p_exp, format('%s years of experience', r.years_of_experience)),
      ('workload', r.p_load, format('%s other session(s) that day', r.sessions_that_day)),
      ('acceptance_rate', r.p_accept, CASE WHEN r.answered = 0 THEN 'No answered offers yet (counted as 50%)'
                                           ELSE format('Accepted %s of %s answered offers', r.accepted, r.answered) END),
      ('service_mode', r.p_mode, CASE WHEN v_s.service_mode = 'in_person'
                                      THEN format('In-person service at %s', r.workshop_name)
                                      ELSE 'Online consultation' END)
    ) AS x (code, points, reason)
    WHERE round(x.points, 2) > 0;
    RETURN NEXT;
  END LOOP;
END
$$;

-- api.match_mechanics(session, limit?, exclude_offered?): the ranked, explained candidates for a
-- session (see app_private.match_candidates): rank, mechanic_id, display_name, match_score,
-- match_reasons [{criterion, points, reason}]. Admins (the match explanation) — matching itself runs
-- inside the offer functions. Raises 403 forbidden, 404 session_not_found, 422 invalid_value.
CREATE OR REPLACE FUNCTION api.match_mechanics(p_session_id uuid, p_limit integer DEFAULT 10,
                                               p_exclude_offered boolean DEFAULT false)
RETURNS TABLE (rank integer, mechanic_id uuid, display_name text, match_score numeric, match_reasons jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NOT app_private.is_admin() THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only an admin can see a session''s match explanation');
  END IF;
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100 THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'limit must be between 1 and 100',
      jsonb_build_object('field', 'limit', 'value', p_limit));
  END IF;
  RETURN QUERY SELECT * FROM app_private.match_candidates(p_session_id, p_limit, coalesce(p_exclude_offered, false));
END
$$;
COMMENT ON FUNCTION api.match_mechanics(uuid, integer, boolean) IS
'The ranked candidates for a session, best first (at most p_limit, 1-100): rank, mechanic_id, display_name, match_score and match_reasons [{criterion, points, reason}] naming every criterion that scored. Hard filters: active, on shift (immediate) or free for the whole slot (scheduled), no time off/overlap, workshop for in person, brand-specialist tab. p_exclude_offered leaves out mechanics already offered this session. Admin. Raises 403 forbidden, 404 session_not_found, 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.match_mechanics(uuid, integer, boolean) TO autodoc_admin;

-- api.matching_criteria(): the criteria with their weights. Admins. Raises 403 forbidden.
CREATE OR REPLACE FUNCTION api.matching_criteria()
RETURNS TABLE (code text, label text, description text, weight numeric, enabled boolean, sort_order integer,
               updated_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NOT app_private.is_admin() THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only an admin can read the matching weights');
  END IF;
  RETURN QUERY SELECT c.code, c.label, c.description, c.weight, c.enabled, c.sort_order, c.updated_at
               FROM app.matching_criteria c ORDER BY c.sort_order, c.code;
END
$$;
COMMENT ON FUNCTION api.matching_criteria() IS
'The matching criteria (code, label, description, weight, enabled, sort_order, updated_at) in display order. Admin. Raises 403 forbidden.';
GRANT EXECUTE ON FUNCTION api.matching_criteria() TO autodoc_admin;

-- api.set_matching_criterion(code, weight?, enabled?): change one criterion's weight and/or enabled
-- flag (NULL leaves it as it is); the next matching uses it. Admins. Returns the row as JSON.
-- Raises 403 forbidden, 404 criterion_not_found, 422 invalid_value (weight outside 0-1000).
CREATE OR REPLACE FUNCTION api.set_matching_criterion(p_code text, p_weight numeric DEFAULT NULL,
                                                      p_enabled boolean DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v app.matching_criteria;
BEGIN
  IF NOT app_private.is_admin() THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only an admin can change the matching weights');
  END IF;
  IF p_weight IS NOT NULL AND p_weight NOT BETWEEN 0 AND 1000 THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'weight must be between 0 and 1000',
      jsonb_build_object('field', 'weight', 'value', p_weight));
  END IF;
  UPDATE app.matching_criteria c
  SET weight = coalesce(p_weight, c.weight), enabled = coalesce(p_enabled, c.enabled), updated_at = app_private.now()
  WHERE c.code = p_code
  RETURNING * INTO v;
  IF v.code IS NULL THEN
    PERFORM app_private.raise_error(404, 'criterion_not_found', format('Unknown matching criterion "%s"', p_code),
      jsonb_build_object('code', p_code));
  END IF;
  RETURN to_jsonb(v);
END
$$;
COMMENT ON FUNCTION api.set_matching_criterion(text, numeric, boolean) IS
'Change a matching criterion''s weight (0-1000) and/or enabled flag (NULL = unchanged); later matching uses it. Admin. Returns the criterion row. Raises 403 forbidden, 404 criterion_not_found, 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.set_matching_criterion(text, numeric, boolean) TO autodoc_admin;

-- The matching reference (tests schema): app_private.match_candidates as it was before the stored
-- points and the candidate indexes (migration 0026): every eligible mechanic scored in one full scan,
-- then availability best first. The exactness test (tests/sql/60-matching-fast.sql) checks that the
-- fast function returns the same ranks, ids, scores and reasons on random data.
-- Original header follows.
-- match_candidates(session, limit, exclude_offered): the ranked candidates for a session, best
-- first, at most p_limit: rank, mechanic, name, match_score and match_reasons (a JSON array of
-- {criterion, points, reason}, one element per criterion that scored; match_score is the sum of
-- those points). p_exclude_offered leaves out mechanics who already had an offer (or booking) for
-- this session (re-matching). No caller check: owner only (api.match_mechanics checks the caller).
-- Raises 404 session_not_found.
--
-- How it stays fast with 10,000 mechanics: one set-based query computes every criterion for every
-- candidate (float8 arithmetic, no per-row subquery but the word count of the few whose document
-- matches the concern) and sorts them. Only then, best first, is availability checked (band 10's
-- functions, one candidate at a time: it is a filter, it gives everyone who passes the same points)
-- and the exact score (the points rounded to cents, as the reasons show them) computed, until
-- `limit` candidates are found and nobody further down can beat them.
CREATE OR REPLACE FUNCTION tests.match_candidates_reference(p_session_id uuid, p_limit integer,
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
  v_mean float8;
  v_prefix text;
  v_make_key text[];   -- the make as app.mechanics.brand_keys spells brands (lower case, trimmed)
  v_keys text[];                                 -- the customer's location, normalized as the mechanics' is
  v_city text; v_province text; v_country text;
  v_offered uuid[] := '{}'::uuid[];   -- mechanics who already had an offer for the session (re-matching)
  -- scalars for the ranking query: a field of a row variable referenced in a query is fetched (the
  -- whole row copied) per use, i.e. per candidate row; a scalar is a plain parameter
  v_customer uuid; v_own_mechanic uuid; v_in_person boolean;
  k_accept integer; k_exp integer; k_rating integer; k_repeat integer; k_spec integer; k_load integer;
  -- weights (0 when the criterion is disabled)
  w_avail float8; w_brand float8; w_spec float8; w_postal float8; w_city float8; w_prov float8;
  w_country float8; w_rating float8; w_fav float8; w_repeat float8; w_exp float8; w_load float8;
  w_accept float8; w_mode float8;
  r record;
  v_score numeric;
  v_found jsonb := '[]'::jsonb;   -- the candidates kept so far, with their exact score
  v_kth numeric;                  -- the lowest exact score among the best p_limit found so far
  c jsonb;
  v_rank integer := 0;
  v_window integer := 256;   -- how far down the ranking this pass looks
  v_seen integer := 0;
  v_done boolean := false;
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
  v_keys := app_private.location_keys(v_cust.postal_code, v_cust.city, v_cust.state_province, v_cust.country);
  v_prefix := nullif(left(v_keys[1], v_set.postal_prefix_length), '');
  v_city := v_keys[2];
  v_province := v_keys[3];
  v_country := v_keys[4];
  v_make_key := CASE WHEN v_make IS NOT NULL THEN ARRAY[lower(btrim(v_make))] END;
  v_customer := v_s.customer_id;
  v_own_mechanic := v_s.mechanic_id;
  v_in_person := v_s.service_mode = 'in_person';
  k_accept := v_set.acceptance_prior_offers;
  k_exp := v_set.experience_full_years;
  k_rating := v_set.rating_prior_reviews;
  k_repeat := v_set.repeat_full_sessions;
  k_spec := v_set.specialty_full_matches;
  k_load := v_set.workload_full_sessions;
  IF p_exclude_offered THEN
    v_offered := ARRAY(SELECT a.mechanic_id FROM app.session_assignments a WHERE a.session_id = v_s.id);
  END IF;
  SELECT coalesce(sum(m.rating::float8 * m.rating_count) / nullif(sum(m.rating_count), 0), 0) INTO v_mean
  FROM app.mechanics m WHERE m.is_active AND m.rating_count > 0;
  SELECT coalesce(max(c.weight) FILTER (WHERE c.code = 'availability' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'brand_specialist' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'specialty_match' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'postal_prefix' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'same_city' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'same_province' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'same_country' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'rating' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'favorite' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'repeat_customer' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'experience' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'workload' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'acceptance_rate' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'service_mode' AND c.enabled), 0)::float8
  INTO w_avail, w_brand, w_spec, w_postal, w_city, w_prov, w_country, w_rating, w_fav, w_repeat, w_exp, w_load,
       w_accept, w_mode
  FROM app.matching_criteria c;

  <<ranking>>
  LOOP
    FOR r IN
    SELECT x.*,
           x.p_avail + x.p_brand + x.p_spec + x.p_postal + x.p_city + x.p_prov + x.p_country + x.p_rating + x.p_fav
           + x.p_repeat + x.p_exp + x.p_accept + x.p_mode + x.p_load AS bound
    FROM (
      SELECT m.user_id, m.display_name, m.rating, m.rating_count, m.years_of_experience, w.name AS workshop_name,
             coalesce(w.timezone, m.timezone) AS tz, l.city, l.province, l.country,
             coalesce(h.n, 0) AS completed_with_customer, coalesce(st.accepted, 0) AS accepted,
             coalesce(st.accepted + st.declined + st.expired, 0) AS answered, a.adjusted_rating,
             coalesce(t.n, 0) AS n_day,
             w_avail AS p_avail,
             CASE WHEN m.brand_keys @> v_make_key THEN w_brand ELSE 0 END AS p_brand,
             CASE WHEN m.search_document @@ v_query   -- (only then count the words: most rows do not match)
                  THEN w_spec * least(1.0, (SELECT count(*) FROM unnest(v_lexemes) lx
                                            WHERE lx = ANY (tsvector_to_array(m.search_document)))::float8
                                           / k_spec)
                  ELSE 0 END AS p_spec,
             -- normalized keys stored with the row (app_private.location_keys): plain comparisons here
             CASE WHEN starts_with(l.keys[1], v_prefix) THEN w_postal ELSE 0 END AS p_postal,
             CASE WHEN l.keys[2] = v_city THEN w_city ELSE 0 END AS p_city,
             CASE WHEN l.keys[3] = v_province THEN w_prov ELSE 0 END AS p_prov,
             CASE WHEN l.keys[4] = v_country THEN w_country ELSE 0 END AS p_country,
             w_rating * coalesce(a.adjusted_rating, 0) / 5 AS p_rating,
             CASE WHEN f.mechanic_id IS NOT NULL THEN w_fav ELSE 0 END AS p_fav,
             w_repeat * least(1.0, coalesce(h.n, 0)::float8 / k_repeat) AS p_repeat,
             w_exp * least(1.0, m.years_of_experience::float8 / k_exp) AS p_exp,
             w_accept * coalesce((coalesce(st.accepted, 0) + 0.5 * k_accept)::float8
                                 / nullif(coalesce(st.accepted + st.declined + st.expired, 0)
                                          + k_accept, 0), 0.5) AS p_accept,
             w_mode AS p_mode,
             w_load * greatest(0.0, 1 - coalesce(t.n, 0)::float8 / k_load) AS p_load
      FROM app.mechanics m
      LEFT JOIN app.workshops w ON w.id = m.workshop_id
      LEFT JOIN app.favorites f ON f.customer_id = v_customer AND f.mechanic_id = m.user_id
      LEFT JOIN app.mechanic_offer_stats st ON st.mechanic_id = m.user_id
      LEFT JOIN (SELECT s.mechanic_id, count(*)::int AS n   -- completed sessions with this customer
                 FROM app.sessions s
                 WHERE s.customer_id = v_customer AND s.status = 'completed' AND s.mechanic_id IS NOT NULL
                 GROUP BY s.mechanic_id) h ON h.mechanic_id = m.user_id
      LEFT JOIN (SELECT s.mechanic_id, count(*)::int AS n   -- the workload: sessions within 12 hours of the start
                 FROM app.sessions s
                 WHERE s.mechanic_id IS NOT NULL AND s.status <> 'cancelled'
                   AND lower(s.period) >= v_start - interval '12 hours' AND lower(s.period) < v_start + interval '12 hours'
                 GROUP BY s.mechanic_id) t ON t.mechanic_id = m.user_id
      -- where the mechanic is: the workshop for in-person sessions, else their own location
      CROSS JOIN LATERAL (SELECT
          CASE WHEN v_in_person THEN w.location_keys ELSE m.location_keys END AS keys,
          CASE WHEN v_in_person THEN w.city ELSE m.city END AS city,
          CASE WHEN v_in_person THEN w.state_province ELSE m.state_province END AS province,
          CASE WHEN v_in_person THEN w.country ELSE m.country END AS country) l
      CROSS JOIN LATERAL (SELECT (k_rating * v_mean + m.rating::float8 * m.rating_count)
                                 / nullif(k_rating + m.rating_count, 0) AS adjusted_rating) a
      WHERE m.is_active
        AND (NOT v_immediate OR m.currently_on_shift)
        AND (NOT v_in_person OR m.workshop_id IS NOT NULL)
        AND (NOT v_brand_only OR m.brand_keys @> v_make_key)
        AND m.user_id IS DISTINCT FROM v_own_mechanic
        AND m.user_id <> ALL (v_offered)
      OFFSET 0   -- a fence: each row's points are computed once, then summed and sorted
    ) x
    ORDER BY bound DESC, x.adjusted_rating DESC NULLS LAST, x.user_id
    LIMIT v_window   -- a top-N sort: the best few hundred are almost always enough
    LOOP
      v_seen := v_seen + 1;
      -- the rest cannot beat the worst of the p_limit found: the order (float sum) differs from the exact
      -- score (the sum of the points rounded to cents) by less than 0.08; the margin keeps the cut exact
      IF jsonb_array_length(v_found) >= p_limit AND r.bound + 0.1 < v_kth THEN
        v_done := true;
        EXIT;
      END IF;
      -- the hard availability filter, through band 10's functions (never a copy of the rules)
      CONTINUE WHEN cardinality(app_private.mechanic_unavailable_reasons(r.user_id, v_s)) > 0;
      -- the exact score: the sum of the points as the reasons show them (rounded to cents)
      v_score := round(r.p_avail::numeric, 2) + round(r.p_brand::numeric, 2) + round(r.p_spec::numeric, 2)
                 + round(r.p_postal::numeric, 2) + round(r.p_city::numeric, 2) + round(r.p_prov::numeric, 2)
                 + round(r.p_country::numeric, 2) + round(r.p_rating::numeric, 2) + round(r.p_fav::numeric, 2)
                 + round(r.p_repeat::numeric, 2) + round(r.p_exp::numeric, 2) + round(r.p_accept::numeric, 2)
                 + round(r.p_mode::numeric, 2) + round(r.p_load::numeric, 2);
      v_found := v_found || jsonb_build_object('r', to_jsonb(r), 'score', v_score);
      SELECT min(x.score) INTO v_kth
      FROM (SELECT (e ->> 'score')::numeric AS score FROM jsonb_array_elements(v_found) e
            ORDER BY 1 DESC LIMIT p_limit) x;
    END LOOP;
    RAISE DEBUG 'match_candidates(%): looked at %, % free', p_session_id, v_seen, jsonb_array_length(v_found);
    -- done, or every candidate was looked at; else look further down the same ranking
    EXIT WHEN v_done OR v_seen < v_window;
    v_found := '[]'::jsonb;
    v_seen := 0;
    v_window := v_window * 16;
  END LOOP;

  FOR c IN
    SELECT e FROM jsonb_array_elements(v_found) e
    ORDER BY (e ->> 'score')::numeric DESC, (e -> 'r' ->> 'adjusted_rating')::float8 DESC NULLS LAST,
             (e -> 'r' ->> 'user_id')
    LIMIT p_limit
  LOOP
    v_rank := v_rank + 1;
    rank := v_rank;
    mechanic_id := (c -> 'r' ->> 'user_id')::uuid;
    display_name := c -> 'r' ->> 'display_name';
    match_score := (c ->> 'score')::numeric;
    SELECT coalesce(jsonb_agg(jsonb_build_object('criterion', x.code, 'points', round(x.points::numeric, 2),
                                                 'reason', x.reason)
                              ORDER BY round(x.points::numeric, 2) DESC, x.code), '[]'::jsonb)
    INTO match_reasons
    FROM (SELECT c -> 'r' AS r) q
    CROSS JOIN LATERAL (VALUES
      ('availability', (q.r ->> 'p_avail')::float8, CASE WHEN v_immediate THEN 'On shift now' ELSE 'Free for the whole slot' END),
      ('brand_specialist', (q.r ->> 'p_brand')::float8, format('Brand specialist for %s', v_make)),
      ('specialty_match', (q.r ->> 'p_spec')::float8,
        format('Concern matches specialties/bio: %s',
               (SELECT string_agg(lx, ', ' ORDER BY o) FROM app.mechanics m, unnest(v_lexemes) WITH ORDINALITY u(lx, o)
                WHERE m.user_id = (q.r ->> 'user_id')::uuid AND lx = ANY (tsvector_to_array(m.search_document))))),
      ('postal_prefix', (q.r ->> 'p_postal')::float8, format('Same postal area (%s)', v_prefix)),
      ('same_city', (q.r ->> 'p_city')::float8, format('Same city (%s)', q.r ->> 'city')),
      ('same_province', (q.r ->> 'p_prov')::float8, format('Same province/state (%s)', q.r ->> 'province')),
      ('same_country', (q.r ->> 'p_country')::float8, format('Same country (%s)', q.r ->> 'country')),
      ('rating', (q.r ->> 'p_rating')::float8,
        CASE WHEN (q.r ->> 'rating_count')::int = 0
             THEN format('No reviews yet (counted as the average, %s)', round(v_mean::numeric, 2))
             ELSE format('Rated %s from %s reviews (adjusted %s)', q.r ->> 'rating', q.r ->> 'rating_count',
                         round((q.r ->> 'adjusted_rating')::numeric, 2)) END),
      ('favorite', (q.r ->> 'p_fav')::float8, 'One of the customer''s favorite mechanics'),
      ('repeat_customer', (q.r ->> 'p_repeat')::float8,
        format('%s completed session(s) with this customer', q.r ->> 'completed_with_customer')),
      ('experience', (q.r ->> 'p_exp')::float8, format('%s years of experience', q.r ->> 'years_of_experience')),
      ('workload', (q.r ->> 'p_load')::float8, format('%s other session(s) within 12 hours', q.r ->> 'n_day')),
      ('acceptance_rate', (q.r ->> 'p_accept')::float8,
        CASE WHEN (q.r ->> 'answered')::int = 0 THEN 'No answered offers yet (counted as 50%)'
             ELSE format('Accepted %s of %s answered offers', q.r ->> 'accepted', q.r ->> 'answered') END),
      ('service_mode', (q.r ->> 'p_mode')::float8,
        CASE WHEN v_s.service_mode = 'in_person' THEN format('In-person service at %s', q.r ->> 'workshop_name')
             ELSE 'Online consultation' END)
    ) AS x (code, points, reason)
    WHERE round(x.points::numeric, 2) > 0;
    RETURN NEXT;
  END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION tests.match_candidates_reference(uuid, integer, boolean) TO autodoc_admin;

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
-- Speed: see app_private.match_candidates (one set-based pass over the candidates, then only the
-- best few are looked at one by one: workload, availability, reasons).
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
BEGIN
  IF p_session.scheduled_for IS NULL THEN
    RETURN array_remove(ARRAY[
      CASE WHEN NOT isempty(app_private.mechanic_time_off_in(p_mechanic_id, p_session.period)) THEN 'time_off' END,
      CASE WHEN NOT isempty(app_private.mechanic_busy(p_mechanic_id, p_session.period, p_session.id))
           THEN 'overlapping_booking' END], NULL);
  END IF;
  RETURN array_remove(array_remove(array_remove(
           app_private.slot_reasons(p_mechanic_id, p_session.period, p_session.id),
           'in_the_past'), 'too_short_notice'), 'beyond_horizon');
END
$$;

-- match_candidates(session, limit, exclude_offered): the ranked candidates for a session, best
-- first, at most p_limit: rank, mechanic, name, match_score and match_reasons (a JSON array of
-- {criterion, points, reason}, one element per criterion that scored; match_score is the sum of
-- those points). p_exclude_offered leaves out mechanics who already had an offer (or booking) for
-- this session (re-matching). No caller check: owner only (api.match_mechanics checks the caller).
-- Raises 404 session_not_found.
--
-- How it stays fast with 10,000 mechanics (docs/matching.md "How it stays fast"): an exact
-- threshold algorithm. The request-independent points (rating, experience, acceptance rate) are
-- stored per mechanic (app.mechanic_match_static, best first by index). The request points come from
-- a few index-backed sets: brand specialists of the make, mechanics whose document matches the
-- concern, the customer's city and postal prefix (or the workshops there, in person), favorites and
-- past mechanics. The pool = the small sets and the members of all three large sets, whole, + the
-- best `depth` mechanics by stored points of everyone, of each large set and of each pair of them
-- (an immediate request walks the on-shift mechanics' index); everyone outside the pool is in two
-- large sets at most and scores at most `reach` = the depth-th stored points of their lists + their
-- sets' points + what no set covers (availability, service mode, province, country, workload, and
-- the drift of the rating mean since the points were stored). The pool is scored exactly (workload as its weight, an upper bound), then
-- walked best first: workload and availability (band 10's functions) are checked one candidate at a
-- time, until `limit` free candidates are found that nobody unseen, and nobody further down, can
-- beat. If the walk reaches `reach` first, the pool is deepened (depth x 4) and walked again.
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
  v_mean float8;
  v_prefix text;
  v_prefix_next text;  -- the first string after every string that starts with v_prefix (byte order)
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
  v_sets uuid[];        -- always in the pool: favorites, past mechanics, members of two large sets
  v_near_workshops uuid[];
  v_outside float8;     -- the most anyone outside the sets scores beyond their stored points
  -- how many mechanics of each list, best stored points first, join the pool: a few times the candidates
  -- asked for (the walk rarely looks past the best few; a list too short for the cut deepens the pool)
  v_depth integer := greatest(16, 4 * p_limit);
  v_top uuid[];
  v_pool uuid[];        -- v_sets and v_top, each mechanic once
  v_query2 tsquery;     -- two words of the concern or more
  k_all float8; k_brand float8; k_spec_set float8; k_spec2_set float8; k_loc float8;   -- each list's depth-th points
  k_bs float8; k_bl float8; k_sl float8;   -- ... of the pairs' lists (brand+concern, brand+location, concern+location)
  s_brand float8; s_spec float8; s_spec2 float8; s_loc float8;   -- the most stored points outside a set's lists
  m_brand float8; m_spec float8; m_spec1 float8; m_loc float8;   -- the most each large set adds
  v_reach float8;       -- the most anyone outside the pool can score (-infinity: nobody is outside)
  r record;
  v_n_day integer;
  v_p_load float8;
  v_score numeric;
  v_found jsonb;        -- the candidates kept so far, with their exact score
  v_count integer;
  v_kth numeric;        -- the lowest exact score among the best p_limit found so far
  c jsonb;
  v_rank integer := 0;
  v_done boolean := false;
  v_walked integer;
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
  v_prefix_next := left(v_prefix, -1) || chr(ascii(right(v_prefix, 1)) + 1);
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
  v_mean := app_private.matching_rating_mean();
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
  -- outside the sets a mechanic can only add the points everyone gets, province, country and workload
  -- (each at most its weight), and the rating moved by the mean's drift since the points were stored
  -- (the rating's share of the mean is k/(k + reviews) <= 1)
  SELECT w_avail + w_mode + w_prov + w_country + w_load + w_rating / 5 * abs(v_mean - b.rating_mean)
  INTO v_outside FROM app.matching_static_basis b WHERE b.id;

  -- the small sets, whole: the customer's favorites and past mechanics; the workshops near the customer
  v_sets := ARRAY(
    SELECT f.mechanic_id FROM app.favorites f WHERE f.customer_id = v_customer
    UNION SELECT s.mechanic_id FROM app.sessions s
          WHERE s.customer_id = v_customer AND s.status = 'completed' AND s.mechanic_id IS NOT NULL);
  v_near_workshops := ARRAY(SELECT w.id FROM app.workshops w
                            WHERE w.location_keys[2] = v_city OR starts_with(w.location_keys[1], v_prefix));
  -- ... and the mechanics in all three large sets (brand, concern, location), whole (a handful: three
  -- indexes, ANDed): anyone outside the pool is then in two of them at most, which the pair lists bound
  -- (on shift for an immediate request: the others would only be filtered out by the ranking query)
  v_sets := v_sets || ARRAY(
    SELECT m.user_id FROM app.mechanics m
    WHERE m.is_active AND m.brand_keys @> v_make_key AND m.search_document @@ v_query
      AND (NOT v_immediate OR m.currently_on_shift)
      AND CASE WHEN v_in_person THEN m.workshop_id = ANY (v_near_workshops)
               ELSE m.location_keys[2] = v_city
                    OR ((m.location_keys[1] COLLATE "C") >= v_prefix AND (m.location_keys[1] COLLATE "C") < v_prefix_next)
          END);
  -- the most each large set can add: brand, concern words, location (postal prefix + city)
  m_brand := w_brand;
  m_spec := w_spec * least(1.0, coalesce(cardinality(v_lexemes), 0)::float8 / k_spec);
  -- most matches share one word of the concern (w_spec / k_spec points when full points take more): a
  -- second list holds the mechanics matching two words or more (any pair of the words), so that the
  -- first list's bound is the one-word points (a concern of 2-8 words; longer ones keep one list)
  m_spec1 := m_spec;
  IF k_spec >= 2 AND cardinality(v_lexemes) BETWEEN 2 AND 8 THEN
    v_query2 := array_to_string(ARRAY(SELECT format('(%s & %s)', quote_literal(a.l), quote_literal(b.l))
                                      FROM unnest(v_lexemes) WITH ORDINALITY a(l, i)
                                      JOIN unnest(v_lexemes) WITH ORDINALITY b(l, i) ON b.i > a.i), ' | ')::tsquery;
    m_spec1 := w_spec * least(1.0, 1.0 / k_spec);
  END IF;
  m_loc := w_postal + w_city;

  <<deepening>>
  LOOP
    -- the best `depth` eligible mechanics by stored points: of everyone, and of each large set (each
    -- list an index scan: the stored order, or the set's own index); every eligibility test below is
    -- the ranking query's, repeated so that each list holds eligible mechanics only
    WITH lists AS (
      SELECT 'all' AS kind, x.* FROM (
        SELECT st.mechanic_id AS id, st.points
        FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
        WHERE (NOT v_immediate OR st.on_shift)   -- immediate: the on-shift index (the flag is m's, stored)
          AND m.is_active AND (NOT v_immediate OR m.currently_on_shift) AND (NOT v_in_person OR m.workshop_id IS NOT NULL)
          AND (NOT v_brand_only OR m.brand_keys @> v_make_key)
          AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
        ORDER BY st.points DESC, st.mechanic_id LIMIT v_depth) x
      UNION ALL
      SELECT 'brand', x.* FROM (
        SELECT st.mechanic_id, st.points
        FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
        WHERE m.brand_keys @> v_make_key AND (NOT v_immediate OR st.on_shift)
          AND m.is_active AND (NOT v_immediate OR m.currently_on_shift) AND (NOT v_in_person OR m.workshop_id IS NOT NULL)
          AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
        ORDER BY st.points DESC, st.mechanic_id LIMIT v_depth) x
      UNION ALL
      SELECT 'spec', x.* FROM (
        SELECT st.mechanic_id, st.points
        FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
        WHERE m.search_document @@ v_query AND (NOT v_immediate OR st.on_shift)
          AND m.is_active AND (NOT v_immediate OR m.currently_on_shift) AND (NOT v_in_person OR m.workshop_id IS NOT NULL)
          AND (NOT v_brand_only OR m.brand_keys @> v_make_key)
          AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
        ORDER BY st.points DESC, st.mechanic_id LIMIT v_depth) x
      UNION ALL
      SELECT 'spec2', x.* FROM (   -- (a small set, read whole: ordered by stored + province and country points)
        SELECT st.mechanic_id, st.points
               + CASE WHEN g.keys[3] = v_province THEN w_prov ELSE 0 END
               + CASE WHEN g.keys[4] = v_country THEN w_country ELSE 0 END AS points
        FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
        LEFT JOIN app.workshops w ON w.id = m.workshop_id
        CROSS JOIN LATERAL (SELECT CASE WHEN v_in_person THEN w.location_keys ELSE m.location_keys END AS keys) g
        WHERE m.search_document @@ v_query2
          AND m.is_active AND (NOT v_immediate OR m.currently_on_shift) AND (NOT v_in_person OR m.workshop_id IS NOT NULL)
          AND (NOT v_brand_only OR m.brand_keys @> v_make_key)
          AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
        ORDER BY 2 DESC, st.mechanic_id LIMIT v_depth) x
      UNION ALL
      SELECT 'loc', x.* FROM (   -- online: the mechanic's own city or postal prefix (a byte-order range)
        SELECT st.mechanic_id, st.points
        FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
        WHERE NOT v_in_person
          AND (m.location_keys[2] = v_city
               OR ((m.location_keys[1] COLLATE "C") >= v_prefix AND (m.location_keys[1] COLLATE "C") < v_prefix_next))
          AND m.is_active AND (NOT v_immediate OR m.currently_on_shift)
          AND (NOT v_brand_only OR m.brand_keys @> v_make_key)
          AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
        ORDER BY st.points DESC, st.mechanic_id LIMIT v_depth) x
      UNION ALL
      SELECT 'loc', x.* FROM (   -- in person: the workshops near the customer
        SELECT st.mechanic_id, st.points
        FROM app.mechanic_match_static st JOIN app.mechanics m ON m.user_id = st.mechanic_id
        WHERE v_in_person AND m.workshop_id = ANY (v_near_workshops)
          AND m.is_active AND (NOT v_immediate OR m.currently_on_shift)
          AND (NOT v_brand_only OR m.brand_keys @> v_make_key)
          AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
        ORDER BY st.points DESC, st.mechanic_id LIMIT v_depth) x
      UNION ALL
      -- the pairs of large sets, each read whole by its indexes, then ordered (OFFSET 0: the planner,
      -- taking the two conditions as independent, would otherwise walk the stored order looking for
      -- an intersection that may be empty): brand and concern
      SELECT 'bs', x.* FROM (
        SELECT st.mechanic_id, st.points
        FROM (SELECT m.user_id FROM app.mechanics m
              WHERE m.brand_keys @> v_make_key AND m.search_document @@ v_query
                AND m.is_active AND (NOT v_immediate OR m.currently_on_shift) AND (NOT v_in_person OR m.workshop_id IS NOT NULL)
                AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
              OFFSET 0) m
        JOIN app.mechanic_match_static st ON st.mechanic_id = m.user_id
        ORDER BY st.points DESC, st.mechanic_id LIMIT v_depth) x
      UNION ALL
      SELECT 'bl', x.* FROM (   -- brand and location (as the 'loc' lists: near workshops in person)
        SELECT st.mechanic_id, st.points
        FROM (SELECT m.user_id FROM app.mechanics m
              WHERE m.brand_keys @> v_make_key
                AND CASE WHEN v_in_person THEN m.workshop_id = ANY (v_near_workshops)
                         ELSE m.location_keys[2] = v_city
                              OR ((m.location_keys[1] COLLATE "C") >= v_prefix AND (m.location_keys[1] COLLATE "C") < v_prefix_next)
                    END
                AND m.is_active AND (NOT v_immediate OR m.currently_on_shift)
                AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
              OFFSET 0) m
        JOIN app.mechanic_match_static st ON st.mechanic_id = m.user_id
        ORDER BY st.points DESC, st.mechanic_id LIMIT v_depth) x
      UNION ALL
      SELECT 'sl', x.* FROM (   -- concern and location
        SELECT st.mechanic_id, st.points
        FROM (SELECT m.user_id FROM app.mechanics m
              WHERE m.search_document @@ v_query
                AND CASE WHEN v_in_person THEN m.workshop_id = ANY (v_near_workshops)
                         ELSE m.location_keys[2] = v_city
                              OR ((m.location_keys[1] COLLATE "C") >= v_prefix AND (m.location_keys[1] COLLATE "C") < v_prefix_next)
                    END
                AND m.is_active AND (NOT v_immediate OR m.currently_on_shift)
                AND (NOT v_brand_only OR m.brand_keys @> v_make_key)
                AND m.user_id IS DISTINCT FROM v_own_mechanic AND m.user_id <> ALL (v_offered)
              OFFSET 0) m
        JOIN app.mechanic_match_static st ON st.mechanic_id = m.user_id
        ORDER BY st.points DESC, st.mechanic_id LIMIT v_depth) x)
    SELECT ARRAY(SELECT DISTINCT l.id FROM lists l),
           -- a list shorter than `depth` holds its whole set (the depth-th points: -infinity)
           coalesce((SELECT min(l.points) FROM lists l WHERE l.kind = 'all' HAVING count(*) = v_depth), '-infinity'),
           coalesce((SELECT min(l.points) FROM lists l WHERE l.kind = 'brand' HAVING count(*) = v_depth), '-infinity'),
           coalesce((SELECT min(l.points) FROM lists l WHERE l.kind = 'spec' HAVING count(*) = v_depth), '-infinity'),
           coalesce((SELECT min(l.points) FROM lists l WHERE l.kind = 'spec2' HAVING count(*) = v_depth), '-infinity'),
           coalesce((SELECT min(l.points) FROM lists l WHERE l.kind = 'loc' HAVING count(*) = v_depth), '-infinity'),
           coalesce((SELECT min(l.points) FROM lists l WHERE l.kind = 'bs' HAVING count(*) = v_depth), '-infinity'),
           coalesce((SELECT min(l.points) FROM lists l WHERE l.kind = 'bl' HAVING count(*) = v_depth), '-infinity'),
           coalesce((SELECT min(l.points) FROM lists l WHERE l.kind = 'sl' HAVING count(*) = v_depth), '-infinity')
    INTO v_top, k_all, k_brand, k_spec_set, k_spec2_set, k_loc, k_bs, k_bl, k_sl;
    v_pool := ARRAY(SELECT DISTINCT p.id FROM unnest(v_sets || v_top) p(id));
    -- the most anyone outside the pool can score: a mechanic outside it is in two large sets at most (the
    -- mechanics of three are in the pool), has stored points at most the depth-th of everyone's list and
    -- of the lists of each set and pair of sets it belongs to, and adds at most those sets' points and
    -- what no set covers (v_outside). The concern's points are one word's (m_spec1) unless it matches
    -- two words, whose list is ordered by stored + province and country points (s_spec2: minus those)
    s_brand := least(k_all, k_brand);
    s_spec := least(k_all, k_spec_set);
    s_spec2 := least(s_spec, k_spec2_set - w_prov - w_country);
    s_loc := least(k_all, k_loc);
    v_reach := v_outside + greatest(k_all, s_brand + m_brand, s_spec + m_spec1, s_spec2 + m_spec, s_loc + m_loc,
                                    least(s_brand, s_spec, k_bs) + m_brand + m_spec1,
                                    least(s_brand, s_spec2, k_bs) + m_brand + m_spec,
                                    least(s_brand, s_loc, k_bl) + m_brand + m_loc,
                                    least(s_spec, s_loc, k_sl) + m_spec1 + m_loc,
                                    least(s_spec2, s_loc, k_sl) + m_spec + m_loc);
    v_found := '[]'::jsonb;
    v_count := 0;
    v_kth := NULL;
    v_walked := 0;
    FOR r IN
    SELECT x.*,
           x.p_avail + x.p_brand + x.p_spec + x.p_postal + x.p_city + x.p_prov + x.p_country + x.p_rating + x.p_fav
           + x.p_repeat + x.p_exp + x.p_accept + x.p_mode + w_load AS bound   -- the workload at its most
    FROM (
      SELECT m.user_id, m.display_name, m.rating, m.rating_count, m.years_of_experience, w.name AS workshop_name,
             coalesce(w.timezone, m.timezone) AS tz, l.city, l.province, l.country,
             coalesce(h.n, 0) AS completed_with_customer, coalesce(st.accepted, 0) AS accepted,
             coalesce(st.accepted + st.declined + st.expired, 0) AS answered, a.adjusted_rating,
             w_avail AS p_avail,
             CASE WHEN m.brand_keys @> v_make_key THEN w_brand ELSE 0 END AS p_brand,
             CASE WHEN m.search_document @@ v_query   -- (only then count the words: most rows do not match)
                  -- the concern's words in the document: as many as deleting them removes (the
                  -- lexemes are distinct; no per-row array of the whole document)
                  THEN w_spec * least(1.0, (length(m.search_document)
                                            - length(ts_delete(m.search_document, v_lexemes)))::float8 / k_spec)
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
             w_mode AS p_mode
      -- the pool: a few hundred at most, each fetched by key (OFFSET 0: a lookup per id, whatever the
      -- plan cache's generic plan guesses of the array's size; a scan of every mechanic filtered by
      -- `= ANY (pool)` compares each row with every id)
      FROM unnest(v_pool) p(id)
      CROSS JOIN LATERAL (SELECT * FROM app.mechanics m1 WHERE m1.user_id = p.id OFFSET 0) m
      LEFT JOIN app.workshops w ON w.id = m.workshop_id
      LEFT JOIN app.favorites f ON f.customer_id = v_customer AND f.mechanic_id = m.user_id
      LEFT JOIN app.mechanic_offer_stats st ON st.mechanic_id = m.user_id
      LEFT JOIN (SELECT s.mechanic_id, count(*)::int AS n   -- completed sessions with this customer
                 FROM app.sessions s
                 WHERE s.customer_id = v_customer AND s.status = 'completed' AND s.mechanic_id IS NOT NULL
                 GROUP BY s.mechanic_id) h ON h.mechanic_id = m.user_id
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
    LOOP
      -- nobody further down the pool, nor outside it, can beat the worst of the p_limit found: the
      -- order (float sum) differs from the exact score (the sum of the points rounded to cents) by
      -- less than 0.08; the margin keeps the cut exact
      IF v_count >= p_limit AND greatest(r.bound, v_reach) + 0.1 < v_kth THEN
        v_done := true;
        EXIT;
      END IF;
      -- someone outside the pool might beat this one: look deeper
      EXIT WHEN r.bound + 0.1 < v_reach;
      v_walked := v_walked + 1;
      -- the workload: the mechanic's sessions starting within 12 hours of this one
      SELECT count(*)::int INTO v_n_day FROM app.sessions s
      WHERE s.mechanic_id = r.user_id AND s.status <> 'cancelled'
        AND lower(s.period) >= v_start - interval '12 hours' AND lower(s.period) < v_start + interval '12 hours';
      v_p_load := w_load * greatest(0.0, 1 - v_n_day::float8 / k_load);
      -- (a candidate whose exact score cannot reach the p_limit found needs no availability check)
      CONTINUE WHEN v_count >= p_limit AND r.bound - w_load + v_p_load + 0.1 < v_kth;
      -- the hard availability filter, through band 10's functions (never a copy of the rules)
      CONTINUE WHEN cardinality(app_private.mechanic_unavailable_reasons(r.user_id, v_s)) > 0;
      -- the exact score: the sum of the points as the reasons show them (rounded to cents)
      v_score := round(r.p_avail::numeric, 2) + round(r.p_brand::numeric, 2) + round(r.p_spec::numeric, 2)
                 + round(r.p_postal::numeric, 2) + round(r.p_city::numeric, 2) + round(r.p_prov::numeric, 2)
                 + round(r.p_country::numeric, 2) + round(r.p_rating::numeric, 2) + round(r.p_fav::numeric, 2)
                 + round(r.p_repeat::numeric, 2) + round(r.p_exp::numeric, 2) + round(r.p_accept::numeric, 2)
                 + round(r.p_mode::numeric, 2) + round(v_p_load::numeric, 2);
      v_found := v_found || jsonb_build_object('r', to_jsonb(r) || jsonb_build_object('n_day', v_n_day,
                                                                                       'p_load', v_p_load),
                                               'score', v_score);
      v_count := v_count + 1;
      SELECT min(x.score) INTO v_kth
      FROM (SELECT (e ->> 'score')::numeric AS score FROM jsonb_array_elements(v_found) e
            ORDER BY 1 DESC LIMIT p_limit) x;
    END LOOP;
    RAISE DEBUG 'match_candidates(%): depth %, pool % + %, walked %, % free, done %; reach % (lists % % % % % % % %)',
      p_session_id, v_depth, cardinality(v_sets), cardinality(v_top), v_walked, v_count, v_done,
      round(v_reach::numeric, 2), round(k_all::numeric, 2), round(k_brand::numeric, 2), round(k_spec_set::numeric, 2),
      round(k_spec2_set::numeric, 2), round(k_loc::numeric, 2), round(k_bs::numeric, 2), round(k_bl::numeric, 2),
      round(k_sl::numeric, 2);
    -- the pool was walked to its end with nobody outside it (or the cut was reached): done
    EXIT WHEN v_done OR v_reach = '-infinity'::float8;
    v_depth := v_depth * 4;
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

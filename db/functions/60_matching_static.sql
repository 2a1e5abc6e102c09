-- Matching's stored points: each mechanic's request-independent points (rating, experience,
-- acceptance rate) and on-shift flag in app.mechanic_match_static, the order in which app_private.match_candidates
-- reads the mechanics outside its index-backed sets (docs/matching.md "How it stays fast"). Kept by
-- the triggers of db/triggers/60_matching_static.sql. The formulas are the ranking's
-- (app_private.match_candidates, the p_rating, p_exp and p_accept columns), with the rating's prior
-- mean taken from app.matching_static_basis instead of the live mean; tests/sql/60-matching-fast.sql
-- checks that both agree.

-- matching_rating_mean(): the review-weighted mean rating of the active mechanics (0 without any
-- review): the rating criterion's prior. Read from the running totals of app.matching_static_basis
-- (kept by db/triggers/60_matching_static.sql), one row instead of every mechanic. Owner only.
CREATE OR REPLACE FUNCTION app_private.matching_rating_mean() RETURNS float8
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT coalesce(b.rating_points::float8 / nullif(b.rating_reviews, 0), 0) FROM app.matching_static_basis b WHERE b.id
$$;

-- matching_static_refresh(mechanic ids): (re)computes the stored points of those mechanics (NULL:
-- every mechanic) with the current weights and settings and the recorded prior mean, and whether they
-- are on shift (active and currently_on_shift). Owner only
-- (SECURITY DEFINER: the triggers that call it run as whoever wrote a review or answered an offer).
CREATE OR REPLACE FUNCTION app_private.matching_static_refresh(p_ids uuid[])
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_set app.matching_settings := app_private.matching_settings();
  v_mean float8;
  w_rating float8; w_exp float8; w_accept float8;
BEGIN
  SELECT b.rating_mean INTO v_mean FROM app.matching_static_basis b WHERE b.id;
  SELECT coalesce(max(c.weight) FILTER (WHERE c.code = 'rating' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'experience' AND c.enabled), 0)::float8,
         coalesce(max(c.weight) FILTER (WHERE c.code = 'acceptance_rate' AND c.enabled), 0)::float8
  INTO w_rating, w_exp, w_accept
  FROM app.matching_criteria c;
  INSERT INTO app.mechanic_match_static AS ms (mechanic_id, points, on_shift, updated_at)
  SELECT m.user_id,
         -- rating, experience, acceptance rate: as app_private.match_candidates computes them
         w_rating * coalesce((v_set.rating_prior_reviews * v_mean + m.rating::float8 * m.rating_count)
                             / nullif(v_set.rating_prior_reviews + m.rating_count, 0), 0) / 5
         + w_exp * least(1.0, m.years_of_experience::float8 / v_set.experience_full_years)
         + w_accept * coalesce((coalesce(st.accepted, 0) + 0.5 * v_set.acceptance_prior_offers)::float8
                               / nullif(coalesce(st.accepted + st.declined + st.expired, 0)
                                        + v_set.acceptance_prior_offers, 0), 0.5),
         m.is_active AND m.currently_on_shift,   -- who an immediate request walks (index WHERE on_shift)
         app_private.now()
  FROM app.mechanics m
  LEFT JOIN app.mechanic_offer_stats st ON st.mechanic_id = m.user_id
  WHERE p_ids IS NULL OR m.user_id = ANY (p_ids)
  ON CONFLICT (mechanic_id) DO UPDATE SET points = excluded.points, on_shift = excluded.on_shift,
                                          updated_at = excluded.updated_at
  WHERE ms.points IS DISTINCT FROM excluded.points OR ms.on_shift IS DISTINCT FROM excluded.on_shift;
END
$$;

-- matching_static_recompute_all(): recounts the rating totals, records the live prior mean and
-- recomputes every mechanic's
-- stored points (one set-based statement). Runs at every migrate (db/triggers/60_matching_static.sql)
-- and whenever the criteria or the settings change. Owner only.
CREATE OR REPLACE FUNCTION app_private.matching_static_recompute_all()
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  -- the running totals, recounted (they are exact numerics; this only guards against a writer that
  -- bypassed the triggers, such as a bulk load with session_replication_role = replica)
  UPDATE app.matching_static_basis b
  SET rating_points = t.points, rating_reviews = t.reviews
  FROM (SELECT coalesce(sum(m.rating * m.rating_count), 0) AS points, coalesce(sum(m.rating_count), 0) AS reviews
        FROM app.mechanics m WHERE m.is_active) t
  WHERE b.id;
  UPDATE app.matching_static_basis b
  SET rating_mean = app_private.matching_rating_mean(), computed_at = app_private.now()
  WHERE b.id;
  PERFORM app_private.matching_static_refresh(NULL);
END
$$;

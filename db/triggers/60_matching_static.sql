-- Matching's stored points (app.mechanic_match_static, db/functions/60_matching_static.sql) follow
-- what feeds them: a mechanic's rating, reviews and experience; their answered offers; the weights
-- and the settings (those two: one set-based recompute of every mechanic).

-- mechanics_match_static(): AFTER INSERT, DELETE, or UPDATE of rating, rating_count,
-- years_of_experience, is_active or currently_on_shift on app.mechanics: moves the running rating
-- totals of app.matching_static_basis by the mechanic's change (the live mean matching reads) and
-- recomputes the mechanic's stored points and on-shift flag (going on or off shift: that row only). The totals are one row: two reviews commit one after the other (reviews
-- are rare next to matching, which reads the row without waiting). SECURITY DEFINER: the writer of a
-- review has no rights on the matching tables.
CREATE OR REPLACE FUNCTION app_private.mechanics_match_static() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_old_points numeric := 0::numeric;
  v_old_reviews integer := 0;
  v_new_points numeric := 0::numeric;
  v_new_reviews integer := 0;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.is_active THEN
    v_old_points := OLD.rating * OLD.rating_count;
    v_old_reviews := OLD.rating_count;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.is_active THEN
    v_new_points := NEW.rating * NEW.rating_count;
    v_new_reviews := NEW.rating_count;
  END IF;
  IF v_new_points <> v_old_points OR v_new_reviews <> v_old_reviews THEN
    UPDATE app.matching_static_basis b
    SET rating_points = b.rating_points + v_new_points - v_old_points,
        rating_reviews = b.rating_reviews + v_new_reviews - v_old_reviews
    WHERE b.id;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM app_private.matching_static_refresh(ARRAY[NEW.user_id]);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS mechanics_60_match_static ON app.mechanics;
CREATE TRIGGER mechanics_60_match_static
  AFTER INSERT OR DELETE OR UPDATE OF rating, rating_count, years_of_experience, is_active, currently_on_shift
  ON app.mechanics
  FOR EACH ROW EXECUTE FUNCTION app_private.mechanics_match_static();

-- mechanic_offer_stats_match_static(): AFTER INSERT, UPDATE or DELETE on app.mechanic_offer_stats
-- (an answered offer): recomputes the mechanic's stored points. SECURITY DEFINER (through the refresh).
CREATE OR REPLACE FUNCTION app_private.mechanic_offer_stats_match_static() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM app_private.matching_static_refresh(ARRAY[OLD.mechanic_id]);
  ELSE
    PERFORM app_private.matching_static_refresh(ARRAY[NEW.mechanic_id]);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS mechanic_offer_stats_60_match_static ON app.mechanic_offer_stats;
CREATE TRIGGER mechanic_offer_stats_60_match_static AFTER INSERT OR UPDATE OR DELETE ON app.mechanic_offer_stats
  FOR EACH ROW EXECUTE FUNCTION app_private.mechanic_offer_stats_match_static();

-- matching_static_recompute(): AFTER any change of app.matching_criteria or app.matching_settings
-- (once per statement): every mechanic's stored points, with the prior mean of that moment.
CREATE OR REPLACE FUNCTION app_private.matching_static_recompute() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.matching_static_recompute_all();
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS matching_criteria_60_match_static ON app.matching_criteria;
CREATE TRIGGER matching_criteria_60_match_static AFTER INSERT OR UPDATE OR DELETE ON app.matching_criteria
  FOR EACH STATEMENT EXECUTE FUNCTION app_private.matching_static_recompute();
DROP TRIGGER IF EXISTS matching_settings_60_match_static ON app.matching_settings;
CREATE TRIGGER matching_settings_60_match_static AFTER UPDATE ON app.matching_settings
  FOR EACH STATEMENT EXECUTE FUNCTION app_private.matching_static_recompute();

-- Every migrate recomputes every stored row (a few hundred ms for 10,000 mechanics): the rows exist
-- for the mechanics that were there before the table, and the recorded mean is fresh.
SELECT app_private.matching_static_recompute_all();

-- Waiver and rating triggers (band 80): waiver texts are append-only; a mechanic's rating follows
-- their customers' ratings exactly.

-- waiver_versions_append_only(): a published waiver text is never changed or removed (signatures
-- point at it); a new text is a new version (api.publish_waiver). Raises 409 append_only.
CREATE OR REPLACE FUNCTION app_private.waiver_versions_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  PERFORM app_private.raise_error(409, 'append_only', 'Published waiver versions are append-only',
    jsonb_build_object('operation', TG_OP));
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS waiver_versions_append_only ON app.waiver_versions;
CREATE TRIGGER waiver_versions_append_only BEFORE UPDATE OR DELETE ON app.waiver_versions
  FOR EACH ROW EXECUTE FUNCTION app_private.waiver_versions_append_only();

-- mechanics_keep_rating_sum(): BEFORE INSERT OR UPDATE on app.mechanics. rating_sum is the exact
-- sum behind rating (rating = rating_sum / rating_count, rounded to 2 places). A write that sets
-- rating or rating_count directly (onboarding with a starting rating, the demo seed, an admin)
-- without moving rating_sum re-bases the sum on them; the ratings trigger moves all three at once.
CREATE OR REPLACE FUNCTION app_private.mechanics_keep_rating_sum() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' OR (NEW.rating_sum IS NOT DISTINCT FROM OLD.rating_sum
                          AND (NEW.rating IS DISTINCT FROM OLD.rating OR NEW.rating_count IS DISTINCT FROM OLD.rating_count)) THEN
    NEW.rating_sum := NEW.rating * NEW.rating_count;
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS mechanics_keep_rating_sum ON app.mechanics;
CREATE TRIGGER mechanics_keep_rating_sum BEFORE INSERT OR UPDATE OF rating, rating_count, rating_sum ON app.mechanics
  FOR EACH ROW EXECUTE FUNCTION app_private.mechanics_keep_rating_sum();

-- session_ratings_update_mechanic(): AFTER INSERT on app.session_ratings: the rated mechanic's
-- rating_sum, rating_count and rating move by one rating, in one UPDATE of their row (concurrent
-- ratings of one mechanic queue on it, so none is lost). SECURITY DEFINER: customers cannot write
-- app.mechanics.
CREATE OR REPLACE FUNCTION app_private.session_ratings_update_mechanic() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  UPDATE app.mechanics m
     SET rating_sum = m.rating_sum + NEW.rating,
         rating_count = m.rating_count + 1,
         rating = round((m.rating_sum + NEW.rating) / (m.rating_count + 1), 2)
   WHERE m.user_id = NEW.mechanic_id;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS session_ratings_update_mechanic ON app.session_ratings;
CREATE TRIGGER session_ratings_update_mechanic AFTER INSERT ON app.session_ratings
  FOR EACH ROW EXECUTE FUNCTION app_private.session_ratings_update_mechanic();

-- The rating-sum trigger runs as whoever writes app.mechanics (admins, mechanics editing their profile).
GRANT EXECUTE ON FUNCTION app_private.mechanics_keep_rating_sum() TO autodoc_mechanic, autodoc_admin;

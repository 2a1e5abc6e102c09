-- depends: 0025_booking_event
-- Matching speed (issue 11): each mechanic's request-independent points stored (rating at a recorded
-- prior mean, experience, acceptance rate), ordered by an index, so that matching reads the best few
-- instead of scoring every mechanic; and the indexes that find the mechanics a request can give
-- points to (brand, concern words, city, postal prefix). See docs/matching.md "How it stays fast".
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- One row per mechanic, kept by triggers (db/triggers/60_matching_static.sql): the points of the
-- rating (with the prior mean of app.matching_static_basis), experience and acceptance-rate criteria
-- under the current weights and settings. Only an ordering and an upper bound for matching: the
-- reasons and scores it returns are always computed from the live rows.
CREATE TABLE app.mechanic_match_static (
  mechanic_id uuid PRIMARY KEY REFERENCES app.mechanics (user_id) ON DELETE CASCADE,
  points      float8 NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- matching scans it best first (ties by id, so a scan is deterministic)
CREATE INDEX mechanic_match_static_points_idx ON app.mechanic_match_static (points DESC, mechanic_id);
ALTER TABLE app.mechanic_match_static ENABLE ROW LEVEL SECURITY;

-- ONE row: the review-weighted mean rating the stored rating points were computed with. Matching
-- widens its bound by the rating weight / 5 x |live mean - this mean|, so the stored points never
-- need rewriting when one review moves the mean; a full recompute (every migrate, every change of
-- the criteria or settings) records the mean of that moment.
-- It also keeps the running totals the live mean is read from (the sum of rating x reviews and the
-- number of reviews of the active mechanics), so that matching reads one row instead of every mechanic.
CREATE TABLE app.matching_static_basis (
  id             boolean PRIMARY KEY DEFAULT true,
  rating_mean    float8 NOT NULL DEFAULT 0,
  computed_at    timestamptz,
  rating_points  numeric NOT NULL DEFAULT 0,   -- sum of rating x rating_count over the active mechanics
  rating_reviews bigint NOT NULL DEFAULT 0,    -- sum of rating_count over the active mechanics
  CONSTRAINT matching_static_basis_single_row CHECK (id)
);
INSERT INTO app.matching_static_basis DEFAULT VALUES;
ALTER TABLE app.matching_static_basis ENABLE ROW LEVEL SECURITY;

-- The candidates a request can give request points to, found by index instead of by a scan:
-- brand specialists of a make, mechanics whose document matches the concern, the mechanic's city
-- and postal prefix (byte order, so that a prefix is a range).
CREATE INDEX mechanics_brand_keys_idx ON app.mechanics USING gin (brand_keys) WHERE is_active;
CREATE INDEX mechanics_search_document_idx ON app.mechanics USING gin (search_document) WHERE is_active;
CREATE INDEX mechanics_city_key_idx ON app.mechanics ((location_keys[2])) WHERE is_active;
CREATE INDEX mechanics_postal_key_idx ON app.mechanics ((location_keys[1] COLLATE "C")) WHERE is_active;

-- depends: 0019_faults
-- Matching and offers: the criteria and their weights (data an admin edits), the matching settings,
-- one matching record per session that went through matching (round, outcome), each mechanic's
-- offer history in numbers (for the acceptance-rate criterion), a stored full-text document per
-- mechanic (specialties + bio, stemmed) and the decline reason of an offer.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The text a mechanic is found by (specialties and bio). IMMUTABLE because a stored generated
-- column needs it; array_to_string is only STABLE in general, but over text[] its result depends on
-- nothing but the input.
CREATE FUNCTION app_private.mechanic_search_text(p_specialties text[], p_bio text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
  SELECT coalesce(pg_catalog.array_to_string(p_specialties, ' '), '') || ' ' || coalesce(p_bio, '')
$$;
-- every role that may write a mechanic row computes the generated column below
GRANT EXECUTE ON FUNCTION app_private.mechanic_search_text(text[], text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- Specialties and bio, stemmed (English): what a customer's concern is matched against. The rewrite
-- this needs is of the mechanics table (thousands of rows, not the sessions), once.
-- squawk-ignore adding-field-with-default
ALTER TABLE app.mechanics ADD COLUMN search_document tsvector GENERATED ALWAYS AS
  (to_tsvector('english'::regconfig, app_private.mechanic_search_text(specialties, bio))) STORED;

-- The brand-specialist brands as matching compares them (lower case, trimmed): one array test per
-- mechanic instead of a subquery.
CREATE FUNCTION app_private.brand_keys(p_brands text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
  SELECT coalesce(array_agg(lower(btrim(b))), '{}') FROM unnest(p_brands) b
$$;
GRANT EXECUTE ON FUNCTION app_private.brand_keys(text[])
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
-- squawk-ignore adding-field-with-default
ALTER TABLE app.mechanics ADD COLUMN brand_keys text[] GENERATED ALWAYS AS
  (app_private.brand_keys(brand_specialist_brands)) STORED;

-- A location as matching compares it: {postal code upper-cased without spaces, city, province,
-- country lower-cased and trimmed}, stored with each mechanic and workshop so that comparing
-- 10,000 locations is plain equality, not 40,000 text conversions per request.
CREATE FUNCTION app_private.location_keys(p_postal_code text, p_city text, p_state_province text, p_country text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
  SELECT ARRAY[nullif(upper(replace(p_postal_code, ' ', '')), ''), lower(btrim(p_city)), lower(btrim(p_state_province)),
               lower(btrim(p_country))]
$$;
GRANT EXECUTE ON FUNCTION app_private.location_keys(text, text, text, text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
-- squawk-ignore adding-field-with-default
ALTER TABLE app.mechanics ADD COLUMN location_keys text[] GENERATED ALWAYS AS
  (app_private.location_keys(postal_code, city, state_province, country)) STORED;
-- squawk-ignore adding-field-with-default
ALTER TABLE app.workshops ADD COLUMN location_keys text[] GENERATED ALWAYS AS
  (app_private.location_keys(postal_code, city, state_province, country)) STORED;

-- Why a mechanic declined an offer (optional, free text from the mechanic).
-- The column is new (NULL everywhere), so validating its CHECK at once costs one quick scan.
ALTER TABLE app.session_assignments ADD COLUMN decline_reason text;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.session_assignments ADD CONSTRAINT session_assignments_decline_reason_length
  CHECK (char_length(decline_reason) <= 500);
-- open offers by expiry (the expiry job) and a session's offers by status (first accept wins)
CREATE INDEX session_assignments_open_expiry_idx ON app.session_assignments (expires_at) WHERE status = 'offered';
CREATE INDEX session_assignments_session_status_idx ON app.session_assignments (session_id, status);
-- mechanics' sessions around one instant (the workload criterion reads one window for all candidates)
CREATE INDEX sessions_booked_start_idx ON app.sessions ((lower(period))) INCLUDE (mechanic_id)
  WHERE mechanic_id IS NOT NULL AND status <> 'cancelled';

-- The criteria: one row each, the points a fully met criterion gives (weight) and whether it counts.
-- Each criterion yields a value between 0 and 1 per candidate; points = weight * value. Hard
-- filters (on shift / free, brand-specialist tab, in person needs a workshop, time off, overlap,
-- inactive) apply whatever the weights say.
CREATE TABLE app.matching_criteria (
  code        text PRIMARY KEY,
  label       text NOT NULL,
  description text NOT NULL,
  weight      numeric(6, 2) NOT NULL,
  enabled     boolean NOT NULL DEFAULT true,
  sort_order  int NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT matching_criteria_code_format CHECK (code ~ '^[a-z][a-z_]*$'),
  CONSTRAINT matching_criteria_weight_range CHECK (weight BETWEEN 0 AND 1000)
);
INSERT INTO app.matching_criteria (code, label, description, weight, sort_order) VALUES
  ('availability', 'Available', 'On shift now (immediate) or free for the whole slot (scheduled); required', 10, 1),
  ('brand_specialist', 'Brand specialist', 'Lists the vehicle''s make as a brand-specialist brand (required on the brand-specialist tab)', 20, 2),
  ('specialty_match', 'Specialty match', 'Words of the concern found in the mechanic''s specialties and bio (full-text, stemmed); full points from specialty_full_matches words', 25, 3),
  ('postal_prefix', 'Nearby (postal code)', 'Same postal-code prefix (postal_prefix_length characters, spaces ignored) as the customer; the workshop''s for in-person sessions', 8, 4),
  ('same_city', 'Same city', 'Same city as the customer (the workshop''s city for in-person sessions)', 6, 5),
  ('same_province', 'Same province/state', 'Same province or state as the customer', 3, 6),
  ('same_country', 'Same country', 'Same country as the customer', 2, 7),
  ('rating', 'Rating', 'Rating shrunk toward the mean of all ratings by the number of reviews (Bayesian average with rating_prior_reviews imaginary reviews), out of 5', 15, 8),
  ('favorite', 'Favorite', 'One of the customer''s favorite mechanics', 10, 9),
  ('repeat_customer', 'Worked together before', 'Completed sessions with this customer; full points from repeat_full_sessions', 8, 10),
  ('experience', 'Experience', 'Years of experience; full points from experience_full_years', 6, 11),
  ('workload', 'Light workload', 'Fewer of the mechanic''s sessions starting within 12 hours of this one; no points from workload_full_sessions', 6, 12),
  ('acceptance_rate', 'Accepts offers', 'Share of past offers accepted (smoothed toward 50% by acceptance_prior_offers imaginary offers)', 6, 13),
  ('service_mode', 'Service mode', 'Supports the session''s service mode (in person needs a workshop; required)', 4, 14);
ALTER TABLE app.matching_criteria ENABLE ROW LEVEL SECURITY;

-- Matching settings: ONE row (offers per round, how long an offer stays open, rounds, the numbers
-- the criteria use).
CREATE TABLE app.matching_settings (
  id                       boolean PRIMARY KEY DEFAULT true,
  offers_per_round         int NOT NULL DEFAULT 3,
  max_rounds               int NOT NULL DEFAULT 3,
  offer_ttl_immediate      interval NOT NULL DEFAULT '2 minutes',
  offer_ttl_scheduled      interval NOT NULL DEFAULT '10 minutes',
  rating_prior_reviews     int NOT NULL DEFAULT 20,
  postal_prefix_length     int NOT NULL DEFAULT 3,
  specialty_full_matches   int NOT NULL DEFAULT 2,
  repeat_full_sessions     int NOT NULL DEFAULT 3,
  experience_full_years    int NOT NULL DEFAULT 15,
  workload_full_sessions   int NOT NULL DEFAULT 6,
  acceptance_prior_offers  int NOT NULL DEFAULT 4,
  updated_at               timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT matching_settings_single_row CHECK (id),
  CONSTRAINT matching_settings_sensible CHECK (
    offers_per_round BETWEEN 1 AND 20 AND max_rounds BETWEEN 1 AND 20
    AND offer_ttl_immediate BETWEEN '10 seconds'::interval AND '1 hour'::interval
    AND offer_ttl_scheduled BETWEEN '10 seconds'::interval AND '1 day'::interval
    AND rating_prior_reviews >= 0 AND postal_prefix_length BETWEEN 1 AND 10
    AND specialty_full_matches >= 1 AND repeat_full_sessions >= 1 AND experience_full_years >= 1
    AND workload_full_sessions >= 1 AND acceptance_prior_offers >= 0)
);
INSERT INTO app.matching_settings DEFAULT VALUES;
ALTER TABLE app.matching_settings ENABLE ROW LEVEL SECURITY;

-- One row per session that went through matching: the round, the outcome. Matching (immediate at
-- creation, deferred by the job) creates it; the first accept, the last round or a cancellation
-- closes it. Its primary key is what makes the deferred job idempotent: a session is matched once.
CREATE TABLE app.session_matching (
  session_id       uuid PRIMARY KEY REFERENCES app.sessions (id) ON DELETE CASCADE,
  customer_id      uuid NOT NULL REFERENCES app.users (id),
  status           text NOT NULL DEFAULT 'offering',
  targeted         boolean NOT NULL DEFAULT false,   -- the customer chose the mechanic: no re-matching
  round            int NOT NULL DEFAULT 0,
  round_started_at timestamptz,
  accepted_mechanic_id uuid REFERENCES app.mechanics (user_id),
  closed_at        timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT session_matching_status_valid CHECK (status IN ('offering', 'assigned', 'unmatched', 'cancelled')),
  CONSTRAINT session_matching_closed_shape CHECK ((status = 'offering') = (closed_at IS NULL)),
  CONSTRAINT session_matching_round_not_negative CHECK (round >= 0)
);
CREATE INDEX session_matching_customer_id_idx ON app.session_matching (customer_id);
ALTER TABLE app.session_matching ENABLE ROW LEVEL SECURITY;

-- Each mechanic's answered offers in numbers, kept by a trigger on session_assignments (counting
-- them from the assignments at match time would read every offer ever made).
CREATE TABLE app.mechanic_offer_stats (
  mechanic_id uuid PRIMARY KEY REFERENCES app.mechanics (user_id) ON DELETE CASCADE,
  accepted    int NOT NULL DEFAULT 0,
  declined    int NOT NULL DEFAULT 0,
  expired     int NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mechanic_offer_stats_not_negative CHECK (accepted >= 0 AND declined >= 0 AND expired >= 0)
);
ALTER TABLE app.mechanic_offer_stats ENABLE ROW LEVEL SECURITY;

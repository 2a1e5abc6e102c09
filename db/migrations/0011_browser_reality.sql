-- depends: 0008_outbox_kinds
-- What a browser and a mailbox see: the customer's own time zone (emails show each reader their
-- own time), a platform default zone for the rare case nothing else is known, and full-text search
-- over the mechanic directory.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The zone a customer reads times in: sent at sign-up (the browser's zone), changeable by the
-- customer. NULL = never told; emails then use the appointment's place (the mechanic's or
-- workshop's zone), and with no mechanic yet booking_settings.default_timezone, never UTC.
ALTER TABLE app.customers ADD COLUMN timezone text;
ALTER TABLE app.customers ADD CONSTRAINT customers_timezone_valid
  CHECK (timezone IS NULL OR app_private.is_valid_timezone(timezone)) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.customers VALIDATE CONSTRAINT customers_timezone_valid;  -- every existing row is NULL

-- A constant default: no table rewrite (PostgreSQL 11+), and booking_settings has one row.
-- squawk-ignore adding-required-field
ALTER TABLE app.booking_settings ADD COLUMN default_timezone text NOT NULL DEFAULT 'America/Toronto';
ALTER TABLE app.booking_settings ADD CONSTRAINT booking_settings_default_timezone_valid
  CHECK (app_private.is_valid_timezone(default_timezone)) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.booking_settings VALIDATE CONSTRAINT booking_settings_default_timezone_valid;

-- The directory's search document: name, bio, specialties and brands, stemmed with the english
-- configuration ("German cars" is found by "german", "car" or "cars"). Lives with the index that
-- uses it (an index expression must not change under it), so it is here and not in db/functions.
-- IMMUTABLE: to_tsvector with an explicit configuration is, and array_to_string of text[] is in
-- practice (text output does not depend on settings).
CREATE FUNCTION app_private.mechanic_search_document(p_name text, p_bio text, p_specialties text[], p_brands text[])
RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
  SELECT setweight(pg_catalog.to_tsvector('english'::regconfig, coalesce(p_name, '')), 'A')
      || setweight(pg_catalog.to_tsvector('english'::regconfig,
                     pg_catalog.array_to_string(coalesce(p_brands, '{}') || coalesce(p_specialties, '{}'), ' ')), 'B')
      || setweight(pg_catalog.to_tsvector('english'::regconfig, coalesce(p_bio, '')), 'C')
$$;
-- Every role that may write app.mechanics evaluates the index expression on its writes.
GRANT EXECUTE ON FUNCTION app_private.mechanic_search_document(text, text, text[], text[])
  TO autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- The directory is small (one row per mechanic) and read-mostly: building the index takes
-- milliseconds under the migration's lock.
CREATE INDEX mechanics_search_idx ON app.mechanics
  USING gin (app_private.mechanic_search_document(display_name, bio, specialties, brand_specialist_brands));

-- api.create_customer gains p_timezone (the zone sent at sign-up): the old signature goes. Its
-- callers (the API, the demo seed) pass arguments by name or position up to p_user_id, which the
-- new signature keeps in the same order, so none breaks.
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS api.create_customer(text, text, text, text, text, text, text, uuid);

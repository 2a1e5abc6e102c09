-- Mechanic directory and self-service: the directory (list and search), weekly availability
-- blocks, time off and the shift toggle. Self-service functions are SECURITY DEFINER and act on the
-- calling mechanic (admins name one); the directory reads are SECURITY INVOKER (RLS decides).

-- acting_mechanic(mechanic?): the mechanic a self-service function acts on: a mechanic acts on
-- themselves (another id: 403 forbidden), an admin must name one. Raises 403 forbidden,
-- 422 missing_field, 404 mechanic_not_found.
CREATE OR REPLACE FUNCTION app_private.acting_mechanic(p_mechanic_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_as('mechanic', p_mechanic_id);
BEGIN
  IF NOT EXISTS (SELECT FROM app.mechanics m WHERE m.user_id = v_id) THEN
    PERFORM app_private.raise_error(404, 'mechanic_not_found', 'Mechanic not found', jsonb_build_object('mechanic_id', v_id));
  END IF;
  RETURN v_id;
END
$$;

-- api.set_availability_blocks(mechanic?, blocks): replace an independent mechanic's weekly blocks.
-- p_blocks: JSON array of {"day_of_week": 0-6, "start_time": "09:00", "end_time": "17:00"} (local
-- times in the mechanic's zone; end <= start ends next day); [] = no hours defined (default window).
-- The mechanic themselves (p_mechanic_id NULL) or an admin. Returns the number of blocks.
-- Shrinking the hours under booked sessions is refused (the deferred trigger
-- blocks_keep_bookings_inside_hours checks the final set of blocks; this function asks for that check
-- before it returns). Raises 403 forbidden, 404 mechanic_not_found, 409 workshop_mechanic,
-- 409 hours_conflict (detail.sessions), 422 invalid_value/missing_field.
CREATE OR REPLACE FUNCTION api.set_availability_blocks(p_mechanic_id uuid, p_blocks jsonb) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_mechanic(p_mechanic_id);
  v_block jsonb;
  v_count int := 0;
BEGIN
  PERFORM app_private.lock_mechanic_time(v_id);   -- first: see "Who may change a mechanic's time"
  IF (SELECT m.workshop_id FROM app.mechanics m WHERE m.user_id = v_id) IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'workshop_mechanic', 'Workshop mechanics follow the workshop''s hours',
      jsonb_build_object('mechanic_id', v_id));
  END IF;
  IF p_blocks IS NULL OR jsonb_typeof(p_blocks) <> 'array' THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'blocks must be a JSON array', '{"field": "blocks"}');
  END IF;
  DELETE FROM app.mechanic_availability_blocks b WHERE b.mechanic_id = v_id;
  FOR v_block IN SELECT * FROM jsonb_array_elements(p_blocks) LOOP
    IF jsonb_typeof(v_block) <> 'object' OR jsonb_typeof(v_block -> 'day_of_week') <> 'number'
       OR (v_block ->> 'day_of_week')::numeric NOT IN (0, 1, 2, 3, 4, 5, 6) THEN
      PERFORM app_private.raise_error(422, 'invalid_value', 'Each block needs day_of_week 0-6 (0 = Sunday)',
        jsonb_build_object('field', 'blocks', 'value', v_block));
    END IF;
    INSERT INTO app.mechanic_availability_blocks (mechanic_id, day_of_week, start_time, end_time)
    VALUES (v_id, (v_block ->> 'day_of_week')::int, app_private.parse_time(v_block ->> 'start_time', 'start_time'),
            app_private.parse_time(v_block ->> 'end_time', 'end_time'))
    ON CONFLICT (mechanic_id, day_of_week, start_time) DO UPDATE SET end_time = excluded.end_time;
    v_count := v_count + 1;
  END LOOP;
  -- run the deferred hours check now, on the final blocks, so a conflict is this call's 409
  SET CONSTRAINTS app.blocks_keep_bookings_inside_hours IMMEDIATE;
  SET CONSTRAINTS app.blocks_keep_bookings_inside_hours DEFERRED;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.set_availability_blocks(uuid, jsonb) IS
'Replace an independent mechanic''s weekly availability blocks: p_blocks = [{"day_of_week":0-6 (0=Sunday),"start_time":"09:00","end_time":"17:00"}, ...] in the mechanic''s zone (end <= start ends next day; [] = default 09:00-18:00 daily). Refused when booked sessions (not yet over) would fall outside the new hours. The mechanic (p_mechanic_id NULL) or an admin. Returns blocks written. Raises 403 forbidden, 404 mechanic_not_found, 409 workshop_mechanic, 409 hours_conflict (detail.sessions), 422 invalid_value/missing_field.';
GRANT EXECUTE ON FUNCTION api.set_availability_blocks(uuid, jsonb) TO autodoc_mechanic, autodoc_admin;

-- api.add_time_off(start, end, reason?, mechanic?): time off for the mechanic (themselves, or an
-- admin naming one). Refuses to overlap booked sessions or live holds (cancel or move them first):
-- the trigger mechanic_time_off_keeps_bookings takes the mechanic's lock and checks, for this
-- function and for direct INSERTs alike. Returns the time-off id. Raises 403 forbidden,
-- 404 mechanic_not_found, 409 time_off_conflicts (detail: the sessions), 422 missing_field/
-- invalid_range/past_time.
CREATE OR REPLACE FUNCTION api.add_time_off(p_start_date timestamptz, p_end_date timestamptz, p_reason text DEFAULT NULL,
  p_mechanic_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_mechanic(p_mechanic_id);
  v_time_off uuid;
BEGIN
  IF p_start_date IS NULL OR p_end_date IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'start_date and end_date are required',
      jsonb_build_object('field', CASE WHEN p_start_date IS NULL THEN 'start_date' ELSE 'end_date' END));
  END IF;
  IF p_end_date <= p_start_date THEN
    PERFORM app_private.raise_error(422, 'invalid_range', 'end_date must be after start_date',
      jsonb_build_object('start_date', p_start_date, 'end_date', p_end_date));
  END IF;
  IF p_end_date <= app_private.now() THEN
    PERFORM app_private.raise_error(422, 'past_time', 'Cannot schedule in the past', '{"field": "end_date"}');
  END IF;
  PERFORM app_private.lock_mechanic_time(v_id);   -- the trigger locks again (free) and checks
  INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date, reason)
  VALUES (v_id, p_start_date, p_end_date, p_reason)
  RETURNING id INTO v_time_off;
  RETURN v_time_off;
END
$$;
COMMENT ON FUNCTION api.add_time_off(timestamptz, timestamptz, text, uuid) IS
'Add time off [p_start_date, p_end_date) for the calling mechanic (admins: p_mechanic_id). Refuses to overlap booked sessions or live slot holds. Returns the id. Raises 403 forbidden, 404 mechanic_not_found, 409 time_off_conflicts (detail.sessions), 422 missing_field/invalid_range/past_time.';
GRANT EXECUTE ON FUNCTION api.add_time_off(timestamptz, timestamptz, text, uuid) TO autodoc_mechanic, autodoc_admin;

-- api.remove_time_off(id): delete one time-off entry of the calling mechanic (or any, for admins).
-- Raises 404 time_off_not_found.
CREATE OR REPLACE FUNCTION api.remove_time_off(p_time_off_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.require_role('mechanic', 'admin');
  DELETE FROM app.mechanic_time_off t
  WHERE t.id = p_time_off_id AND (t.mechanic_id = app_private.current_user_id() OR app_private.is_admin());
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'time_off_not_found', 'Time off not found', jsonb_build_object('id', p_time_off_id));
  END IF;
  RETURN true;
END
$$;
COMMENT ON FUNCTION api.remove_time_off(uuid) IS
'Delete a time-off entry (the mechanic''s own; admins any). Raises 403 forbidden, 404 time_off_not_found.';
GRANT EXECUTE ON FUNCTION api.remove_time_off(uuid) TO autodoc_mechanic, autodoc_admin;

-- api.my_time_off(): the calling mechanic's current and future time off (admins: everyone's).
-- SECURITY INVOKER (RLS).
CREATE OR REPLACE FUNCTION api.my_time_off()
RETURNS TABLE (id uuid, mechanic_id uuid, start_date timestamptz, end_date timestamptz, reason text)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT t.id, t.mechanic_id, t.start_date, t.end_date, t.reason
  FROM app.mechanic_time_off t
  WHERE t.end_date > app_private.now()
  ORDER BY t.start_date
$$;
COMMENT ON FUNCTION api.my_time_off() IS
'Current and future time off the caller may see (mechanic: own; admin: all), soonest first.';
GRANT EXECUTE ON FUNCTION api.my_time_off() TO autodoc_mechanic, autodoc_admin;

-- api.set_shift(on_shift, mechanic?): go on or off shift (currently_on_shift, the online flag). The
-- mechanic themselves or an admin. Going off shift removes the mechanic's time for immediate
-- sessions, so it takes the mechanic's lock and is refused while the mechanic has an immediate
-- session that is pending, waiting or active (finish it or cancel it first). Accepting an offer takes
-- the same lock, so the two are decided one after the other.
-- Returns {mechanic_id, currently_on_shift, shift_changed_at, changed}. Raises 403 forbidden,
-- 404 mechanic_not_found, 409 sessions_in_progress (detail.sessions), 422 missing_field.
CREATE OR REPLACE FUNCTION api.set_shift(p_on_shift boolean, p_mechanic_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_mechanic(p_mechanic_id);
  v_m app.mechanics;
  v_changed boolean;
BEGIN
  IF p_on_shift IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'on_shift is required', '{"field": "on_shift"}');
  END IF;
  PERFORM app_private.lock_mechanic_time(v_id);
  SELECT * INTO v_m FROM app.mechanics m WHERE m.user_id = v_id FOR NO KEY UPDATE;
  v_changed := v_m.currently_on_shift IS DISTINCT FROM p_on_shift;
  -- going off shift with an immediate session in progress: refused by the mechanics trigger
  -- (mechanics_leave_shift_keeps_sessions, db/triggers/10_mechanic_time.sql), the one check every writer passes
  IF v_changed THEN
    UPDATE app.mechanics m SET currently_on_shift = p_on_shift, shift_changed_at = app_private.now()
    WHERE m.user_id = v_id
    RETURNING * INTO v_m;
  END IF;
  RETURN jsonb_build_object('mechanic_id', v_m.user_id, 'currently_on_shift', v_m.currently_on_shift,
                            'shift_changed_at', v_m.shift_changed_at, 'changed', v_changed);
END
$$;
COMMENT ON FUNCTION api.set_shift(boolean, uuid) IS
'Go on (true) or off (false) shift: sets currently_on_shift, the one online flag. Going off shift is refused while the mechanic has an immediate session pending, waiting or active. The mechanic (p_mechanic_id NULL) or an admin. Returns {mechanic_id, currently_on_shift, shift_changed_at, changed}. Raises 403 forbidden, 404 mechanic_not_found, 409 sessions_in_progress (detail.sessions), 422 missing_field.';
GRANT EXECUTE ON FUNCTION api.set_shift(boolean, uuid) TO autodoc_mechanic, autodoc_admin;


-- directory_search_query(text): what a client types, as a tsquery over
-- app_private.mechanic_search_document: every word must match, each stemmed with the english
-- configuration and matched as a prefix ("German" finds "German cars", "brak" finds "brakes",
-- "Mar" finds "Marie"). Only letters and digits are kept, so no input is a tsquery syntax error.
-- NULL when nothing searchable is left. Owner only (api.list_mechanics runs as the owner).
CREATE OR REPLACE FUNCTION app_private.directory_search_query(p_search text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
  SELECT pg_catalog.to_tsquery('english'::regconfig, string_agg(w || ':*', ' & '))
  FROM regexp_split_to_table(lower(coalesce(p_search, '')), '[^[:alnum:]]+') w
  WHERE w <> ''
$$;


-- api.list_mechanics(tab?, online?, make?, country?, province?, city?, postal_code?, search?, limit?, offset?):
-- the public mechanic directory: anyone may read it, a visitor without a token (anon) too.
-- SECURITY DEFINER, like the availability functions anon calls, so anon holds no privilege on any
-- table: it reads only the directory's public columns (no email: that lives in app.users) of
-- active mechanics, and favorites only of the calling customer. tab 'all' | 'brand_specialist'
-- (lists a brand-specialist brand; with p_make: that brand) | 'favorites' (the calling customer's;
-- empty for anyone else). p_online: NULL both, true on shift
-- only, false offline only. p_search: full text over name, specialties, brands and bio (see
-- directory_search_query). Favorites first, then online first, then rating. Location filters are
-- case-insensitive equality (postal code: prefix). Raises 422 invalid_value.
CREATE OR REPLACE FUNCTION api.list_mechanics(p_tab text DEFAULT 'all', p_online boolean DEFAULT NULL,
  p_make text DEFAULT NULL, p_country text DEFAULT NULL, p_state_province text DEFAULT NULL, p_city text DEFAULT NULL,
  p_postal_code text DEFAULT NULL, p_search text DEFAULT NULL, p_limit int DEFAULT 50, p_offset int DEFAULT 0)
RETURNS TABLE (mechanic_id uuid, display_name text, currently_on_shift boolean, is_favorite boolean,
               is_brand_specialist boolean, rating numeric, rating_count int, specialties text[],
               brand_specialist_brands text[], years_of_experience int, certifications text[], bio text,
               workshop_id uuid, workshop_name text, supports_in_person boolean, timezone text,
               country text, state_province text, city text, postal_code text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  -- favorites are a customer's own; every other caller (anon included) has none
  v_customer uuid := CASE WHEN app_private.current_app_role() = 'customer' THEN app_private.current_user_id() END;
  v_query tsquery := app_private.directory_search_query(p_search);
BEGIN
  PERFORM app_private.require_choice(p_tab, 'tab', ARRAY['all', 'brand_specialist', 'favorites']);
  RETURN QUERY
  SELECT m.user_id, m.display_name, m.currently_on_shift, f.mechanic_id IS NOT NULL,
         cardinality(m.brand_specialist_brands) > 0, m.rating, m.rating_count, m.specialties,
         m.brand_specialist_brands, m.years_of_experience, m.certifications, m.bio,
         w.id, w.name, w.id IS NOT NULL, coalesce(w.timezone, m.timezone),
         m.country, m.state_province, m.city, m.postal_code
  FROM app.mechanics m
  LEFT JOIN app.workshops w ON w.id = m.workshop_id
  LEFT JOIN app.favorites f ON f.mechanic_id = m.user_id AND f.customer_id = v_customer
  WHERE m.is_active
    AND (p_online IS NULL OR m.currently_on_shift = p_online)
    AND (p_tab <> 'favorites' OR f.mechanic_id IS NOT NULL)
    AND (p_tab <> 'brand_specialist' OR cardinality(m.brand_specialist_brands) > 0)
    AND (p_make IS NULL OR p_tab <> 'brand_specialist'
         OR lower(p_make) = ANY (SELECT lower(b) FROM unnest(m.brand_specialist_brands) b))
    AND (p_country IS NULL OR lower(m.country) = lower(p_country))
    AND (p_state_province IS NULL OR lower(m.state_province) = lower(p_state_province))
    AND (p_city IS NULL OR lower(m.city) = lower(p_city))
    AND (p_postal_code IS NULL OR upper(replace(m.postal_code, ' ', '')) LIKE upper(replace(p_postal_code, ' ', '')) || '%')
    -- the expression of the GIN index mechanics_search_idx (migration 0011)
    AND (p_search IS NULL OR app_private.mechanic_search_document(m.display_name, m.bio, m.specialties,
                                                                  m.brand_specialist_brands) @@ v_query)
  ORDER BY f.mechanic_id IS NOT NULL DESC, m.currently_on_shift DESC, m.rating DESC, m.display_name, m.user_id
  LIMIT greatest(coalesce(p_limit, 50), 0) OFFSET greatest(coalesce(p_offset, 0), 0);
END
$$;
COMMENT ON FUNCTION api.list_mechanics(text, boolean, text, text, text, text, text, text, int, int) IS
'Public mechanic directory (no personal data): p_tab all | brand_specialist (optionally for p_make) | favorites (the calling customer''s); p_online NULL = both, true = on shift, false = offline; location filters (postal code by prefix); p_search = full text over name, specialties, brands and bio (english stemming, every word as a prefix); favorites first, then online, then rating. Any role, anon included. Raises 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.list_mechanics(text, boolean, text, text, text, text, text, text, int, int)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.list_available_mechanics(make?, country?, province?, city?, postal_code?, limit?): the mechanics
-- on shift right now (currently_on_shift), favorites first. Same columns as api.list_mechanics.
CREATE OR REPLACE FUNCTION api.list_available_mechanics(p_make text DEFAULT NULL, p_country text DEFAULT NULL,
  p_state_province text DEFAULT NULL, p_city text DEFAULT NULL, p_postal_code text DEFAULT NULL, p_limit int DEFAULT 50)
RETURNS TABLE (mechanic_id uuid, display_name text, currently_on_shift boolean, is_favorite boolean,
               is_brand_specialist boolean, rating numeric, rating_count int, specialties text[],
               brand_specialist_brands text[], years_of_experience int, certifications text[], bio text,
               workshop_id uuid, workshop_name text, supports_in_person boolean, timezone text,
               country text, state_province text, city text, postal_code text)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT * FROM api.list_mechanics(CASE WHEN p_make IS NULL THEN 'all' ELSE 'brand_specialist' END, true, p_make,
                                   p_country, p_state_province, p_city, p_postal_code, NULL, p_limit, 0)
$$;
COMMENT ON FUNCTION api.list_available_mechanics(text, text, text, text, text, int) IS
'Mechanics on shift now (currently_on_shift), favorites first; p_make restricts to brand specialists of that make. Any role, anon included.';
GRANT EXECUTE ON FUNCTION api.list_available_mechanics(text, text, text, text, text, int)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

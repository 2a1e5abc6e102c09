-- Onboarding and self-service: workshops with hours, mechanics, customers, weekly availability
-- blocks, time off, shift on/off (admins and mechanics); vehicles and favorites (customers).
-- Admin functions are SECURITY DEFINER and check the caller; vehicle/favorite functions are
-- SECURITY INVOKER: grants and row-level security decide (a customer can only touch their own rows).

-- require_role(roles): raises 403 forbidden unless the caller's application role is one of them.
CREATE OR REPLACE FUNCTION app_private.require_role(VARIADIC p_roles text[]) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  IF NOT app_private.current_app_role() = ANY (p_roles) THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'You are not allowed to do this',
      jsonb_build_object('required_role', to_jsonb(p_roles)));
  END IF;
END
$$;

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

-- parse_time(text, field): a local wall-clock time from JSON text; raises 422 invalid_value.
CREATE OR REPLACE FUNCTION app_private.parse_time(p_value text, p_field text) RETURNS time
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
  IF p_value IS NULL OR p_value !~ '^\d{1,2}:\d{2}(:\d{2})?$' THEN
    PERFORM app_private.raise_error(422, 'invalid_value', format('%s must be a time like "09:00"', p_field),
      jsonb_build_object('field', p_field, 'value', p_value));
  END IF;
  RETURN p_value::time;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
  PERFORM app_private.raise_error(422, 'invalid_value', format('%s must be a time like "09:00"', p_field),
    jsonb_build_object('field', p_field, 'value', p_value));
  RETURN NULL;
END
$$;

-- require_timezone(zone): raises 422 invalid_timezone (or missing_field) unless an IANA zone.
CREATE OR REPLACE FUNCTION app_private.require_timezone(p_zone text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  IF p_zone IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'timezone is required', '{"field": "timezone"}');
  -- 'localtime' means the server's own zone and posix/ right/ are aliases with other leap-second
  -- rules: a booking's wall-clock hours must not depend on how the server is set up.
  ELSIF NOT app_private.is_valid_timezone(p_zone) OR p_zone = 'localtime' OR p_zone ~ '^(posix|right)/' THEN
    PERFORM app_private.raise_error(422, 'invalid_timezone', format('Unknown time zone "%s"', p_zone),
      jsonb_build_object('field', 'timezone', 'value', p_zone));
  END IF;
END
$$;

-- api.set_workshop_hours(workshop, hours): replace a workshop's weekly hours. p_hours is a JSON array
-- of {"day_of_week": 0-6 (0 = Sunday), "is_open": bool (default true), "open_time": "09:00",
-- "close_time": "18:00"} (close <= open: closes the next day). Days not listed are closed; an
-- empty array means "no hours defined" (default window 09:00-18:00 every day). Admin.
-- Returns the number of days written. Raises 403 forbidden, 404 workshop_not_found,
-- 422 invalid_value / invalid_hours.
CREATE OR REPLACE FUNCTION api.set_workshop_hours(p_workshop_id uuid, p_hours jsonb) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_day jsonb;
  v_dow int;
  v_open boolean;
  v_count int := 0;
BEGIN
  PERFORM app_private.require_role('admin');
  PERFORM 1 FROM app.workshops w WHERE w.id = p_workshop_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'workshop_not_found', 'Workshop not found', jsonb_build_object('workshop_id', p_workshop_id));
  END IF;
  IF p_hours IS NULL OR jsonb_typeof(p_hours) <> 'array' THEN
    PERFORM app_private.raise_error(422, 'invalid_hours', 'hours must be a JSON array of days', '{"field": "hours"}');
  END IF;
  DELETE FROM app.workshop_availability wa WHERE wa.workshop_id = p_workshop_id;
  FOR v_day IN SELECT * FROM jsonb_array_elements(p_hours) LOOP
    IF jsonb_typeof(v_day) <> 'object' OR jsonb_typeof(v_day -> 'day_of_week') <> 'number'
       OR (v_day ->> 'day_of_week')::numeric NOT IN (0, 1, 2, 3, 4, 5, 6) THEN
      PERFORM app_private.raise_error(422, 'invalid_hours', 'Each day needs day_of_week 0-6 (0 = Sunday)',
        jsonb_build_object('field', 'hours', 'value', v_day));
    END IF;
    v_dow := (v_day ->> 'day_of_week')::int;
    v_open := coalesce((v_day ->> 'is_open')::boolean, true);
    IF EXISTS (SELECT FROM app.workshop_availability wa WHERE wa.workshop_id = p_workshop_id AND wa.day_of_week = v_dow) THEN
      PERFORM app_private.raise_error(422, 'invalid_hours', format('day_of_week %s is listed twice', v_dow),
        jsonb_build_object('field', 'hours', 'day_of_week', v_dow));
    END IF;
    INSERT INTO app.workshop_availability (workshop_id, day_of_week, is_open, open_time, close_time)
    VALUES (p_workshop_id, v_dow, v_open,
            CASE WHEN v_open THEN app_private.parse_time(v_day ->> 'open_time', 'open_time') END,
            CASE WHEN v_open THEN app_private.parse_time(v_day ->> 'close_time', 'close_time') END);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.set_workshop_hours(uuid, jsonb) IS
'Admin: replace a workshop''s weekly hours with p_hours = [{"day_of_week":0-6 (0=Sunday),"is_open":true,"open_time":"09:00","close_time":"18:00"}, ...] (local times in the workshop''s zone; close <= open closes next day; unlisted days closed; [] = default 09:00-18:00 daily). Returns days written. Raises 403 forbidden, 404 workshop_not_found, 422 invalid_hours/invalid_value.';
GRANT EXECUTE ON FUNCTION api.set_workshop_hours(uuid, jsonb) TO autodoc_admin;

-- api.create_workshop(name, timezone, hours?, address..., id?): a workshop and its weekly hours
-- (see api.set_workshop_hours; NULL = no hours defined = default window). Admin. Returns its id.
-- Raises 403 forbidden, 409 conflict (id taken), 422 missing_field/invalid_timezone/invalid_hours.
CREATE OR REPLACE FUNCTION api.create_workshop(p_name text, p_timezone text, p_hours jsonb DEFAULT NULL,
  p_address_line1 text DEFAULT NULL, p_address_line2 text DEFAULT NULL, p_city text DEFAULT NULL,
  p_state_province text DEFAULT NULL, p_postal_code text DEFAULT NULL, p_country text DEFAULT NULL,
  p_phone text DEFAULT NULL, p_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid;
BEGIN
  PERFORM app_private.require_role('admin');
  IF p_name IS NULL OR btrim(p_name) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'name is required', '{"field": "name"}');
  END IF;
  PERFORM app_private.require_timezone(p_timezone);
  IF p_id IS NOT NULL AND EXISTS (SELECT FROM app.workshops w WHERE w.id = p_id) THEN
    PERFORM app_private.raise_error(409, 'conflict', 'A workshop with that id exists', jsonb_build_object('id', p_id));
  END IF;
  INSERT INTO app.workshops (id, name, timezone, address_line1, address_line2, city, state_province, postal_code,
                             country, phone)
  VALUES (coalesce(p_id, gen_random_uuid()), btrim(p_name), p_timezone, p_address_line1, p_address_line2, p_city,
          p_state_province, p_postal_code, p_country, p_phone)
  RETURNING id INTO v_id;
  IF p_hours IS NOT NULL THEN
    PERFORM api.set_workshop_hours(v_id, p_hours);
  END IF;
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION api.create_workshop(text, text, jsonb, text, text, text, text, text, text, text, uuid) IS
'Admin: create a workshop (IANA p_timezone) with optional weekly hours p_hours (format of api.set_workshop_hours). Returns the id. Raises 403 forbidden, 409 conflict, 422 missing_field/invalid_timezone/invalid_hours.';
GRANT EXECUTE ON FUNCTION api.create_workshop(text, text, jsonb, text, text, text, text, text, text, text, uuid) TO autodoc_admin;

-- create_user(id?, email, full name, role): the identity row; 409 email_taken, 422 missing_field.
CREATE OR REPLACE FUNCTION app_private.create_user(p_id uuid, p_email text, p_full_name text, p_role text) RETURNS uuid
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_id uuid;
BEGIN
  IF p_email IS NULL OR btrim(p_email) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'email is required', '{"field": "email"}');
  END IF;
  IF p_full_name IS NULL OR btrim(p_full_name) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'full_name is required', '{"field": "full_name"}');
  END IF;
  IF EXISTS (SELECT FROM app.users u WHERE lower(u.email) = lower(btrim(p_email)) OR u.id = p_id) THEN
    PERFORM app_private.raise_error(409, 'email_taken', 'A user with that email (or id) exists',
      jsonb_build_object('email', p_email));
  END IF;
  INSERT INTO app.users (id, email, full_name, role)
  VALUES (coalesce(p_id, gen_random_uuid()), btrim(p_email), btrim(p_full_name), p_role)
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

-- api.create_mechanic(email, full_name, workshop?, timezone?, profile..., user_id?): a mechanic user
-- and profile. Workshop mechanics use the workshop's zone and hours; independents need p_timezone
-- and use their weekly blocks (api.set_availability_blocks; none = default window). Admin.
-- Returns the user id. Raises 403 forbidden, 404 workshop_not_found, 409 email_taken,
-- 422 missing_field/invalid_timezone, 23514 (rating outside 0-5).
CREATE OR REPLACE FUNCTION api.create_mechanic(p_email text, p_full_name text, p_workshop_id uuid DEFAULT NULL,
  p_timezone text DEFAULT NULL, p_specialties text[] DEFAULT '{}', p_brand_specialist_brands text[] DEFAULT '{}',
  p_years_of_experience int DEFAULT 0, p_certifications text[] DEFAULT '{}', p_rating numeric DEFAULT 0,
  p_bio text DEFAULT NULL, p_country text DEFAULT NULL, p_state_province text DEFAULT NULL, p_city text DEFAULT NULL,
  p_postal_code text DEFAULT NULL, p_user_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_zone text := p_timezone;
  v_id uuid;
BEGIN
  PERFORM app_private.require_role('admin');
  IF p_workshop_id IS NOT NULL THEN
    SELECT w.timezone INTO v_zone FROM app.workshops w WHERE w.id = p_workshop_id;
    IF NOT FOUND THEN
      PERFORM app_private.raise_error(404, 'workshop_not_found', 'Workshop not found',
        jsonb_build_object('workshop_id', p_workshop_id));
    END IF;
  ELSE
    PERFORM app_private.require_timezone(p_timezone);
  END IF;
  v_id := app_private.create_user(p_user_id, p_email, p_full_name, 'mechanic');
  INSERT INTO app.mechanics (user_id, display_name, workshop_id, timezone, specialties, brand_specialist_brands,
                             years_of_experience, certifications, rating, bio, country, state_province, city,
                             postal_code)
  VALUES (v_id, btrim(p_full_name), p_workshop_id, v_zone, coalesce(p_specialties, '{}'),
          coalesce(p_brand_specialist_brands, '{}'), coalesce(p_years_of_experience, 0),
          coalesce(p_certifications, '{}'), coalesce(p_rating, 0), p_bio, p_country, p_state_province, p_city,
          p_postal_code);
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION api.create_mechanic(text, text, uuid, text, text[], text[], int, text[], numeric, text, text, text, text, text, uuid) IS
'Admin: create a mechanic (user + profile). With p_workshop_id the workshop''s zone and hours apply; otherwise p_timezone (IANA) is required and weekly blocks apply. Returns the user id. Raises 403 forbidden, 404 workshop_not_found, 409 email_taken, 422 missing_field/invalid_timezone.';
GRANT EXECUTE ON FUNCTION api.create_mechanic(text, text, uuid, text, text[], text[], int, text[], numeric, text, text, text, text, text, uuid) TO autodoc_admin;

-- api.create_customer(email, full_name, location..., user_id?): a customer user and profile. Admin.
-- Returns the user id. Raises 403 forbidden, 409 email_taken, 422 missing_field.
CREATE OR REPLACE FUNCTION api.create_customer(p_email text, p_full_name text, p_country text DEFAULT NULL,
  p_state_province text DEFAULT NULL, p_city text DEFAULT NULL, p_postal_code text DEFAULT NULL,
  p_phone text DEFAULT NULL, p_user_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid;
BEGIN
  PERFORM app_private.require_role('admin');
  v_id := app_private.create_user(p_user_id, p_email, p_full_name, 'customer');
  INSERT INTO app.customers (user_id, country, state_province, city, postal_code, phone)
  VALUES (v_id, p_country, p_state_province, p_city, p_postal_code, p_phone);
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION api.create_customer(text, text, text, text, text, text, text, uuid) IS
'Admin: create a customer (user + profile with location). Returns the user id. Raises 403 forbidden, 409 email_taken, 422 missing_field.';
GRANT EXECUTE ON FUNCTION api.create_customer(text, text, text, text, text, text, text, uuid) TO autodoc_admin;

-- api.set_availability_blocks(mechanic?, blocks): replace an independent mechanic's weekly blocks.
-- p_blocks: JSON array of {"day_of_week": 0-6, "start_time": "09:00", "end_time": "17:00"} (local
-- times in the mechanic's zone; end <= start ends next day); [] = no hours defined (default window).
-- The mechanic themselves (p_mechanic_id NULL) or an admin. Returns the number of blocks.
-- Raises 403 forbidden, 404 mechanic_not_found, 409 workshop_mechanic, 422 invalid_value/missing_field.
CREATE OR REPLACE FUNCTION api.set_availability_blocks(p_mechanic_id uuid, p_blocks jsonb) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_mechanic(p_mechanic_id);
  v_block jsonb;
  v_count int := 0;
BEGIN
  IF (SELECT m.workshop_id FROM app.mechanics m WHERE m.user_id = v_id FOR UPDATE) IS NOT NULL THEN
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
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.set_availability_blocks(uuid, jsonb) IS
'Replace an independent mechanic''s weekly availability blocks: p_blocks = [{"day_of_week":0-6 (0=Sunday),"start_time":"09:00","end_time":"17:00"}, ...] in the mechanic''s zone (end <= start ends next day; [] = default 09:00-18:00 daily). The mechanic (p_mechanic_id NULL) or an admin. Returns blocks written. Raises 403 forbidden, 404 mechanic_not_found, 409 workshop_mechanic, 422 invalid_value/missing_field.';
GRANT EXECUTE ON FUNCTION api.set_availability_blocks(uuid, jsonb) TO autodoc_mechanic, autodoc_admin;

-- api.add_time_off(start, end, reason?, mechanic?, now?): time off for the mechanic (themselves, or an
-- admin naming one). Refuses to overlap booked sessions (cancel or move them first).
-- Returns the time-off id. Raises 403 forbidden, 404 mechanic_not_found, 409 time_off_conflicts
-- (detail: the sessions), 422 missing_field/invalid_range/past_time.
CREATE OR REPLACE FUNCTION api.add_time_off(p_start_date timestamptz, p_end_date timestamptz, p_reason text DEFAULT NULL,
  p_mechanic_id uuid DEFAULT NULL, p_now timestamptz DEFAULT now())
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_mechanic(p_mechanic_id);
  v_conflicts jsonb;
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
  IF p_end_date <= p_now THEN
    PERFORM app_private.raise_error(422, 'past_time', 'Cannot schedule in the past', '{"field": "end_date"}');
  END IF;
  PERFORM 1 FROM app.mechanics m WHERE m.user_id = v_id FOR NO KEY UPDATE;
  SELECT jsonb_agg(jsonb_build_object('session_id', s.id, 'starts_at', lower(s.period), 'ends_at', s.ends_at,
                                      'status', s.status) ORDER BY lower(s.period))
  INTO v_conflicts
  FROM app.sessions s
  WHERE s.mechanic_id = v_id AND s.status IN ('held', 'scheduled', 'pending', 'waiting', 'active')
    AND s.period && tstzrange(p_start_date, p_end_date, '[)')
    AND NOT (s.status = 'held' AND s.hold_expires_at <= p_now);
  IF v_conflicts IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'time_off_conflicts', 'The time off overlaps booked sessions',
      jsonb_build_object('sessions', v_conflicts));
  END IF;
  INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date, reason)
  VALUES (v_id, p_start_date, p_end_date, p_reason)
  RETURNING id INTO v_time_off;
  RETURN v_time_off;
END
$$;
COMMENT ON FUNCTION api.add_time_off(timestamptz, timestamptz, text, uuid, timestamptz) IS
'Add time off [p_start_date, p_end_date) for the calling mechanic (admins: p_mechanic_id). Refuses to overlap booked sessions. Returns the id. Raises 403 forbidden, 404 mechanic_not_found, 409 time_off_conflicts (detail.sessions), 422 missing_field/invalid_range/past_time.';
GRANT EXECUTE ON FUNCTION api.add_time_off(timestamptz, timestamptz, text, uuid, timestamptz) TO autodoc_mechanic, autodoc_admin;

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

-- api.my_time_off(now?): the calling mechanic's current and future time off (admins: everyone's).
-- SECURITY INVOKER (RLS).
CREATE OR REPLACE FUNCTION api.my_time_off(p_now timestamptz DEFAULT now())
RETURNS TABLE (id uuid, mechanic_id uuid, start_date timestamptz, end_date timestamptz, reason text)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT t.id, t.mechanic_id, t.start_date, t.end_date, t.reason
  FROM app.mechanic_time_off t
  WHERE t.end_date > p_now
  ORDER BY t.start_date
$$;
COMMENT ON FUNCTION api.my_time_off(timestamptz) IS
'Current and future time off the caller may see (mechanic: own; admin: all), soonest first.';
GRANT EXECUTE ON FUNCTION api.my_time_off(timestamptz) TO autodoc_mechanic, autodoc_admin;

-- api.set_shift(on_shift, mechanic?, now?): go on or off shift (currently_on_shift, the online
-- flag). The mechanic themselves or an admin. Returns {mechanic_id, currently_on_shift,
-- shift_changed_at, changed}. Raises 403 forbidden, 404 mechanic_not_found, 422 missing_field.
CREATE OR REPLACE FUNCTION api.set_shift(p_on_shift boolean, p_mechanic_id uuid DEFAULT NULL,
                                         p_now timestamptz DEFAULT now())
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
  SELECT * INTO v_m FROM app.mechanics m WHERE m.user_id = v_id FOR NO KEY UPDATE;
  v_changed := v_m.currently_on_shift IS DISTINCT FROM p_on_shift;
  IF v_changed THEN
    UPDATE app.mechanics m SET currently_on_shift = p_on_shift, shift_changed_at = p_now
    WHERE m.user_id = v_id
    RETURNING * INTO v_m;
  END IF;
  RETURN jsonb_build_object('mechanic_id', v_m.user_id, 'currently_on_shift', v_m.currently_on_shift,
                            'shift_changed_at', v_m.shift_changed_at, 'changed', v_changed);
END
$$;
COMMENT ON FUNCTION api.set_shift(boolean, uuid, timestamptz) IS
'Go on (true) or off (false) shift: sets currently_on_shift, the one online flag. The mechanic (p_mechanic_id NULL) or an admin. Returns {mechanic_id, currently_on_shift, shift_changed_at, changed}. Raises 403 forbidden, 404 mechanic_not_found, 422 missing_field.';
GRANT EXECUTE ON FUNCTION api.set_shift(boolean, uuid, timestamptz) TO autodoc_mechanic, autodoc_admin;

------------------------------------------------------------------------------------------------
-- Customers: vehicles and favorites (SECURITY INVOKER; grants + RLS decide)
------------------------------------------------------------------------------------------------

-- api.add_vehicle(make, model, year?, vin?, odometer?, license_plate?, customer?): a vehicle of the
-- calling customer (admins: p_customer_id). Returns its id. Raises 42501 (not yours / not a
-- customer), 422 missing_field, 23514 (year/VIN/odometer format).
CREATE OR REPLACE FUNCTION api.add_vehicle(p_make text, p_model text, p_year int DEFAULT NULL, p_vin text DEFAULT NULL,
  p_odometer int DEFAULT NULL, p_license_plate text DEFAULT NULL, p_customer_id uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_id uuid;
BEGIN
  IF p_make IS NULL OR btrim(p_make) = '' OR p_model IS NULL OR btrim(p_model) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'make and model are required',
      jsonb_build_object('field', CASE WHEN p_make IS NULL OR btrim(p_make) = '' THEN 'make' ELSE 'model' END));
  END IF;
  IF p_customer_id IS NULL AND app_private.current_app_role() = 'admin' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'customer_id is required', '{"field": "customer_id"}');
  END IF;
  INSERT INTO app.vehicles (customer_id, make, model, year, vin, odometer, license_plate)
  VALUES (coalesce(p_customer_id, app_private.current_user_id()), btrim(p_make), btrim(p_model), p_year,
          upper(nullif(btrim(p_vin), '')), p_odometer, nullif(btrim(p_license_plate), ''))
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION api.add_vehicle(text, text, int, text, int, text, uuid) IS
'Add a vehicle for the calling customer (admins: p_customer_id, required). Returns the id. RLS: only your own. Raises 42501, 422 missing_field, 23514 (year 1900-2100, VIN 11-17 chars without I/O/Q, odometer >= 0).';
GRANT EXECUTE ON FUNCTION api.add_vehicle(text, text, int, text, int, text, uuid) TO autodoc_customer, autodoc_admin;

-- api.update_vehicle(vehicle, make?, model?, year?, vin?, odometer?, license_plate?): change the given
-- fields (NULL = keep). Returns the vehicle as JSON. Raises 404 vehicle_not_found (also when not yours).
CREATE OR REPLACE FUNCTION api.update_vehicle(p_vehicle_id uuid, p_make text DEFAULT NULL, p_model text DEFAULT NULL,
  p_year int DEFAULT NULL, p_vin text DEFAULT NULL, p_odometer int DEFAULT NULL, p_license_plate text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v app.vehicles;
BEGIN
  UPDATE app.vehicles x
  SET make = coalesce(nullif(btrim(p_make), ''), x.make), model = coalesce(nullif(btrim(p_model), ''), x.model),
      year = coalesce(p_year, x.year), vin = coalesce(upper(nullif(btrim(p_vin), '')), x.vin),
      odometer = coalesce(p_odometer, x.odometer), license_plate = coalesce(nullif(btrim(p_license_plate), ''), x.license_plate)
  WHERE x.id = p_vehicle_id
  RETURNING * INTO v;
  IF v.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'vehicle_not_found', 'Vehicle not found', jsonb_build_object('vehicle_id', p_vehicle_id));
  END IF;
  RETURN to_jsonb(v);
END
$$;
COMMENT ON FUNCTION api.update_vehicle(uuid, text, text, int, text, int, text) IS
'Update your vehicle (NULL arguments keep the value). Returns the vehicle JSON. Raises 404 vehicle_not_found (also when not yours), 23514 on bad values.';
GRANT EXECUTE ON FUNCTION api.update_vehicle(uuid, text, text, int, text, int, text) TO autodoc_customer, autodoc_admin;

-- api.delete_vehicle(vehicle): remove your vehicle. Raises 404 vehicle_not_found,
-- 409 vehicle_in_use (sessions refer to it).
CREATE OR REPLACE FUNCTION api.delete_vehicle(p_vehicle_id uuid) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  DELETE FROM app.vehicles v WHERE v.id = p_vehicle_id;
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'vehicle_not_found', 'Vehicle not found', jsonb_build_object('vehicle_id', p_vehicle_id));
  END IF;
  RETURN true;
EXCEPTION WHEN foreign_key_violation THEN
  PERFORM app_private.raise_error(409, 'vehicle_in_use', 'Sessions refer to this vehicle',
    jsonb_build_object('vehicle_id', p_vehicle_id));
  RETURN false;
END
$$;
COMMENT ON FUNCTION api.delete_vehicle(uuid) IS
'Delete your vehicle. Raises 404 vehicle_not_found (also when not yours), 409 vehicle_in_use.';
GRANT EXECUTE ON FUNCTION api.delete_vehicle(uuid) TO autodoc_customer, autodoc_admin;

-- api.my_vehicles(): the caller's vehicles (RLS; admins see all), newest first.
CREATE OR REPLACE FUNCTION api.my_vehicles()
RETURNS TABLE (id uuid, customer_id uuid, year int, make text, model text, vin text, odometer int,
               license_plate text, created_at timestamptz)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT v.id, v.customer_id, v.year, v.make, v.model, v.vin, v.odometer, v.license_plate, v.created_at
  FROM app.vehicles v
  ORDER BY v.created_at DESC, v.id
$$;
COMMENT ON FUNCTION api.my_vehicles() IS 'The vehicles the caller may see (customer: own; admin: all), newest first.';
GRANT EXECUTE ON FUNCTION api.my_vehicles() TO autodoc_customer, autodoc_admin;

-- api.add_favorite(mechanic): mark a mechanic as a favorite of the calling customer. Returns true
-- when added, false when it already was. Raises 404 mechanic_not_found, 42501 for non-customers.
CREATE OR REPLACE FUNCTION api.add_favorite(p_mechanic_id uuid) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM app.mechanics m WHERE m.user_id = p_mechanic_id AND m.is_active) THEN
    PERFORM app_private.raise_error(404, 'mechanic_not_found', 'Mechanic not found',
      jsonb_build_object('mechanic_id', p_mechanic_id));
  END IF;
  INSERT INTO app.favorites (customer_id, mechanic_id)
  VALUES (app_private.current_user_id(), p_mechanic_id)
  ON CONFLICT (customer_id, mechanic_id) DO NOTHING;
  RETURN FOUND;
END
$$;
COMMENT ON FUNCTION api.add_favorite(uuid) IS
'Add a favorite mechanic for the calling customer. Returns true when added, false when already a favorite. Raises 404 mechanic_not_found, 42501 for non-customers.';
GRANT EXECUTE ON FUNCTION api.add_favorite(uuid) TO autodoc_customer;

-- api.remove_favorite(mechanic): returns true when removed, false when it was not a favorite.
CREATE OR REPLACE FUNCTION api.remove_favorite(p_mechanic_id uuid) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  DELETE FROM app.favorites f WHERE f.customer_id = app_private.current_user_id() AND f.mechanic_id = p_mechanic_id;
  RETURN FOUND;
END
$$;
COMMENT ON FUNCTION api.remove_favorite(uuid) IS
'Remove a favorite mechanic of the calling customer. Returns true when removed, false when it was not a favorite.';
GRANT EXECUTE ON FUNCTION api.remove_favorite(uuid) TO autodoc_customer;

-- Admin onboarding: workshops with their weekly hours, mechanics, customers. SECURITY DEFINER;
-- each function checks that the caller is an admin.

-- api.set_workshop_hours(workshop, hours): replace a workshop's weekly hours. p_hours is a JSON array
-- of {"day_of_week": 0-6 (0 = Sunday), "is_open": bool (default true), "open_time": "09:00",
-- "close_time": "18:00"} (close <= open: closes the next day). Days not listed are closed; an
-- empty array means "no hours defined" (default window 09:00-18:00 every day). Admin.
-- Takes the lock of every mechanic of the workshop first (one global order), and refuses hours that
-- would leave booked sessions outside (the deferred trigger workshop_hours_keep_bookings_inside
-- checks the final hours; this function asks for that check before it returns).
-- Returns the number of days written. Raises 403 forbidden, 404 workshop_not_found,
-- 409 hours_conflict (detail.sessions), 422 invalid_value / invalid_hours.
CREATE OR REPLACE FUNCTION api.set_workshop_hours(p_workshop_id uuid, p_hours jsonb) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_day jsonb;
  v_dow int;
  v_open boolean;
  v_count int := 0;
BEGIN
  PERFORM app_private.require_role('admin');
  PERFORM app_private.lock_mechanics_time(ARRAY(SELECT m.user_id FROM app.mechanics m WHERE m.workshop_id = p_workshop_id));
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
  -- run the deferred hours check now, on the final hours, so a conflict is this call's 409
  SET CONSTRAINTS app.workshop_hours_keep_bookings_inside IMMEDIATE;
  SET CONSTRAINTS app.workshop_hours_keep_bookings_inside DEFERRED;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.set_workshop_hours(uuid, jsonb) IS
'Admin: replace a workshop''s weekly hours with p_hours = [{"day_of_week":0-6 (0=Sunday),"is_open":true,"open_time":"09:00","close_time":"18:00"}, ...] (local times in the workshop''s zone; close <= open closes next day; unlisted days closed; [] = default 09:00-18:00 daily). Refused when booked sessions (not yet over) of the workshop''s mechanics would fall outside the new hours. Returns days written. Raises 403 forbidden, 404 workshop_not_found, 409 hours_conflict (detail.sessions), 422 invalid_hours/invalid_value.';
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

-- api.create_customer(email, full_name, location..., user_id?, timezone?): a customer user and
-- profile. p_timezone is the zone the customer reads times in (what the browser sends at sign-up);
-- NULL = not told (emails then use the appointment's place, see docs/rest-booking.md). Admin.
-- Returns the user id. Raises 403 forbidden, 409 email_taken, 422 missing_field/invalid_timezone.
CREATE OR REPLACE FUNCTION api.create_customer(p_email text, p_full_name text, p_country text DEFAULT NULL,
  p_state_province text DEFAULT NULL, p_city text DEFAULT NULL, p_postal_code text DEFAULT NULL,
  p_phone text DEFAULT NULL, p_user_id uuid DEFAULT NULL, p_timezone text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid;
BEGIN
  PERFORM app_private.require_role('admin');
  IF p_timezone IS NOT NULL THEN
    PERFORM app_private.require_timezone(p_timezone);
  END IF;
  v_id := app_private.create_user(p_user_id, p_email, p_full_name, 'customer');
  INSERT INTO app.customers (user_id, country, state_province, city, postal_code, phone, timezone)
  VALUES (v_id, p_country, p_state_province, p_city, p_postal_code, p_phone, p_timezone);
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION api.create_customer(text, text, text, text, text, text, text, uuid, text) IS
'Admin: create a customer (user + profile with location and p_timezone, the IANA zone the customer reads times in; NULL = not told). Returns the user id. Raises 403 forbidden, 409 email_taken, 422 missing_field/invalid_timezone.';
GRANT EXECUTE ON FUNCTION api.create_customer(text, text, text, text, text, text, text, uuid, text) TO autodoc_admin;

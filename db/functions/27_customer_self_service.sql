-- Customer self-service: vehicles and favorites. SECURITY INVOKER: grants and row-level security
-- decide (a customer can only touch their own rows).

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

-- customer_profile(customer): the profile fields a customer may read about themselves, as JSON.
-- Definer helper for the two functions below (they check the caller first).
CREATE OR REPLACE FUNCTION app_private.customer_profile(p_customer_id uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT jsonb_build_object('customer_id', c.user_id, 'email', u.email, 'full_name', u.full_name,
                            'timezone', c.timezone, 'phone', c.phone, 'country', c.country,
                            'state_province', c.state_province, 'city', c.city, 'postal_code', c.postal_code,
                            'credit_balance_cents', c.credit_balance_cents)
  FROM app.customers c JOIN app.users u ON u.id = c.user_id
  WHERE c.user_id = p_customer_id
$$;

-- api.my_customer_profile(customer?): the calling customer's profile (admins: p_customer_id).
-- Raises 403 forbidden, 404 customer_not_found, 422 missing_field.
CREATE OR REPLACE FUNCTION api.my_customer_profile(p_customer_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_as('customer', p_customer_id);
  v_profile jsonb := app_private.customer_profile(v_id);
BEGIN
  IF v_profile IS NULL THEN
    PERFORM app_private.raise_error(404, 'customer_not_found', 'Customer not found', jsonb_build_object('customer_id', v_id));
  END IF;
  RETURN v_profile;
END
$$;
COMMENT ON FUNCTION api.my_customer_profile(uuid) IS
'The calling customer''s profile (admins: p_customer_id): customer_id, email, full_name, timezone (NULL = not told), phone, location, credit_balance_cents. Raises 403 forbidden, 404 customer_not_found, 422 missing_field.';
GRANT EXECUTE ON FUNCTION api.my_customer_profile(uuid) TO autodoc_customer, autodoc_admin;

-- api.set_customer_timezone(zone, customer?): change the zone the customer reads times in (emails
-- sent from now on use it). The customer themselves, or an admin naming one. Returns the profile.
-- Raises 403 forbidden, 404 customer_not_found, 422 missing_field/invalid_timezone.
CREATE OR REPLACE FUNCTION api.set_customer_timezone(p_timezone text, p_customer_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.acting_as('customer', p_customer_id);
BEGIN
  PERFORM app_private.require_timezone(p_timezone);
  UPDATE app.customers c SET timezone = p_timezone, updated_at = app_private.now() WHERE c.user_id = v_id;
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'customer_not_found', 'Customer not found', jsonb_build_object('customer_id', v_id));
  END IF;
  RETURN app_private.customer_profile(v_id);
END
$$;
COMMENT ON FUNCTION api.set_customer_timezone(text, uuid) IS
'Set the IANA zone the customer reads times in (emails from now on use it). The customer (p_customer_id NULL) or an admin. Returns the profile. Raises 403 forbidden, 404 customer_not_found, 422 missing_field/invalid_timezone.';
GRANT EXECUTE ON FUNCTION api.set_customer_timezone(text, uuid) TO autodoc_customer, autodoc_admin;

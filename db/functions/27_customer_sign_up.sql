-- Customer self-service sign-up: a signed-in person creates and edits their own customer profile
-- (PUT /api/me/customer). The email is the one the identity provider verified (token claims), never
-- one the client types. Same profile shape as api.my_customer_profile (app_private.customer_profile).

-- api.save_my_customer_profile(full_name?, timezone?, phone?, location...): create the calling
-- person's customer profile, or update it. Arguments left NULL keep the stored value (on creation:
-- none); an empty string clears an optional field. Idempotent: a double submit (even two at once)
-- leaves one profile. Callable by a signed-in person without a profile (role anon with a user id)
-- and by customers. Returns the profile. Raises 401 unauthorized (no user id), 409
-- account_role_conflict (the account is a mechanic or admin), 409 application_pending (a mechanic
-- application is open), 409 email_taken, 422 email_unverified (creating needs a verified email),
-- 422 missing_field (full_name on creation), 422 invalid_timezone.
CREATE OR REPLACE FUNCTION api.save_my_customer_profile(p_full_name text DEFAULT NULL, p_timezone text DEFAULT NULL,
  p_phone text DEFAULT NULL, p_country text DEFAULT NULL, p_state_province text DEFAULT NULL, p_city text DEFAULT NULL,
  p_postal_code text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.signed_in_user();
  v_email text := app_private.current_user_email();
  v_role text;
BEGIN
  IF nullif(btrim(p_timezone), '') IS NOT NULL THEN
    PERFORM app_private.require_timezone(btrim(p_timezone));
  END IF;
  IF v_email IS NOT NULL AND EXISTS (SELECT FROM app.users u WHERE lower(u.email) = lower(v_email) AND u.id <> v_id) THEN
    PERFORM app_private.raise_error(409, 'email_taken', 'Another account uses that email address',
      jsonb_build_object('email', v_email));
  END IF;
  SELECT u.role INTO v_role FROM app.users u WHERE u.id = v_id FOR UPDATE;
  IF NOT FOUND THEN
    IF v_email IS NULL THEN
      PERFORM app_private.raise_error(422, 'email_unverified',
        'Your sign-in has no verified email address; verify it with your identity provider first',
        '{"field": "email"}');
    END IF;
    IF p_full_name IS NULL OR btrim(p_full_name) = '' THEN
      PERFORM app_private.raise_error(422, 'missing_field', 'full_name is required', '{"field": "full_name"}');
    END IF;
    IF EXISTS (SELECT FROM app.mechanic_applications a WHERE a.user_id = v_id AND a.status = 'pending') THEN
      PERFORM app_private.raise_error(409, 'application_pending',
        'You have applied to work as a mechanic; an account is either a customer or a mechanic');
    END IF;
    -- Two submits at once: the second waits for the first's row and then inserts nothing. No
    -- conflict target: the racing twin can also collide first on the email's unique index (not an
    -- arbiter of ON CONFLICT (id)), which raised a unique violation under load; another account's
    -- email was refused above, so any conflict here is the same person's row.
    INSERT INTO app.users (id, email, full_name, role) VALUES (v_id, v_email, btrim(p_full_name), 'customer')
    ON CONFLICT DO NOTHING;
    SELECT u.role INTO v_role FROM app.users u WHERE u.id = v_id FOR UPDATE;
  END IF;
  IF v_role <> 'customer' THEN
    PERFORM app_private.raise_error(409, 'account_role_conflict',
      format('This account is a %s; an account is either a customer, a mechanic or an admin', v_role),
      jsonb_build_object('role', v_role));
  END IF;
  UPDATE app.users u
     SET full_name = coalesce(nullif(btrim(p_full_name), ''), u.full_name), email = coalesce(v_email, u.email)
   WHERE u.id = v_id;
  INSERT INTO app.customers AS c (user_id, phone, country, state_province, city, postal_code, timezone)
  VALUES (v_id, nullif(btrim(p_phone), ''), nullif(btrim(p_country), ''), nullif(btrim(p_state_province), ''),
          nullif(btrim(p_city), ''), nullif(btrim(p_postal_code), ''), nullif(btrim(p_timezone), ''))
  ON CONFLICT (user_id) DO UPDATE SET
    phone = CASE WHEN p_phone IS NULL THEN c.phone ELSE excluded.phone END,
    country = CASE WHEN p_country IS NULL THEN c.country ELSE excluded.country END,
    state_province = CASE WHEN p_state_province IS NULL THEN c.state_province ELSE excluded.state_province END,
    city = CASE WHEN p_city IS NULL THEN c.city ELSE excluded.city END,
    postal_code = CASE WHEN p_postal_code IS NULL THEN c.postal_code ELSE excluded.postal_code END,
    timezone = CASE WHEN p_timezone IS NULL THEN c.timezone ELSE excluded.timezone END,
    updated_at = app_private.now();
  RETURN app_private.customer_profile(v_id);
END
$$;
COMMENT ON FUNCTION api.save_my_customer_profile(text, text, text, text, text, text, text) IS
'Create or update the calling person''s customer profile (PUT /api/me/customer): full name, IANA time zone, phone, location; the email is the token''s verified email. NULL keeps a value, '''' clears an optional one. Idempotent (a double submit leaves one profile). A signed-in person without a profile, or a customer. Returns the profile (shape of api.my_customer_profile). Raises 401 unauthorized, 409 account_role_conflict/application_pending/email_taken, 422 email_unverified/missing_field/invalid_timezone.';
GRANT EXECUTE ON FUNCTION api.save_my_customer_profile(text, text, text, text, text, text, text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

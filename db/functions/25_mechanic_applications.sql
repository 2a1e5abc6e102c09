-- Mechanic applications: a signed-in person without a profile applies to work as a mechanic
-- (POST /api/me/mechanic-application); an admin approves (which creates the mechanic profile with
-- api.create_mechanic and so grants the role) or rejects. Emails: the applicant gets a receipt and
-- the decision, every admin hears of a new application. Nothing about an applicant is public: the
-- directory reads app.mechanics only, which approval fills.

-- mechanic_application_json(application): the application as the applicant and admins read it.
CREATE OR REPLACE FUNCTION app_private.mechanic_application_json(p_app app.mechanic_applications) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT jsonb_build_object(
    'id', p_app.id, 'user_id', p_app.user_id, 'status', p_app.status, 'email', p_app.email,
    'full_name', p_app.full_name, 'phone', p_app.phone, 'bio', p_app.bio, 'specialties', to_jsonb(p_app.specialties),
    'brand_specialist_brands', to_jsonb(p_app.brand_specialist_brands),
    'years_of_experience', p_app.years_of_experience, 'certifications', to_jsonb(p_app.certifications),
    'country', p_app.country, 'state_province', p_app.state_province, 'city', p_app.city,
    'postal_code', p_app.postal_code, 'timezone', p_app.timezone, 'workshop_id', p_app.workshop_id,
    'decided_at', p_app.decided_at, 'decision_reason', p_app.decision_reason,
    'created_at', p_app.created_at, 'updated_at', p_app.updated_at)
$$;
GRANT EXECUTE ON FUNCTION app_private.mechanic_application_json(app.mechanic_applications)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

-- enqueue_application_email(application, template, to email, to name, recipient key): one email
-- about an application, keyed `email:mechanic_application:<id>:<template>:<recipient>` (once per
-- purpose and recipient, however often the change is replayed). Definer helper.
CREATE OR REPLACE FUNCTION app_private.enqueue_application_email(p_app app.mechanic_applications, p_template text,
  p_to_email text, p_to_name text, p_recipient text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN app_private.outbox_enqueue('email.send',
    format('email:mechanic_application:%s:%s:%s', p_app.id, p_template, p_recipient),
    jsonb_build_object(
      'template', p_template,
      'recipient_role', p_recipient,
      'to', jsonb_build_object('email', p_to_email, 'name', p_to_name),
      'context', jsonb_build_object(
        'application', app_private.mechanic_application_json(p_app),
        'workshop_name', (SELECT w.name FROM app.workshops w WHERE w.id = p_app.workshop_id),
        'links', jsonb_build_object('application', '/mechanic/application',
                                    'review', '/admin/mechanic-applications/' || p_app.id,
                                    'mechanic_schedule', '/mechanic/schedule'))));
END
$$;

-- api.apply_as_mechanic(full_name, bio?, specialties?, brands?, experience?, certifications?,
-- location..., timezone?, workshop?, phone?): apply (or, while the application is open, update it).
-- A workshop mechanic names p_workshop_id (the workshop's zone and hours apply); an independent one
-- needs p_timezone. The email is the token's verified email. Callable by a signed-in person without
-- a profile. Returns the application. Emails (first submit only): a receipt to the applicant, a
-- notice to every admin. Raises 401 unauthorized, 409 account_role_conflict (already a customer,
-- mechanic or admin), 404 workshop_not_found, 422 email_unverified/missing_field/invalid_timezone,
-- 23514 (experience outside 0-80).
CREATE OR REPLACE FUNCTION api.apply_as_mechanic(p_full_name text, p_bio text DEFAULT NULL,
  p_specialties text[] DEFAULT '{}', p_brand_specialist_brands text[] DEFAULT '{}',
  p_years_of_experience integer DEFAULT 0, p_certifications text[] DEFAULT '{}', p_country text DEFAULT NULL,
  p_state_province text DEFAULT NULL, p_city text DEFAULT NULL, p_postal_code text DEFAULT NULL,
  p_timezone text DEFAULT NULL, p_workshop_id uuid DEFAULT NULL, p_phone text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.signed_in_user();
  v_email text := app_private.current_user_email();
  v_role text;
  v_app app.mechanic_applications;
  v_admin record;
BEGIN
  SELECT u.role INTO v_role FROM app.users u WHERE u.id = v_id;
  IF FOUND THEN
    PERFORM app_private.raise_error(409, 'account_role_conflict',
      format('This account is a %s; an account is either a customer, a mechanic or an admin', v_role),
      jsonb_build_object('role', v_role));
  END IF;
  IF v_email IS NULL THEN
    PERFORM app_private.raise_error(422, 'email_unverified',
      'Your sign-in has no verified email address; verify it with your identity provider first', '{"field": "email"}');
  END IF;
  IF p_full_name IS NULL OR btrim(p_full_name) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'full_name is required', '{"field": "full_name"}');
  END IF;
  IF p_workshop_id IS NOT NULL THEN
    IF NOT EXISTS (SELECT FROM app.workshops w WHERE w.id = p_workshop_id) THEN
      PERFORM app_private.raise_error(404, 'workshop_not_found', 'Workshop not found',
        jsonb_build_object('workshop_id', p_workshop_id));
    END IF;
  ELSE
    PERFORM app_private.require_timezone(p_timezone);
  END IF;
  IF p_timezone IS NOT NULL THEN
    PERFORM app_private.require_timezone(p_timezone);
  END IF;
  INSERT INTO app.mechanic_applications AS a (user_id, email, full_name, phone, bio, specialties,
    brand_specialist_brands, years_of_experience, certifications, country, state_province, city, postal_code,
    timezone, workshop_id)
  VALUES (v_id, v_email, btrim(p_full_name), nullif(btrim(p_phone), ''), nullif(btrim(p_bio), ''),
          coalesce(p_specialties, '{}'), coalesce(p_brand_specialist_brands, '{}'), coalesce(p_years_of_experience, 0),
          coalesce(p_certifications, '{}'), nullif(btrim(p_country), ''), nullif(btrim(p_state_province), ''),
          nullif(btrim(p_city), ''), nullif(btrim(p_postal_code), ''), p_timezone, p_workshop_id)
  ON CONFLICT (user_id) WHERE status = 'pending' DO UPDATE SET
    email = excluded.email, full_name = excluded.full_name, phone = excluded.phone, bio = excluded.bio,
    specialties = excluded.specialties, brand_specialist_brands = excluded.brand_specialist_brands,
    years_of_experience = excluded.years_of_experience, certifications = excluded.certifications,
    country = excluded.country, state_province = excluded.state_province, city = excluded.city,
    postal_code = excluded.postal_code, timezone = excluded.timezone, workshop_id = excluded.workshop_id,
    updated_at = app_private.now()
  RETURNING a.* INTO v_app;
  -- keyed per application: a resubmit of the open application mails nobody again
  PERFORM app_private.enqueue_application_email(v_app, 'mechanic_application_received', v_app.email,
                                                v_app.full_name, 'applicant');
  FOR v_admin IN SELECT u.id, u.email, u.full_name FROM app.users u
                  WHERE u.role = 'admin' AND u.deleted_at IS NULL ORDER BY u.id LOOP
    PERFORM app_private.enqueue_application_email(v_app, 'mechanic_application_submitted', v_admin.email,
                                                  v_admin.full_name, 'admin:' || v_admin.id);
  END LOOP;
  RETURN app_private.mechanic_application_json(v_app);
END
$$;
COMMENT ON FUNCTION api.apply_as_mechanic(text, text, text[], text[], integer, text[], text, text, text, text, text, uuid, text) IS
'Apply to work as a mechanic (POST /api/me/mechanic-application), or update the open application: profile, specialties, brands, experience, certifications, location, p_timezone (independent) or p_workshop_id (workshop mechanic), phone; email = the token''s verified email. A signed-in person without a profile. Returns the application. Emails a receipt to the applicant and a notice to every admin (first submit only). Raises 401 unauthorized, 404 workshop_not_found, 409 account_role_conflict, 422 email_unverified/missing_field/invalid_timezone.';
GRANT EXECUTE ON FUNCTION api.apply_as_mechanic(text, text, text[], text[], integer, text[], text, text, text, text, text, uuid, text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.my_mechanic_application(): the caller's latest application. Raises 401 unauthorized, 404
-- application_not_found.
CREATE OR REPLACE FUNCTION api.my_mechanic_application() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.signed_in_user();
  v_app app.mechanic_applications;
BEGIN
  SELECT a.* INTO v_app FROM app.mechanic_applications a
   WHERE a.user_id = v_id ORDER BY a.created_at DESC, a.id LIMIT 1;
  IF v_app.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'application_not_found', 'You have not applied to work as a mechanic');
  END IF;
  RETURN app_private.mechanic_application_json(v_app);
END
$$;
COMMENT ON FUNCTION api.my_mechanic_application() IS
'The calling person''s latest mechanic application (status pending, approved or rejected, with the reason). Raises 401 unauthorized, 404 application_not_found.';
GRANT EXECUTE ON FUNCTION api.my_mechanic_application() TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.mechanic_applications(status?, limit, offset): applications for admins, oldest first (the
-- queue order); p_status NULL = all. Admin (checked first: definer). Raises 403 forbidden,
-- 422 invalid_value.
CREATE OR REPLACE FUNCTION api.mechanic_applications(p_status text DEFAULT 'pending', p_limit integer DEFAULT 50,
  p_offset integer DEFAULT 0)
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.require_role('admin');
  IF p_status IS NOT NULL AND p_status NOT IN ('pending', 'approved', 'rejected') THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'status must be pending, approved or rejected',
      jsonb_build_object('field', 'status', 'value', p_status));
  END IF;
  RETURN QUERY
    SELECT app_private.mechanic_application_json(a) FROM app.mechanic_applications a
     WHERE p_status IS NULL OR a.status = p_status
     ORDER BY a.created_at, a.id
     LIMIT least(greatest(coalesce(p_limit, 50), 1), 500) OFFSET greatest(coalesce(p_offset, 0), 0);
END
$$;
COMMENT ON FUNCTION api.mechanic_applications(text, integer, integer) IS
'Admin: mechanic applications with p_status (pending by default; NULL = all), oldest first, p_limit 1-500. Raises 403 forbidden, 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.mechanic_applications(text, integer, integer) TO autodoc_admin;

-- open_application(application): lock an open application for a decision. Raises 404
-- application_not_found, 409 application_decided.
CREATE OR REPLACE FUNCTION app_private.open_application(p_application_id uuid) RETURNS app.mechanic_applications
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_app app.mechanic_applications;
BEGIN
  SELECT a.* INTO v_app FROM app.mechanic_applications a WHERE a.id = p_application_id FOR UPDATE;
  IF v_app.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'application_not_found', 'Application not found',
      jsonb_build_object('application_id', p_application_id));
  ELSIF v_app.status <> 'pending' THEN
    PERFORM app_private.raise_error(409, 'application_decided', format('This application was already %s', v_app.status),
      jsonb_build_object('application_id', p_application_id, 'status', v_app.status));
  END IF;
  RETURN v_app;
END
$$;

-- api.approve_mechanic_application(application): create the applicant's mechanic profile (user
-- row with role mechanic + public profile, via api.create_mechanic) and mark the application
-- approved; the applicant is emailed. Their next request runs as a mechanic. Admin. Returns the
-- application. Raises 403 forbidden, 404 application_not_found/workshop_not_found, 409
-- application_decided/account_role_conflict/email_taken (the address now belongs to another account).
CREATE OR REPLACE FUNCTION api.approve_mechanic_application(p_application_id uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_app app.mechanic_applications;
BEGIN
  PERFORM app_private.require_role('admin');
  v_app := app_private.open_application(p_application_id);
  IF EXISTS (SELECT FROM app.users u WHERE u.id = v_app.user_id) THEN
    PERFORM app_private.raise_error(409, 'account_role_conflict',
      'The applicant''s account already has a role; an account is either a customer, a mechanic or an admin',
      jsonb_build_object('user_id', v_app.user_id));
  END IF;
  PERFORM api.create_mechanic(p_email => v_app.email, p_full_name => v_app.full_name, p_workshop_id => v_app.workshop_id,
    p_timezone => v_app.timezone, p_specialties => v_app.specialties,
    p_brand_specialist_brands => v_app.brand_specialist_brands, p_years_of_experience => v_app.years_of_experience,
    p_certifications => v_app.certifications, p_bio => v_app.bio, p_country => v_app.country,
    p_state_province => v_app.state_province, p_city => v_app.city, p_postal_code => v_app.postal_code,
    p_user_id => v_app.user_id);
  UPDATE app.mechanic_applications a
     SET status = 'approved', decided_by = app_private.current_user_id(), decided_at = app_private.now(),
         updated_at = app_private.now()
   WHERE a.id = v_app.id
  RETURNING a.* INTO v_app;
  PERFORM app_private.enqueue_application_email(v_app, 'mechanic_application_approved', v_app.email, v_app.full_name,
                                                'applicant');
  RETURN app_private.mechanic_application_json(v_app);
END
$$;
COMMENT ON FUNCTION api.approve_mechanic_application(uuid) IS
'Admin: approve a pending mechanic application: creates the mechanic (role and directory profile, as api.create_mechanic) and emails the applicant. Returns the application. Raises 403 forbidden, 404 application_not_found/workshop_not_found, 409 application_decided/account_role_conflict/email_taken.';
GRANT EXECUTE ON FUNCTION api.approve_mechanic_application(uuid) TO autodoc_admin;

-- api.reject_mechanic_application(application, reason?): mark a pending application rejected and
-- email the applicant (with the reason, when given). The person may apply again. Admin. Returns
-- the application. Raises 403 forbidden, 404 application_not_found, 409 application_decided.
CREATE OR REPLACE FUNCTION api.reject_mechanic_application(p_application_id uuid, p_reason text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_app app.mechanic_applications;
BEGIN
  PERFORM app_private.require_role('admin');
  v_app := app_private.open_application(p_application_id);
  UPDATE app.mechanic_applications a
     SET status = 'rejected', decided_by = app_private.current_user_id(), decided_at = app_private.now(),
         decision_reason = nullif(btrim(p_reason), ''), updated_at = app_private.now()
   WHERE a.id = v_app.id
  RETURNING a.* INTO v_app;
  PERFORM app_private.enqueue_application_email(v_app, 'mechanic_application_rejected', v_app.email, v_app.full_name,
                                                'applicant');
  RETURN app_private.mechanic_application_json(v_app);
END
$$;
COMMENT ON FUNCTION api.reject_mechanic_application(uuid, text) IS
'Admin: reject a pending mechanic application, with an optional reason the applicant is emailed. The person may apply again. Returns the application. Raises 403 forbidden, 404 application_not_found, 409 application_decided.';
GRANT EXECUTE ON FUNCTION api.reject_mechanic_application(uuid, text) TO autodoc_admin;

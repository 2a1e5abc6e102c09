-- Test-only helpers (loaded into test databases only, never by migrations).
CREATE SCHEMA IF NOT EXISTS tests;
GRANT USAGE ON SCHEMA tests TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- authenticate_as(user, role): become that caller for the rest of the transaction, exactly as the
-- API does per request (claims + SET LOCAL ROLE), so RLS and grants decide.
CREATE OR REPLACE FUNCTION tests.authenticate_as(p_user_id uuid, p_role text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('request.jwt.claims',
    jsonb_build_object('sub', p_user_id, 'role', p_role)::text, true);
  EXECUTE format('SET LOCAL ROLE %I', 'autodoc_' || p_role);
END
$$;

-- clear_authentication(): back to the superuser running the test.
CREATE OR REPLACE FUNCTION tests.clear_authentication() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('request.jwt.claims', '', true);
  RESET ROLE;
END
$$;

-- create_user(role, email): a user row; returns its id.
CREATE OR REPLACE FUNCTION tests.create_user(p_role text DEFAULT 'customer', p_email text DEFAULT NULL,
                                             p_full_name text DEFAULT 'Test Person') RETURNS uuid
LANGUAGE sql AS $$
  INSERT INTO app.users (email, full_name, role)
  VALUES (coalesce(p_email, p_role || '-' || gen_random_uuid() || '@example.test'), p_full_name, p_role)
  RETURNING id
$$;
-- Test databases may move the trusted clock (app_private.now()); a normal install never can.
UPDATE app.clock_settings SET injection_allowed = true;

-- set_now(at): the trusted clock reads `at` for the rest of the transaction (NULL: the real time
-- again). Every function, trigger and job then sees the same instant.
CREATE OR REPLACE FUNCTION tests.set_now(p_at timestamptz) RETURNS timestamptz
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('autodoc.now', coalesce(p_at::text, ''), true);
  RETURN p_at;
END
$$;

-- sign_in(user, email?): become the caller a verified token names, exactly as the API does per
-- request (app_private.begin_request: the database decides the role; a person without a profile is
-- anon with a user id). Returns that role. Call it as the test superuser; clear_authentication() undoes it.
CREATE OR REPLACE FUNCTION tests.sign_in(p_user_id uuid, p_email text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  RETURN app_private.begin_request(jsonb_strip_nulls(jsonb_build_object('sub', p_user_id, 'email', p_email)));
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

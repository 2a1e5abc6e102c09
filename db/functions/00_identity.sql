-- Identity and errors: helpers every other function and policy uses.

-- current_user_id(): the caller's user id from the per-transaction JWT claims, NULL when anonymous.
-- Callable by every application role; raises nothing (a malformed sub yields NULL).
-- No SET search_path on these three: it would stop PostgreSQL inlining them into every policy and
-- query (measured 30-70 µs a call); they are invokers and name only pg_catalog functions.
CREATE OR REPLACE FUNCTION app_private.current_user_id() RETURNS uuid
LANGUAGE sql STABLE AS $$
  -- No FROM clause, so the planner can inline it (a subquery would keep it a real call).
  SELECT CASE WHEN nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub' ~ '^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$'
              THEN (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid END
$$;

-- current_app_role(): 'customer' | 'mechanic' | 'admin' | 'worker' | 'anon'. The database role
-- the caller switched to (SET [LOCAL] ROLE autodoc_<role>, as the API does per request) decides:
-- claims can never lift a caller above that role (a session running as autodoc_customer that sets
-- claims {"role": "admin"} is still a customer). Without such a SET ROLE (the owner, pg_cron, the
-- test superuser) the claims' role applies, else 'anon'. It reads the `role` setting, not
-- current_user, because inside a SECURITY DEFINER function current_user is the function's owner
-- while the setting still names the caller's role.
CREATE OR REPLACE FUNCTION app_private.current_app_role() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT CASE
    WHEN current_setting('role') IN ('autodoc_anon', 'autodoc_customer', 'autodoc_mechanic', 'autodoc_admin',
                                     'autodoc_worker')
      THEN substr(current_setting('role'), 9)
    ELSE coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role', 'anon')
  END
$$;

-- is_admin(): shorthand used by policies.
CREATE OR REPLACE FUNCTION app_private.is_admin() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT app_private.current_app_role() = 'admin'
$$;

-- acting_as(role, user?): whom a self-service function acts for — the caller themselves when they
-- hold `role` (naming anyone else raises 403 forbidden), or the user an admin names (422
-- missing_field when none). Any other caller: 403 forbidden. Used by definer functions that bypass RLS.
CREATE OR REPLACE FUNCTION app_private.acting_as(p_role text, p_user_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_role text := app_private.current_app_role();
  v_uid uuid := app_private.current_user_id();
BEGIN
  IF v_role = p_role AND v_uid IS NOT NULL AND (p_user_id IS NULL OR p_user_id = v_uid) THEN
    RETURN v_uid;
  ELSIF v_role = 'admin' THEN
    IF p_user_id IS NULL THEN
      PERFORM app_private.raise_error(422, 'missing_field', format('%s_id is required', p_role),
                                      jsonb_build_object('field', p_role || '_id'));
    END IF;
    RETURN p_user_id;
  END IF;
  PERFORM app_private.raise_error(403, 'forbidden', format('Only the %s (or an admin) can do this', p_role));
  RETURN NULL;  -- not reached: raise_error raises
END
$$;

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

-- raise_error(): the one way business rules fail. SQLSTATE 'AD' || http status, HINT = stable
-- machine code, DETAIL = JSON for the client. api/errors.py maps it to {code, message, detail}.
-- MESSAGE is the code's one message from the error catalog (00_errors.sql); p_message is used only
-- for codes the catalog leaves to their callers (missing_field, invalid_value, ...).
CREATE OR REPLACE FUNCTION app_private.raise_error(p_status int, p_code text, p_message text, p_detail jsonb DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'AD' || p_status::text,
    MESSAGE = coalesce(app_private.error_message(p_code), p_message, p_code), HINT = p_code,
    DETAIL = coalesce(p_detail::text, '');
END
$$;

GRANT EXECUTE ON FUNCTION app_private.current_user_id(), app_private.current_app_role(), app_private.is_admin()
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;
GRANT EXECUTE ON FUNCTION app_private.raise_error(int, text, text, jsonb)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- api.whoami(): the caller as the database sees it; used by the API skeleton and DBAs to check identity.
CREATE OR REPLACE FUNCTION api.whoami() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT jsonb_build_object('user_id', app_private.current_user_id(), 'role', app_private.current_app_role(),
                            'db_role', current_user)
$$;
COMMENT ON FUNCTION api.whoami() IS 'The caller''s user id, application role and database role. Any role.';
GRANT EXECUTE ON FUNCTION api.whoami() TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- current_user_email(): the caller's verified email, as the API read it from the token (claims
-- `email`; the API passes it only when the provider says it is verified). NULL when unknown.
CREATE OR REPLACE FUNCTION app_private.current_user_email() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT nullif(btrim(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'), '')
$$;
GRANT EXECUTE ON FUNCTION app_private.current_user_email()
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

-- signed_in_user(): the caller's user id; raises 401 unauthorized for a caller without one (a visitor).
-- Self-service functions use it: a signed-in person may have no profile (no role) yet.
CREATE OR REPLACE FUNCTION app_private.signed_in_user() RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.current_user_id();
BEGIN
  IF v_id IS NULL THEN
    PERFORM app_private.raise_error(401, 'unauthorized', 'Sign in first');
  END IF;
  RETURN v_id;
END
$$;
GRANT EXECUTE ON FUNCTION app_private.signed_in_user()
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

-- token_user_role(user): the application role the database gives a token's subject: the users
-- row's role (customer, mechanic, admin), or NULL when the person has no profile yet. Raises 403
-- account_deleted for an account deleted by its owner (api.delete_my_account). Definer: it reads
-- app.users for the API's login role, before any application role is set. Called only by
-- begin_request.
CREATE OR REPLACE FUNCTION app_private.token_user_role(p_user_id uuid) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_role text;
  v_deleted timestamptz;
BEGIN
  SELECT u.role, u.deleted_at INTO v_role, v_deleted FROM app.users u WHERE u.id = p_user_id;
  IF v_deleted IS NOT NULL THEN
    PERFORM app_private.raise_error(403, 'account_deleted', 'This account has been deleted');
  END IF;
  RETURN v_role;
END
$$;

-- begin_request(identity): become the caller for the rest of the transaction, the first statement
-- of every API request (api/db.py). p_identity is what the verified token says: {"sub": uuid,
-- "email"?: verified email, "token_role"?: the role the token claims}. The role is the
-- DATABASE's: app.users.role for a known subject, 'anon' with the user id kept for a signed-in
-- person without a profile (who may only use self-service: PUT /api/me/customer, mechanic
-- applications, export, deletion), 'anon' without a user id for a visitor. A token's role claim
-- never elevates anyone: elevation is an admin's write to app.users (api.approve_mechanic_application).
-- Returns the application role. Raises 403 account_deleted.
-- Invoker and WITHOUT a SET clause on purpose: a function with SET clauses undoes every SET LOCAL
-- made inside it on exit, and the role and claims set here must outlive it. Every name is
-- schema-qualified instead. Executable by the API's login role only.
CREATE OR REPLACE FUNCTION app_private.begin_request(p_identity jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_sub uuid;
  v_role text;
BEGIN
  IF p_identity ->> 'sub' IS NOT NULL THEN
    v_sub := (p_identity ->> 'sub')::uuid;
  END IF;
  v_role := coalesce(app_private.token_user_role(v_sub), 'anon');
  PERFORM pg_catalog.set_config('role', 'autodoc_' || v_role, true);
  PERFORM pg_catalog.set_config('request.jwt.claims',
    (pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('sub', v_sub, 'email', p_identity ->> 'email'))
     || pg_catalog.jsonb_build_object('role', v_role))::text, true);
  RETURN v_role;
END
$$;
REVOKE EXECUTE ON FUNCTION app_private.begin_request(jsonb), app_private.token_user_role(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app_private.begin_request(jsonb), app_private.token_user_role(uuid) TO autodoc_api;

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

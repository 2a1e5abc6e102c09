-- Foundation invariants: RLS everywhere, definer functions pinned, nothing executable by PUBLIC,
-- identity from claims, the error contract, and the pg_cron schedules.
BEGIN;
SELECT plan(17);

SELECT is_empty($$
  SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('app', 'app_private', 'api') AND NOT c.relrowsecurity
$$, 'every table in the project schemas has row-level security enabled');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname IN ('app', 'app_private', 'api') AND p.prosecdef
    AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
$$, 'every SECURITY DEFINER function has a fixed search_path');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname IN ('app', 'app_private', 'api') AND has_function_privilege('public', p.oid, 'EXECUTE')
$$, 'no project function is executable by PUBLIC');

SELECT is_empty($$
  SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE n.nspname = 'api' AND obj_description(p.oid, 'pg_proc') IS NULL
$$, 'every api function has a COMMENT (visible in \df+)');

SELECT is((SELECT rolinherit FROM pg_roles WHERE rolname = 'autodoc_api'), false, 'the API login role is NOINHERIT');
SELECT is_empty($$SELECT rolname FROM pg_roles WHERE rolname IN ('autodoc_customer', 'autodoc_mechanic', 'autodoc_admin',
  'autodoc_worker', 'autodoc_anon') AND rolcanlogin$$, 'application roles cannot log in');

SELECT tests.authenticate_as('11111111-1111-1111-1111-111111111111', 'customer');
SELECT is(app_private.current_user_id(), '11111111-1111-1111-1111-111111111111'::uuid, 'current_user_id() reads sub from the claims');
SELECT is(app_private.current_app_role(), 'customer', 'current_app_role() reads role from the claims');
SELECT is(current_user::text, 'autodoc_customer', 'authenticate_as switches the database role');
SELECT tests.clear_authentication();

-- a DBA with SET ROLE and no claims is that role, also inside SECURITY DEFINER functions
CREATE FUNCTION tests.role_seen_by_a_definer() RETURNS text LANGUAGE sql SECURITY DEFINER SET search_path = ''
  AS $$ SELECT app_private.current_app_role() $$;
GRANT EXECUTE ON FUNCTION tests.role_seen_by_a_definer() TO autodoc_admin;
SET LOCAL ROLE autodoc_admin;
SELECT is(app_private.current_app_role(), 'admin', 'SET ROLE without claims: the role names the caller');
SELECT is(tests.role_seen_by_a_definer(), 'admin', '... also inside a SECURITY DEFINER function');
RESET ROLE;

SELECT set_config('request.jwt.claims', '{"sub": "not-a-uuid", "role": "customer"}', true);
SELECT is(app_private.current_user_id(), NULL, 'a malformed sub is no identity');
SELECT set_config('request.jwt.claims', '{"sub": "------------------------------------", "role": "customer"}', true);
SELECT is(app_private.current_user_id(), NULL, 'a uuid-shaped but invalid sub is no identity either');

SELECT throws_ok($$SELECT app_private.raise_error(409, 'slot_unavailable', 'Some other wording')$$,
  'AD409', 'That time slot is not available', 'raise_error raises SQLSTATE AD<status> with the code''s one catalogued message');

-- users: a customer sees only their own row and cannot write; an admin sees everyone
SELECT tests.create_user('customer', 'a@example.test') AS a \gset
SELECT tests.create_user('customer', 'b@example.test') AS b \gset
SELECT tests.authenticate_as(:'a', 'customer');
SELECT results_eq('SELECT email FROM app.users', $$VALUES ('a@example.test')$$, 'a customer sees only their own user row');
SELECT throws_ok($$UPDATE app.users SET full_name = 'x'$$, '42501', NULL, 'a customer cannot update users');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'b', 'admin');
SELECT ok((SELECT count(*) FROM app.users) >= 2, 'an admin sees every user');

SELECT * FROM finish();
ROLLBACK;

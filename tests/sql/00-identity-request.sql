-- Every API request starts with app_private.begin_request(identity): the DATABASE decides the role
-- from app.users. A token's role claim never elevates; a signed-in person without a profile runs
-- as anon with their user id; a deleted account is refused.
BEGIN;
SELECT plan(17);

SELECT tests.create_customer('cara@example.test', 'Cara Customer') AS c \gset
SELECT tests.create_admin('ada@example.test') AS a \gset
SELECT gen_random_uuid() AS newbie \gset

-- The API's login role runs it (pgTAP is the superuser: become autodoc_api first).
SET LOCAL ROLE autodoc_api;
SELECT is(app_private.begin_request(jsonb_build_object('sub', :'c')), 'customer', 'a customer''s token: customer');
SELECT is(current_setting('role'), 'autodoc_customer', 'the database role is set for the rest of the transaction');
SELECT is(app_private.current_user_id(), :'c'::uuid, 'and the user id');
SELECT is(api.whoami() ->> 'role', 'customer', 'whoami agrees');
SELECT throws_ok($$SELECT app_private.begin_request('{}')$$, '42501', NULL,
  'an application role cannot run begin_request again (no way back up)');
SELECT tests.clear_authentication();

SET LOCAL ROLE autodoc_api;
SELECT is(app_private.begin_request(jsonb_build_object('sub', :'c', 'token_role', 'admin')), 'customer',
  'a forged admin role claim changes nothing: the database says customer');
SELECT ok(NOT app_private.is_admin(), 'and the caller is not an admin');
SELECT is(current_setting('request.jwt.claims')::jsonb ->> 'role', 'customer', 'the claims carry the database''s role');
SELECT tests.clear_authentication();

SET LOCAL ROLE autodoc_api;
SELECT is(app_private.begin_request(jsonb_build_object('sub', :'a')), 'admin', 'an admin is an admin because app.users says so');
SELECT tests.clear_authentication();

SET LOCAL ROLE autodoc_api;
SELECT is(app_private.begin_request(jsonb_build_object('sub', :'newbie', 'email', 'new@example.test', 'token_role', 'admin')),
  'anon', 'a signed-in person without a profile is anon, whatever the token claims');
SELECT is(app_private.current_user_id(), :'newbie'::uuid, 'with their user id (self-service needs it)');
SELECT is(app_private.current_user_email(), 'new@example.test', 'and their verified email');
SELECT tests.clear_authentication();

SET LOCAL ROLE autodoc_api;
SELECT is(app_private.begin_request('{}'), 'anon', 'no token: a visitor');
SELECT is(app_private.current_user_id(), NULL, 'without a user id');
SELECT is((tests.error_of($$SELECT app_private.signed_in_user()$$)) ->> 'sqlstate', 'AD401',
  'self-service needs a signed-in person (401)');
SELECT tests.clear_authentication();

UPDATE app.users SET deleted_at = now() WHERE id = :'c';
SET LOCAL ROLE autodoc_api;
SELECT throws_ok(format($$SELECT app_private.begin_request(jsonb_build_object('sub', %L::uuid))$$, :'c'), 'AD403',
  'This account has been deleted', 'a deleted account''s token is refused (403 account_deleted)');
RESET ROLE;

SET LOCAL ROLE autodoc_customer;
SELECT throws_ok($$SELECT app_private.token_user_role(gen_random_uuid())$$, '42501', NULL,
  'application roles cannot look up other people''s roles');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Self-service sign-up (PUT /api/me/customer): a signed-in person creates their customer profile
-- with the email their identity provider verified, edits it later, and a double submit leaves one.
BEGIN;
SELECT plan(22);

SELECT gen_random_uuid() AS nina \gset
SELECT tests.create_customer('taken@example.test', 'Tom Taken') AS tom \gset

SELECT is(tests.sign_in(:'nina', 'nina@example.test'), 'anon', 'before: a signed-in person without a profile');
SELECT is(api.save_my_customer_profile('Nina New', 'America/Toronto', '+1 416 555 0100', 'CA', 'ON', 'Toronto', 'M5V 2T6')
          - 'credit_balance_cents',
  jsonb_build_object('customer_id', :'nina', 'email', 'nina@example.test', 'full_name', 'Nina New',
                     'timezone', 'America/Toronto', 'phone', '+1 416 555 0100', 'country', 'CA',
                     'state_province', 'ON', 'city', 'Toronto', 'postal_code', 'M5V 2T6'),
  'the profile is created with the token''s email, in the shape of my_customer_profile');
SELECT is(api.save_my_customer_profile('Nina New', 'America/Toronto', '+1 416 555 0100', 'CA', 'ON', 'Toronto', 'M5V 2T6') ->> 'full_name',
  'Nina New', 'a double submit succeeds again');
SELECT tests.clear_authentication();
SELECT is((SELECT count(*)::int FROM app.users WHERE id = :'nina'), 1, 'one user row');
SELECT is((SELECT count(*)::int FROM app.customers WHERE user_id = :'nina'), 1, 'one customer row');
SELECT is((SELECT role FROM app.users WHERE id = :'nina'), 'customer', 'with the customer role');

SELECT is(tests.sign_in(:'nina', 'nina@example.test'), 'customer', 'her next request runs as a customer');
SELECT is(api.my_customer_profile() ->> 'timezone', 'America/Toronto', 'and reads her profile with GET /api/customer/profile');
SELECT is(api.save_my_customer_profile(p_city => 'Ottawa') ->> 'phone', '+1 416 555 0100', 'an edit keeps what it leaves out');
SELECT is(api.my_customer_profile() ->> 'city', 'Ottawa', 'and changes what it names');
SELECT is(api.save_my_customer_profile(p_phone => '') ->> 'phone', NULL, 'an empty string clears an optional field');
SELECT is((tests.error_of($$SELECT api.save_my_customer_profile(p_timezone => 'Mars/Olympus')$$)) ->> 'hint',
  'invalid_timezone', 'a zone must be an IANA zone');
SELECT tests.clear_authentication();

SELECT tests.sign_in(:'nina', 'nina.new@example.test');
SELECT is(api.save_my_customer_profile() ->> 'email', 'nina.new@example.test', 'a new verified email at the provider follows');
SELECT is((tests.error_of($$SELECT api.save_my_customer_profile()$$)), NULL, 'idempotent with nothing to change');
SELECT tests.clear_authentication();
SELECT tests.sign_in(:'nina', 'taken@example.test');
SELECT is((tests.error_of($$SELECT api.save_my_customer_profile()$$)) ->> 'hint', 'email_taken',
  'but not to another account''s address (409 email_taken)');
SELECT tests.clear_authentication();

SELECT tests.sign_in(gen_random_uuid());
SELECT is((tests.error_of($$SELECT api.save_my_customer_profile('No Mail')$$)) ->> 'hint', 'email_unverified',
  'creating needs a verified email (422 email_unverified)');
SELECT tests.clear_authentication();
SELECT tests.sign_in(gen_random_uuid(), 'noname@example.test');
SELECT is((tests.error_of($$SELECT api.save_my_customer_profile(p_city => 'Toronto')$$)) ->> 'hint', 'missing_field',
  'and a full name (422 missing_field)');
SELECT tests.clear_authentication();

SELECT tests.sign_in(NULL);
SELECT is((tests.error_of($$SELECT api.save_my_customer_profile('Vis Itor')$$)) ->> 'sqlstate', 'AD401',
  'a visitor without a token cannot (401)');
SELECT tests.clear_authentication();

SELECT tests.create_independent_mechanic() AS m \gset
SELECT tests.sign_in(:'m', 'mech@example.test');
SELECT is((tests.error_of($$SELECT api.save_my_customer_profile('Mo Mechanic')$$)) ->> 'hint', 'account_role_conflict',
  'a mechanic account does not become a customer (409 account_role_conflict)');
SELECT tests.clear_authentication();

SELECT gen_random_uuid() AS applicant \gset
SELECT tests.sign_in(:'applicant', 'app@example.test');
SELECT ok(api.apply_as_mechanic('Abe Applicant', p_timezone => 'America/Toronto') ->> 'id' IS NOT NULL, 'someone applies as a mechanic');
SELECT is((tests.error_of($$SELECT api.save_my_customer_profile('Abe Applicant')$$)) ->> 'hint', 'application_pending',
  'and cannot also become a customer while the application is open (409)');
SELECT tests.clear_authentication();

SELECT tests.sign_in(:'tom', 'taken@example.test');
SELECT is((SELECT count(*)::int FROM app.customers), 1, 'RLS: a customer still sees only their own profile row');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

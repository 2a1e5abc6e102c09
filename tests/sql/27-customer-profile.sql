-- The customer's time zone: given at sign-up (admin create_customer), read and changed by the
-- customer themselves (or an admin naming them), always a valid IANA zone.
BEGIN;
SELECT plan(14);

SELECT tests.create_admin() AS a \gset
SELECT tests.authenticate_as(:'a', 'admin');
SELECT api.create_customer('tz@example.test', 'Tia Zone', 'CA', 'ON', 'Toronto', p_timezone => 'America/Toronto') AS c \gset
SELECT api.create_customer('nozone@example.test', 'Noe Zone') AS c2 \gset
SELECT is((SELECT timezone FROM app.customers WHERE user_id = :'c'), 'America/Toronto', 'create_customer keeps the sign-up zone');
SELECT is((SELECT timezone FROM app.customers WHERE user_id = :'c2'), NULL, 'no zone sent: NULL (not told)');
SELECT is((tests.error_of($$SELECT api.create_customer('bad@example.test', 'Bad Zone', p_timezone => 'Mars/Olympus')$$)) ->> 'hint',
  'invalid_timezone', 'an unknown zone is refused at sign-up (422 invalid_timezone)');
SELECT is((tests.error_of($$SELECT api.create_customer('bad2@example.test', 'Bad Zone', p_timezone => 'localtime')$$)) ->> 'hint',
  'invalid_timezone', '"localtime" is not a zone');
SELECT is(api.set_customer_timezone('Asia/Kolkata', :'c2') ->> 'timezone', 'Asia/Kolkata', 'an admin sets a customer''s zone');
SELECT is((tests.error_of($$SELECT api.set_customer_timezone('Asia/Kolkata')$$)) ->> 'hint', 'missing_field',
  'an admin must name the customer');

SELECT tests.authenticate_as(:'c', 'customer');
SELECT is(api.my_customer_profile() ->> 'timezone', 'America/Toronto', 'the customer reads their zone');
SELECT is(api.my_customer_profile() ->> 'email', 'tz@example.test', 'and the rest of their own profile');
SELECT is(api.set_customer_timezone('America/Vancouver') ->> 'timezone', 'America/Vancouver', 'the customer changes it');
SELECT is((tests.error_of($$SELECT api.set_customer_timezone('Not/AZone')$$)) ->> 'hint', 'invalid_timezone',
  'to a valid IANA zone only');
SELECT is((tests.error_of(format($$SELECT api.set_customer_timezone('Europe/Paris', %L)$$, :'c2'))) ->> 'sqlstate', 'AD403',
  'not someone else''s (403 forbidden)');
SELECT is((tests.error_of($$SELECT api.set_customer_timezone(NULL)$$)) ->> 'hint', 'missing_field', 'a zone is required');
SELECT tests.clear_authentication();
SELECT is((SELECT timezone FROM app.customers WHERE user_id = :'c2'), 'Asia/Kolkata', 'the other customer is unchanged');

SELECT tests.authenticate_as(tests.create_workshop_mechanic(), 'mechanic');
SELECT is((tests.error_of($$SELECT api.my_customer_profile()$$)) ->> 'sqlstate', '42501', 'mechanics have no customer profile');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Mechanic applications: a signed-in person applies, an admin approves (creating the mechanic and
-- granting the role) or rejects; both sides are emailed; nothing about an applicant is public until
-- approval; RLS shows a person their own application only.
BEGIN;
SELECT plan(31);

SELECT tests.create_admin('ada@example.test') AS a \gset
SELECT tests.create_admin('abe-admin@example.test') AS a2 \gset
SELECT tests.create_workshop() AS w \gset
SELECT gen_random_uuid() AS pat \gset
SELECT gen_random_uuid() AS rex \gset

-- Pat applies (no profile yet: anon with a user id).
SELECT tests.sign_in(:'pat', 'pat@example.test');
SELECT api.apply_as_mechanic('Pat Piston', 'Twenty years on German cars.', ARRAY['brakes', 'electrical'], ARRAY['BMW'], 20,
  ARRAY['ASE Master'], 'CA', 'ON', 'Toronto', 'M5V 2T6', 'America/Toronto', NULL, '+1 416 555 0199') AS app \gset
SELECT is((:'app'::jsonb) ->> 'status', 'pending', 'the application is pending');
SELECT is((:'app'::jsonb) ->> 'email', 'pat@example.test', 'with the token''s verified email');
SELECT is(api.apply_as_mechanic('Pat Piston', 'Twenty-one years on German cars.', ARRAY['brakes'], ARRAY['BMW'], 21,
  p_timezone => 'America/Toronto') ->> 'id', (:'app'::jsonb) ->> 'id', 'a second submit updates the open application');
SELECT is(api.my_mechanic_application() ->> 'years_of_experience', '21', 'the applicant reads their application');
SELECT tests.clear_authentication();
SELECT is((SELECT count(*)::int FROM app.mechanic_applications WHERE user_id = :'pat'), 1, 'one application');
SELECT is((SELECT array_agg(payload ->> 'template' || ' -> ' || (payload #>> '{to,email}') ORDER BY payload #>> '{to,email}')
             FROM app.outbox WHERE idempotency_key LIKE 'email:mechanic_application:%'),
  ARRAY['mechanic_application_submitted -> abe-admin@example.test', 'mechanic_application_submitted -> ada@example.test',
        'mechanic_application_received -> pat@example.test'],
  'emails: a receipt to the applicant and a notice to each admin, once (not again for the resubmit)');

-- Nothing public before approval.
SELECT tests.authenticate_as(NULL, 'anon');
SELECT is((SELECT count(*)::int FROM api.list_mechanics(p_search => 'Piston')), 0, 'the applicant is not in the directory');
SELECT throws_ok($$SELECT count(*) FROM app.mechanic_applications$$, '42501', NULL, 'visitors cannot read applications');
SELECT tests.clear_authentication();

-- Who may apply, with what.
SELECT tests.sign_in(tests.create_customer('cust@example.test'), 'cust@example.test');
SELECT is((tests.error_of($$SELECT api.apply_as_mechanic('Cus Tomer', p_timezone => 'America/Toronto')$$)) ->> 'hint',
  'account_role_conflict', 'a customer account cannot apply (409 account_role_conflict)');
SELECT is((SELECT count(*)::int FROM app.mechanic_applications), 0, 'RLS: a customer sees no one else''s application');
SELECT throws_ok($$SELECT * FROM api.mechanic_applications()$$, '42501', NULL, 'customers cannot list applications');
SELECT throws_ok(format($$SELECT api.approve_mechanic_application(%L)$$, (:'app'::jsonb) ->> 'id'), '42501', NULL,
  'nor approve one');
SELECT tests.clear_authentication();
SELECT tests.sign_in(:'rex', 'rex@example.test');
SELECT is((tests.error_of($$SELECT api.apply_as_mechanic('Rex Rotor')$$)) ->> 'hint', 'missing_field',
  'an independent mechanic needs a time zone');
SELECT is((tests.error_of($$SELECT api.apply_as_mechanic('Rex Rotor', p_workshop_id => gen_random_uuid())$$)) ->> 'hint',
  'workshop_not_found', 'a workshop must exist');
SELECT is((tests.error_of($$SELECT api.my_mechanic_application()$$)) ->> 'hint', 'application_not_found',
  'nothing applied yet: 404');
SELECT is(api.apply_as_mechanic('Rex Rotor', p_workshop_id => :'w') ->> 'workshop_id', :'w',
  'a workshop mechanic names the workshop (its zone and hours apply)');
SELECT tests.clear_authentication();
SELECT tests.sign_in(gen_random_uuid());
SELECT is((tests.error_of($$SELECT api.apply_as_mechanic('No Mail', p_timezone => 'America/Toronto')$$)) ->> 'hint',
  'email_unverified', 'applying needs a verified email');
SELECT tests.clear_authentication();

-- The admin decides.
SELECT tests.sign_in(:'a');
SELECT is((SELECT array_agg(x ->> 'full_name' ORDER BY x ->> 'full_name') FROM api.mechanic_applications() x),
  ARRAY['Pat Piston', 'Rex Rotor'], 'the admin lists pending applications');
SELECT is(api.approve_mechanic_application((:'app'::jsonb ->> 'id')::uuid) ->> 'status', 'approved', 'approves Pat''s');
SELECT is((tests.error_of(format($$SELECT api.approve_mechanic_application(%L)$$, :'app'::jsonb ->> 'id'))) ->> 'hint',
  'application_decided', 'a decided application cannot be decided again (409)');
SELECT is(api.reject_mechanic_application((SELECT (x ->> 'id')::uuid FROM api.mechanic_applications() x), 'Certificates missing')
          ->> 'decision_reason', 'Certificates missing', 'rejects Rex''s with a reason');
SELECT is((SELECT count(*)::int FROM api.mechanic_applications(NULL)), 2, 'status NULL lists every application');
SELECT is((tests.error_of($$SELECT * FROM api.mechanic_applications('maybe')$$)) ->> 'hint', 'invalid_value',
  'an unknown status filter is refused');
SELECT tests.clear_authentication();

SELECT is((SELECT role FROM app.users WHERE id = :'pat'), 'mechanic', 'approval grants the mechanic role (in app.users)');
SELECT is((SELECT display_name || ' / ' || timezone || ' / ' || array_to_string(brand_specialist_brands, ',')
             FROM app.mechanics WHERE user_id = :'pat'), 'Pat Piston / America/Toronto / BMW',
  'and creates the mechanic profile from the application');
SELECT is((SELECT array_agg(payload ->> 'template' ORDER BY id) FROM app.outbox
            WHERE payload ->> 'template' IN ('mechanic_application_approved', 'mechanic_application_rejected')),
  ARRAY['mechanic_application_approved', 'mechanic_application_rejected'], 'the applicants are emailed the decision');
SELECT is(tests.sign_in(:'pat', 'pat@example.test'), 'mechanic', 'Pat''s next request runs as a mechanic');
SELECT is((SELECT count(*)::int FROM app.mechanic_applications), 1, 'RLS: a mechanic sees their own application only');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(NULL, 'anon');
SELECT is((SELECT count(*)::int FROM api.list_mechanics(p_search => 'Piston')), 1, 'after approval Pat is in the directory');
SELECT tests.clear_authentication();

SELECT tests.sign_in(:'rex', 'rex@example.test');
SELECT is(api.my_mechanic_application() ->> 'status', 'rejected', 'Rex reads the decision');
SELECT isnt(api.apply_as_mechanic('Rex Rotor', p_workshop_id => :'w', p_certifications => ARRAY['ASE A5']) ->> 'status',
  'rejected', 'and may apply again');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Emails are written in the reader's zone: the database hands every recipient's zone to the worker
-- (the customer's own, else the appointment's place, else the platform default, never UTC) and the
-- invite's waiver link as a path the worker makes absolute on the frontend's URL.
BEGIN;
SELECT plan(12);

SELECT tests.se_customer('toronto@example.test', 'Tori Toronto') AS c \gset
UPDATE app.customers SET timezone = 'America/Toronto' WHERE user_id = :'c';
SELECT tests.se_customer('nozone@example.test', 'Nadia Nozone') AS c2 \gset
SELECT tests.se_mechanic('America/Vancouver', p_name => 'Val Vancouver') AS m \gset
SELECT tests.se_mechanic('Europe/London', p_with_workshop => true, p_name => 'Liz London') AS m2 \gset

SELECT tests.se_session(:'c', :'m', '2030-03-04 18:00+00') AS s \gset
SELECT app_private.session_email_context(:'s') AS ctx \gset
SELECT is(:'ctx'::jsonb #>> '{customer,timezone}', 'America/Toronto', 'the customer reads their own zone');
SELECT is(:'ctx'::jsonb #>> '{mechanic,timezone}', 'America/Vancouver', 'the mechanic reads theirs');
SELECT is((SELECT tests.as_sent(payload) #>> '{to,timezone}' FROM app.outbox
            WHERE session_id = :'s' AND payload ->> 'template' = 'confirmation'), 'America/Toronto',
  'the confirmation is addressed with the customer''s zone');
SELECT is((SELECT tests.as_sent(payload) #>> '{to,timezone}' FROM app.outbox
            WHERE session_id = :'s' AND payload ->> 'template' = 'mechanic_booking'), 'America/Vancouver',
  'the mechanic''s notice with the mechanic''s zone');

SELECT tests.se_session(:'c2', :'m2', '2030-03-05 10:00+00', 'in_person') AS s2 \gset
SELECT is(app_private.session_email_context(:'s2') #>> '{customer,timezone}', 'Europe/London',
  'a customer who never gave a zone reads the place''s (the workshop''s for in person)');
SELECT is(app_private.session_email_context(:'s2') #>> '{mechanic,timezone}', 'Europe/London',
  'a workshop mechanic reads the workshop''s zone');

SELECT tests.se_session(:'c', NULL, '2030-03-06 15:00+00') AS s3 \gset
SELECT is(app_private.session_email_context(:'s3') #>> '{customer,timezone}', 'America/Toronto',
  'no mechanic yet: the customer''s own zone');
SELECT tests.se_session(:'c2', NULL, '2030-03-07 15:00+00') AS s4 \gset
SELECT is(app_private.session_email_context(:'s4') #>> '{customer,timezone}', 'America/Toronto',
  'no mechanic and no zone of their own: the platform default, not UTC');
UPDATE app.booking_settings SET default_timezone = 'America/Halifax';
SELECT is(app_private.session_email_context(:'s4') #>> '{customer,timezone}', 'America/Halifax',
  'the default is data (booking_settings.default_timezone)');
SELECT throws_ok($$UPDATE app.booking_settings SET default_timezone = 'Nowhere/Land'$$, '23514', NULL,
  'the default must be a real zone');

SELECT is(app_private.session_invite_data(:'s', 'customer') ->> 'waiver_url', '/customer/appointments/' || :'s' || '/waiver',
  'the customer''s invite carries the waiver page''s path (the worker makes it absolute)');
SELECT is(app_private.session_invite_data(:'s', 'mechanic') ->> 'waiver_url', NULL, 'the mechanic''s has none');

SELECT * FROM finish();
ROLLBACK;

-- Notification emails and calendar invites, enqueued by the sessions trigger in the same
-- transaction as the change: booking, reschedule, new mechanic, cancellation, resend.
BEGIN;
SELECT plan(29);

SELECT tests.se_customer('casey@example.test', 'Casey Customer') AS c \gset
SELECT tests.se_mechanic('America/Toronto', false, 'morgan@example.test', 'Morgan Mechanic') AS m \gset
SELECT tests.se_session(:'c', :'m', '2030-03-04 15:00:00+00') AS s \gset

SELECT results_eq(format('SELECT template, recipient, method, seq FROM tests.se_emails(%L)', :'s'),
  $$VALUES ('confirmation'::text, 'customer'::text, 'REQUEST'::text, 0), ('mechanic_booking', 'mechanic', 'REQUEST', 0)$$,
  'a booking sends the confirmation (invite REQUEST, SEQUENCE 0) and the mechanic notice');
SELECT results_eq(format($$SELECT tests.as_sent(payload) -> 'to' ->> 'email', tests.as_sent(payload) -> 'invite' ->> 'uid', (tests.as_sent(payload) -> 'invite' ->> 'start')::timestamptz,
                                  tests.as_sent(payload) -> 'invite' -> 'attendees' -> 0 ->> 'email', (tests.as_sent(payload) -> 'context' ->> 'starts_at')::timestamptz,
                                  tests.as_sent(payload) -> 'context' ->> 'timezone'
                             FROM app.outbox WHERE kind = 'email.send' AND session_id = %L AND payload ->> 'template' = 'confirmation'$$, :'s'),
  format($$VALUES ('casey@example.test'::text, '%s@autodoctor'::text, '2030-03-04 15:00:00+00'::timestamptz,
                   'casey@example.test'::text, '2030-03-04 15:00:00+00'::timestamptz, 'America/Toronto'::text)$$, :'s'),
  'the confirmation goes to the customer, UID per session, UTC start and the zone to show it in');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE session_id = %L
                          AND (tests.as_sent(payload) -> 'context' ?| ARRAY['local_start', 'local_end', 'location', 'subject']
                               OR tests.as_sent(payload) -> 'invite' ?| ARRAY['summary', 'description', 'location'])$$, :'s'),
  'SQL hands over facts only: no formatted times, place line, subject, summary or description');
SELECT is((SELECT tests.as_sent(payload) -> 'invite' -> 'attendees' -> 0 ->> 'email' FROM app.outbox
            WHERE session_id = :'s' AND payload ->> 'template' = 'mechanic_booking'), 'morgan@example.test',
  'the mechanic''s copy lists the mechanic (not the customer''s address)');
SELECT is((SELECT tests.as_sent(payload) -> 'context' -> 'links' ->> 'waiver' FROM app.outbox
            WHERE session_id = :'s' AND payload ->> 'template' = 'confirmation'), '/customer/appointments/' || :'s' || '/waiver',
  'the email knows the waiver page');

UPDATE app.sessions SET concern = 'Squeaky brakes' WHERE id = :'s';
SELECT is((SELECT count(*)::int FROM tests.se_emails(:'s')), 2, 'an unrelated change sends nothing');

-- Reschedule: same UID, next SEQUENCE, the new instants.
UPDATE app.sessions SET scheduled_for = '2030-03-05 16:00:00+00', ends_at = '2030-03-05 16:30:00+00' WHERE id = :'s';
SELECT results_eq(format('SELECT template, recipient, method, seq FROM tests.se_emails(%L) OFFSET 2', :'s'),
  $$VALUES ('reschedule'::text, 'customer'::text, 'REQUEST'::text, 1), ('mechanic_reschedule', 'mechanic', 'REQUEST', 1)$$,
  'a reschedule sends REQUEST updates with SEQUENCE 1 to both sides');
SELECT results_eq(format($$SELECT (tests.as_sent(payload) -> 'invite' ->> 'start')::timestamptz, (tests.as_sent(payload) -> 'invite' ->> 'end')::timestamptz,
                                  (tests.as_sent(payload) -> 'context' ->> 'previous_starts_at')::timestamptz
                             FROM app.outbox WHERE session_id = %L AND payload ->> 'template' = 'reschedule'$$, :'s'),
  $$VALUES ('2030-03-05 16:00:00+00'::timestamptz, '2030-03-05 16:30:00+00'::timestamptz, '2030-03-04 15:00:00+00'::timestamptz)$$,
  'the update carries the new start and end (and the old start for the text)');

-- Invite download: the customer's copy as it stands.
SELECT tests.authenticate_as(:'c', 'customer');
SELECT results_eq(format($$SELECT i ->> 'method', (i ->> 'sequence')::int, i -> 'attendees' -> 0 ->> 'email' FROM api.appointment_invite(%L) i$$, :'s'),
  $$VALUES ('REQUEST'::text, 1, 'casey@example.test'::text)$$, 'the customer downloads the current invite');
SELECT ok((api.resend_confirmation(:'s') ->> 'queued')::boolean, 'the customer has the confirmation re-sent');
SELECT tests.set_now(now() + interval '4 minutes');
SELECT throws_ok(format($$SELECT api.resend_confirmation(%L)$$, :'s'), 'AD429',
  'The confirmation was just re-sent; try again in a few minutes', 'a second resend within 5 minutes is refused');
SELECT tests.set_now(now() + interval '5 minutes');
SELECT ok((api.resend_confirmation(:'s') ->> 'queued')::boolean,
  'and allowed again 5 minutes later');
SELECT tests.set_now(NULL);
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT idempotency_key, (tests.as_sent(payload) -> 'invite' ->> 'sequence')::int FROM app.outbox
                            WHERE session_id = %L AND idempotency_key LIKE '%%confirmation_resend%%' ORDER BY id$$, :'s'),
  format($$VALUES ('email:%1$s:confirmation_resend:customer:1'::text, 1), ('email:%1$s:confirmation_resend:customer:2', 1)$$, :'s'),
  'each resend is one more email carrying the current SEQUENCE (nothing changed)');
SELECT tests.authenticate_as(:'m', 'mechanic');
SELECT is((SELECT i -> 'attendees' -> 0 ->> 'email' FROM api.appointment_invite(:'s') i), 'morgan@example.test',
  'the mechanic downloads their own copy');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(tests.se_customer(), 'customer');
SELECT throws_ok(format('SELECT api.appointment_invite(%L)', :'s'), 'AD404', NULL, 'a stranger cannot download it');
SELECT throws_ok(format('SELECT api.resend_confirmation(%L)', :'s'), 'AD404', NULL, 'nor have it re-sent');
SELECT tests.clear_authentication();

-- Cancellation: METHOD CANCEL, next SEQUENCE, both sides.
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'s';
SELECT results_eq(format($$SELECT template, recipient, method, seq FROM tests.se_emails(%L) WHERE template LIKE '%%cancellation'$$, :'s'),
  $$VALUES ('cancellation'::text, 'customer'::text, 'CANCEL'::text, 2), ('mechanic_cancellation', 'mechanic', 'CANCEL', 2)$$,
  'a cancellation sends METHOD:CANCEL with SEQUENCE 2 to both sides');
SELECT is((SELECT count(DISTINCT tests.as_sent(payload) -> 'invite' ->> 'uid')::int FROM app.outbox WHERE session_id = :'s' AND payload ? 'invite'),
  1, 'every invite of the session has the same UID');
SELECT is(ARRAY(SELECT seq FROM tests.se_emails(:'s') WHERE recipient = 'customer'
                                                       AND idempotency_key NOT LIKE '%confirmation_resend%'),
  ARRAY[0, 1, 2], 'the customer''s invites go 0, 1, 2 in order');
SELECT tests.authenticate_as(:'c', 'customer');
SELECT is((SELECT i ->> 'method' FROM api.appointment_invite(:'s') i), 'CANCEL', 'the downloadable invite is now a CANCEL');
SELECT throws_ok(format('SELECT api.resend_confirmation(%L)', :'s'), 'AD409', NULL, 'a cancelled appointment has no confirmation to re-send');
SELECT tests.clear_authentication();

-- Another mechanic takes over: the old one gets a CANCEL of their copy, the new one the booking.
SELECT tests.se_mechanic('America/Toronto', false, 'riley@example.test', 'Riley Mechanic') AS m2 \gset
SELECT tests.se_session(:'c', :'m', '2030-04-01 15:00:00+00') AS s2 \gset
-- what the worker sent before the change (it picks a row up within milliseconds)
CREATE TEMP TABLE sent_before AS
SELECT id, tests.as_sent(payload) AS payload FROM app.outbox WHERE session_id = :'s2' AND kind = 'email.send';
UPDATE app.sessions SET mechanic_id = :'m2' WHERE id = :'s2';
SELECT results_eq(format($$SELECT payload ->> 'template', payload -> 'to' ->> 'email', payload -> 'invite' ->> 'method',
                                  (payload -> 'invite' ->> 'sequence')::int
                             FROM (SELECT id, payload FROM sent_before
                                   UNION ALL
                                   SELECT o.id, tests.as_sent(o.payload) FROM app.outbox o
                                    WHERE o.session_id = %L AND o.kind = 'email.send'
                                      AND NOT EXISTS (SELECT FROM sent_before b WHERE b.id = o.id)) x
                            WHERE payload ->> 'template' <> 'confirmation'
                            ORDER BY id$$, :'s2'),
  $$VALUES ('mechanic_booking'::text, 'morgan@example.test'::text, 'REQUEST'::text, 0),
           ('reschedule', 'casey@example.test', 'REQUEST', 1),
           ('mechanic_cancellation', 'morgan@example.test', 'CANCEL', 1),
           ('mechanic_booking', 'riley@example.test', 'REQUEST', 1)$$,
  'a new mechanic: the customer''s invite is updated, the old mechanic''s cancelled, the new one booked');
SELECT results_eq(format($$SELECT payload ->> 'recipient_id', app_private.session_email_facts(payload) ->> 'skip' FROM app.outbox
                            WHERE session_id = %L AND payload ->> 'template' = 'mechanic_booking' ORDER BY id LIMIT 1$$, :'s2'),
  format($$VALUES (%L::text, 'recipient_changed'::text)$$, :'m'),
  'had the old mechanic''s booking notice not been sent before the change, it would be skipped (recipient_changed): they get the cancellation of their copy');

-- Deferred matching assigns the mechanic later.
SELECT tests.se_session(tests.se_customer(), NULL, '2030-05-01 15:00:00+00') AS s3 \gset
SELECT results_eq(format('SELECT template, recipient FROM tests.se_emails(%L)', :'s3'),
  $$VALUES ('confirmation'::text, 'customer'::text)$$, 'without a mechanic only the customer is told');
UPDATE app.sessions SET mechanic_id = :'m2' WHERE id = :'s3';
SELECT results_eq(format('SELECT template, recipient, seq FROM tests.se_emails(%L) OFFSET 1', :'s3'),
  $$VALUES ('mechanic_assigned'::text, 'customer'::text, 1), ('mechanic_booking', 'mechanic', 1)$$,
  'when matching assigns one, the customer''s invite is updated and the mechanic told');

-- Sessions that are not scheduled appointments send nothing here.
INSERT INTO app.sessions (customer_id, plan_code, type, is_advice_only, concern, concern_category, ends_at, status)
VALUES (tests.se_customer(), 'standard', 'chat', true, 'Now please', 'diagnostic', now() + interval '30 minutes', 'pending')
RETURNING id AS imm \gset
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE session_id = %L$$, :'imm'),
  'an immediate session enqueues no booking email and no up-front charge');
SELECT is((SELECT (api.send_due_reminders() ->> 'sent')::int), 0, 'and the reminder job sends it none');

-- All of it happened in the booking's transaction: a rolled-back booking leaves no email.
SAVEPOINT before_booking;
SELECT tests.se_booking('2030-06-01 15:00:00+00') AS s4 \gset
ROLLBACK TO SAVEPOINT before_booking;
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE session_id = %L$$, :'s4'), 'a rolled-back booking leaves no outbox row');
SELECT is_empty(format($$SELECT 1 FROM app.scheduled_payments WHERE session_id = %L$$, :'s4'), 'and no payment');

SELECT * FROM finish();
ROLLBACK;

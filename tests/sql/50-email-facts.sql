-- Session emails carry ids and facts only; the email.send kind's claim-time context_fn
-- (app_private.session_email_facts) reads the recipient, the context and the invite when the row is
-- claimed: the session as it is then, the invite at the SEQUENCE/METHOD it was enqueued for, and a
-- skip (with its reason) when the session or the recipient is gone or the recipient was replaced.
BEGIN;
SELECT plan(14);

SELECT tests.se_booking('2030-05-06 15:00:00+00') AS s \gset
SELECT s.customer_id AS c, u.email AS c_email FROM app.sessions s JOIN app.users u ON u.id = s.customer_id
 WHERE s.id = :'s' \gset
SELECT id AS conf FROM app.outbox WHERE session_id = :'s' AND payload ->> 'template' = 'confirmation' \gset

-- The row: ids and facts.
SELECT is((SELECT payload FROM app.outbox WHERE id = :'conf'),
  jsonb_build_object('template', 'confirmation', 'recipient_role', 'customer', 'recipient_id', :'c'::text,
                     'session_id', :'s'::text, 'context', '{}'::jsonb,
                     'invite', jsonb_build_object('uid', :'s' || '@autodoctor', 'sequence', 0, 'method', 'REQUEST')),
  'a session email row carries ids and facts only (no address, no context, no invite data)');
SELECT cmp_ok((SELECT pg_column_size(payload) FROM app.outbox WHERE id = :'conf'), '<', 400,
  'a few hundred bytes (the snapshot was ~1.7 KB, past the TOAST threshold)');

-- Claimed: the worker gets the payload it always got.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT results_eq(format($$SELECT payload #>> '{to,email}', payload #>> '{context,session_id}',
                                  (payload #>> '{context,starts_at}')::timestamptz, payload #>> '{invite,uid}',
                                  (payload #>> '{invite,sequence}')::int, payload #>> '{invite,attendees,0,email}', skip_reason
                             FROM api.outbox_claim('w1', 50, 60, ARRAY['email']) WHERE id = %s$$, :'conf'),
  format($$VALUES (%L::text, %L::text, '2030-05-06 15:00:00+00'::timestamptz, %L || '@autodoctor', 0, %L::text, NULL::text)$$,
         :'c_email', :'s', :'s', :'c_email'),
  'claimed, it carries the recipient, the session context and the invite, read in the claim''s transaction');
SELECT tests.clear_authentication();
SELECT is((SELECT count(*)::int FROM app.outbox WHERE session_id = :'s' AND kind = 'email.send' AND status = 'running'), 2,
  'both booking emails were claimed');

-- Changed before it was sent: the session as it is now, the invite at its own SEQUENCE.
UPDATE app.sessions SET scheduled_for = '2030-05-07 16:00:00+00', ends_at = '2030-05-07 16:30:00+00' WHERE id = :'s';
SELECT results_eq(format($$SELECT (f #>> '{context,starts_at}')::timestamptz, (f #>> '{invite,start}')::timestamptz,
                                  (f #>> '{invite,sequence}')::int, f #>> '{invite,method}', f #>> '{invite,status}'
                             FROM (SELECT app_private.session_email_facts(payload) f FROM app.outbox WHERE id = %s) x$$, :'conf'),
  $$VALUES ('2030-05-07 16:00:00+00'::timestamptz, '2030-05-07 16:00:00+00'::timestamptz, 0, 'REQUEST'::text, 'CONFIRMED'::text)$$,
  'a confirmation sent after a reschedule describes the new start; its invite keeps SEQUENCE 0 / REQUEST');
SELECT results_eq(format($$SELECT (payload #>> '{invite,sequence}')::int, payload #>> '{context,previous_starts_at}'
                             FROM app.outbox WHERE session_id = %L AND payload ->> 'template' = 'reschedule'$$, :'s'),
  $$VALUES (1, '2030-05-06T15:00:00+00:00'::text)$$, 'the reschedule''s own row carries its SEQUENCE and its previous start');
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'s';
SELECT results_eq(format($$SELECT f #>> '{context,status}', f #>> '{invite,method}', (f #>> '{invite,sequence}')::int
                             FROM (SELECT app_private.session_email_facts(payload) f FROM app.outbox WHERE id = %s) x$$, :'conf'),
  $$VALUES ('cancelled'::text, 'REQUEST'::text, 0)$$,
  'sent after the cancellation: the context says cancelled, the invite is still version 0 (the CANCEL is version 2)');
SELECT results_eq(format($$SELECT (payload #>> '{invite,sequence}')::int, payload #>> '{invite,method}' FROM app.outbox
                             WHERE session_id = %L AND payload ->> 'template' = 'cancellation'$$, :'s'),
  $$VALUES (2, 'CANCEL'::text)$$, 'the cancellation''s own row: SEQUENCE 2, CANCEL');

-- Gone or replaced: skipped, with the reason.
SELECT is(app_private.session_email_facts((SELECT payload FROM app.outbox WHERE id = :'conf')
                                          || jsonb_build_object('session_id', gen_random_uuid())),
  '{"skip": "session_gone"}'::jsonb, 'an unknown session: skipped, session_gone');
SELECT is(app_private.session_email_facts((SELECT payload FROM app.outbox WHERE id = :'conf')
                                          || jsonb_build_object('recipient_id', gen_random_uuid())),
  '{"skip": "recipient_changed"}'::jsonb, 'a recipient who is no longer the session''s customer: skipped, recipient_changed');
UPDATE app.users SET deleted_at = now() WHERE id = :'c';
SELECT is(app_private.session_email_facts((SELECT payload FROM app.outbox WHERE id = :'conf')),
  '{"skip": "recipient_gone"}'::jsonb, 'a deleted recipient: skipped, recipient_gone');
SELECT tests.authenticate_as(NULL, 'worker');
SELECT results_eq(format($$SELECT skip_reason, payload ? 'to' FROM api.outbox_claim('w2', 50, 60, ARRAY['email'])
                            WHERE id = (SELECT id FROM app.outbox WHERE session_id = %L AND payload ->> 'template' = 'cancellation')$$, :'s'),
  $$VALUES ('recipient_gone'::text, false)$$, 'the claim hands a skipped row over with its skip_reason and no recipient');
SELECT tests.clear_authentication();

-- Snapshot emails (not about a session's state) are sent as written.
SELECT is(app_private.session_email_facts('{"template": "waitlist_joined", "to": {"email": "w@example.test"}, "context": {}}'),
  NULL, 'a payload with its recipient (offers, waitlist, applications) gets nothing added');
SELECT ok(has_function_privilege('autodoc_worker', 'app_private.session_email_facts(jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('autodoc_customer', 'app_private.session_email_facts(jsonb)', 'EXECUTE'),
  'the worker may read an email''s facts, a customer may not');

SELECT * FROM finish();
ROLLBACK;

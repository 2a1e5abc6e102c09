-- The side effects of the real booking functions (not direct inserts): hold -> booking ->
-- reschedule -> cancellation through api.hold_slot, api.create_session, api.reschedule_session
-- and api.set_session_status, with an injected "now" for the booking rules.
BEGIN;
SELECT plan(13);

CREATE TEMP TABLE t AS SELECT '2030-03-01 12:00:00+00'::timestamptz AS now_;
SELECT tests.create_customer() AS c \gset
SELECT tests.create_independent_mechanic() AS m \gset
SELECT tests.create_admin() AS adm \gset

-- A hold: its one PaymentIntent is requested at once, no email yet.
SELECT tests.hold(:'c', :'m', '2030-03-05 15:00:00+00', (SELECT now_ FROM t)) AS h \gset
SELECT results_eq(format($$SELECT payment_type, amount_cents, status FROM app.scheduled_payments WHERE session_id = %L$$, :'h'),
  $$VALUES ('full'::text, 2900, 'pending'::text)$$, 'a slot hold has its charge (and so its client secret) at once');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE kind = 'email.send' AND session_id = %L$$, :'h'), 'a hold sends no email');

-- The booking converts the hold: same single charge, confirmation + mechanic notice + reminders.
SELECT tests.with_claims(:'c', 'customer') AS old \gset
SELECT tests.set_now((SELECT now_ FROM t));
SELECT (api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Brakes squeal',
          p_is_advice_only => true, p_scheduled_for => '2030-03-05 15:00:00+00', p_hold_id => :'h') ->> 'id') AS s \gset
SELECT tests.restore_claims(:'old');
SELECT is(:'s'::uuid, :'h'::uuid, 'the booking is the converted hold');
-- The booking transaction writes one compact event (ids only) and no email; the worker fans it out.
SELECT results_eq(format($$SELECT idempotency_key, payload FROM app.outbox WHERE kind = 'session.booked' AND session_id = %L$$, :'s'),
  format($$VALUES ('booked:%s'::text, jsonb_build_object('session_id', %L::text))$$, :'s', :'s'),
  'the booking writes one session.booked event carrying only the session id');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE kind = 'email.send' AND session_id = %L$$, :'s'),
  'and no email in its own transaction');
SELECT is(tests.fan_out(:'s'), 1, 'the worker completes the event once');
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id = :'s'), 1, 'still exactly one charge');
SELECT results_eq(format('SELECT template, method, seq FROM tests.se_emails(%L)', :'s'),
  $$VALUES ('confirmation'::text, 'REQUEST'::text, 0), ('mechanic_booking', 'REQUEST', 0)$$,
  'booking sends the confirmation and the mechanic notice');
SELECT is((SELECT count(*)::int FROM app.session_reminders WHERE session_id = :'s' AND skipped_at IS NULL), 3,
  'and plans three reminders');

-- Reschedule through the booking function.
SELECT tests.with_claims(:'c', 'customer') AS old \gset
SELECT tests.set_now((SELECT now_ FROM t));
SELECT api.reschedule_session(:'s', '2030-03-06 16:00:00+00');
SELECT tests.restore_claims(:'old');
SELECT results_eq(format($$SELECT template, method, seq FROM tests.se_emails(%L) OFFSET 2$$, :'s'),
  $$VALUES ('reschedule'::text, 'REQUEST'::text, 1), ('mechanic_reschedule', 'REQUEST', 1)$$,
  'api.reschedule_session sends the updates');
SELECT is((SELECT min(scheduled_for) FROM app.session_reminders WHERE session_id = :'s'), '2030-03-06 16:00:00+00'::timestamptz,
  'and re-plans the reminders');

-- Cancellation through the lifecycle function.
SELECT tests.with_claims(:'adm', 'admin') AS old \gset
SELECT api.set_session_status(:'s', 'cancelled', 'admin');
SELECT tests.restore_claims(:'old');
SELECT results_eq(format($$SELECT template, method, seq FROM tests.se_emails(%L) OFFSET 4$$, :'s'),
  $$VALUES ('cancellation'::text, 'CANCEL'::text, 2), ('mechanic_cancellation', 'CANCEL', 2)$$,
  'a cancellation sends the CANCEL invites');
SELECT is((SELECT count(*)::int FROM app.session_reminders WHERE session_id = :'s' AND skip_reason = 'cancelled'), 3,
  'and stops the reminders');

SELECT * FROM finish();
ROLLBACK;

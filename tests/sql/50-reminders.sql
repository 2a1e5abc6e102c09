-- Reminders 1 day, 1 hour and 15 minutes before a scheduled start, produced set-based by the job
-- from the sessions due in its window (nothing is written per booking): due at the boundary (not a
-- second before), exactly once also when the job runs twice or late, only what is still meaningful
-- when late, moved by a reschedule, stopped by a cancellation, never one due before the booking.
-- Time is always the injected trusted clock (tests.set_now): booked three days ahead, so the test
-- holds at any real date.
BEGIN;
SELECT plan(33);

CREATE TEMP TABLE t AS SELECT '2030-03-10 15:00:00+00'::timestamptz AS start;
SELECT tests.set_now('2030-03-07 15:00:00+00');
SELECT tests.se_booking((SELECT start FROM t)) AS s \gset
SELECT hasnt_table('app', 'session_reminders', 'no reminder table: a booking writes no reminder rows');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE session_id = %L AND payload ->> 'template' LIKE 'reminder_%%'$$, :'s'),
  'and the booking enqueued no reminder');

CREATE FUNCTION pg_temp.run(p_at text) RETURNS int LANGUAGE sql AS
  $$SELECT tests.set_now(p_at::timestamptz); SELECT (api.send_due_reminders() ->> 'sent')::int$$;
CREATE FUNCTION pg_temp.sent(p_session uuid) RETURNS text[] LANGUAGE sql AS
  $$SELECT coalesce(array_agg(payload ->> 'template' ORDER BY id), '{}') FROM app.outbox
     WHERE session_id = p_session AND payload ->> 'template' LIKE 'reminder_%'$$;

-- 1 day before, at the boundary.
SELECT is(pg_temp.run('2030-03-09 14:59:59+00'), 0, '1 day minus 1 s before: nothing yet');
SELECT is(pg_temp.run('2030-03-09 15:00:00+00'), 1, 'exactly 1 day before: the 1-day reminder');
SELECT is(pg_temp.run('2030-03-09 15:00:00+00'), 0, 'the job running twice in a row sends nothing more');
SELECT is(pg_temp.run('2030-03-09 15:00:01+00'), 0, '1 s later: nothing more');
-- 1 hour before.
SELECT is(pg_temp.run('2030-03-10 13:59:59+00'), 0, '1 hour + 1 s before: nothing');
SELECT is(pg_temp.run('2030-03-10 14:00:00+00'), 1, 'exactly 1 hour before: the 1-hour reminder');
SELECT is(pg_temp.run('2030-03-10 14:00:01+00'), 0, 'then nothing');
-- 15 minutes before.
SELECT is(pg_temp.run('2030-03-10 14:44:59+00'), 0, '15 min + 1 s before: nothing');
SELECT is(pg_temp.run('2030-03-10 14:45:00+00'), 1, 'exactly 15 min before: the 15-minute reminder');
SELECT is(pg_temp.run('2030-03-10 14:45:01+00'), 0, 'and it is not sent twice');
SELECT is(pg_temp.sent(:'s'), ARRAY['reminder_1d', 'reminder_1h', 'reminder_15m'], 'three reminders, one of each, in order');
SELECT is((SELECT tests.as_sent(payload) -> 'context' -> 'links' ->> 'waiver' FROM app.outbox
            WHERE session_id = :'s' AND payload ->> 'template' = 'reminder_15m'),
  '/customer/appointments/' || :'s' || '/waiver', 'the 15-minute reminder links to the waiver page');
SELECT is((SELECT tests.as_sent(payload) -> 'to' ->> 'email' FROM app.outbox WHERE session_id = :'s' AND payload ->> 'template' = 'reminder_1h'),
  (SELECT u.email FROM app.sessions x JOIN app.users u ON u.id = x.customer_id WHERE x.id = :'s'), 'reminders go to the customer');

-- A late job (pg_cron was down): only what still makes sense.
SELECT tests.se_booking((SELECT start FROM t) + interval '1 day') AS late \gset
SELECT is(pg_temp.run('2030-03-11 14:50:00+00'), 1, '10 minutes before the start, a late run sends one reminder');
SELECT is(pg_temp.sent(:'late'), ARRAY['reminder_15m'], 'the 15-minute one, never "tomorrow" or "in 1 hour"');
SELECT is(pg_temp.run('2030-03-11 14:55:00+00'), 0, 'the stale ones are never sent later');

SELECT tests.se_booking((SELECT start FROM t) + interval '2 days') AS late2 \gset
SELECT is(pg_temp.run('2030-03-12 14:00:00+00'), 1, 'a run exactly 1 hour before, the 1-day one never sent');
SELECT is(pg_temp.sent(:'late2'), ARRAY['reminder_1h'], 'sends the 1-hour reminder only (1-day is stale from then on)');
SELECT tests.se_booking((SELECT start FROM t) + interval '3 days') AS late3 \gset
SELECT is(pg_temp.run('2030-03-13 13:59:59+00'), 1, 'a run 1 s before the 1-hour mark');
SELECT is(pg_temp.sent(:'late3'), ARRAY['reminder_1d'], 'still sends the 1-day reminder');
SELECT is(pg_temp.run('2030-03-13 15:00:00+00') + pg_temp.run('2030-03-13 16:00:00+00'), 0,
  'runs at and after the start send nothing');
SELECT is(pg_temp.sent(:'late3'), ARRAY['reminder_1d'], 'the 1-hour and 15-minute ones were stale: never sent');

-- Reschedule re-plans.
SELECT tests.se_booking((SELECT start FROM t) + interval '10 days') AS rs \gset
SELECT is(pg_temp.run('2030-03-19 15:00:00+00'), 1, 'the 1-day reminder of the original time is sent');
UPDATE app.sessions SET scheduled_for = '2030-03-22 15:00:00+00', ends_at = '2030-03-22 15:30:00+00' WHERE id = :'rs';
SELECT is(pg_temp.run('2030-03-19 15:30:00+00'), 0, 'after the move, nothing is due for the new start yet');
SELECT is(pg_temp.run('2030-03-20 14:00:00+00'), 0, 'nothing at the old start''s 1-hour mark');
SELECT is(pg_temp.run('2030-03-21 15:00:00+00'), 1, 'the new start''s 1-day reminder is sent');
SELECT is((SELECT count(DISTINCT idempotency_key)::int FROM app.outbox WHERE session_id = :'rs' AND payload ->> 'template' = 'reminder_1d'),
  2, 'one 1-day reminder per start time (distinct keys)');

-- Cancellation stops them.
SELECT tests.se_booking((SELECT start FROM t) + interval '20 days') AS cx \gset
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'cx';
SELECT is(pg_temp.run('2030-03-30 15:00:00+00') + pg_temp.run('2030-03-31 14:00:00+00') + pg_temp.run('2030-03-31 14:45:00+00'),
  0, 'a cancelled appointment gets no reminder');
SELECT is(pg_temp.sent(:'cx'), '{}'::text[], 'none was enqueued for it');

-- Booked less than a day ahead: the 1-day reminder is skipped at booking, not sent right after it.
SELECT tests.set_now(NULL);
SELECT tests.se_booking(date_trunc('minute', now()) + interval '3 hours') AS soon \gset
SELECT is((api.send_due_reminders() ->> 'sent')::int, 0, 'a booking 3 h ahead: its 1-day reminder was due before it was booked');
SELECT is(pg_temp.sent(:'soon'), '{}'::text[], 'and is never sent');

SELECT * FROM finish();
ROLLBACK;

-- A booking's session.booked event is applied by api.outbox_apply_due in ONE worker transaction
-- (the `database` lane): never leased by a claim, exactly once (a worker killed before its commit
-- leaves the row pending and nothing written; a second apply finds nothing), a failing apply
-- counts an attempt of its own row only, and only the worker may call it.
BEGIN;
SELECT plan(20);

-- bookings written as the booking trigger writes them (tests.se_session would fan them out at once)
CREATE TEMP TABLE b (id uuid);
DO $$
BEGIN
  FOR g IN 1..2 LOOP
    INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, service_mode, is_advice_only, concern,
                              concern_category, scheduled_for, ends_at, status)
    VALUES (tests.se_customer(), tests.se_mechanic(), 'standard', 'video', 'online', true, 'Grinding noise', 'diagnostic',
            date_trunc('hour', now()) + interval '3 days',
            date_trunc('hour', now()) + interval '3 days' + make_interval(mins => (SELECT duration_minutes FROM app.plans
                                                                                  WHERE code = 'standard')),
            'scheduled');
  END LOOP;
  INSERT INTO b SELECT s.id FROM app.sessions s
   WHERE s.id IN (SELECT o.session_id FROM app.outbox o WHERE o.kind = 'session.booked' AND o.status = 'pending');
END
$$;
SELECT id AS s1 FROM b ORDER BY id LIMIT 1 \gset
SELECT id AS s2 FROM b ORDER BY id DESC LIMIT 1 \gset

SELECT is((SELECT lane FROM app.outbox_kinds WHERE kind = 'session.booked'), 'database',
  'session.booked runs in the database lane');
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is_empty($$SELECT 1 FROM api.outbox_claim('w1', 50, 60) WHERE kind = 'session.booked'$$,
  'a claim of every lane never leases a booking event');
SELECT is_empty($$SELECT 1 FROM api.outbox_claim('w1', 50, 60, ARRAY['database'])$$,
  'not even a claim of the database lane');

-- A worker killed before its commit: everything it applied is rolled back with the row's state.
SAVEPOINT killed;
SELECT is(api.outbox_apply_due('w1', 10), 2, 'the apply runs both events');
ROLLBACK TO SAVEPOINT killed;
SELECT results_eq(format($$SELECT status, attempts FROM app.outbox WHERE kind = 'session.booked' AND session_id IN (%L, %L)$$,
                         :'s1', :'s2'),
  $$VALUES ('pending'::text, 0), ('pending', 0)$$, 'killed before its commit: the events are pending, no attempt counted');
SELECT is_empty(format($$SELECT 1 FROM app.outbox WHERE kind <> 'session.booked' AND session_id IN (%L, %L)$$, :'s1', :'s2'),
  'and nothing of their fan-out exists');

-- One batch: applied and done in the same transaction.
SELECT is(api.outbox_apply_due('w1', 1), 1, 'a batch applies at most p_limit rows');
SELECT is(api.outbox_apply_due('w1', 10), 1, 'and the next batch the rest');
SELECT results_eq(format($$SELECT status, attempts, result ->> 'applied_by', leased_until IS NULL AND locked_by IS NULL
                             FROM app.outbox WHERE kind = 'session.booked' AND session_id = %L$$, :'s1'),
  $$VALUES ('done'::text, 1, 'w1'::text, true)$$, 'the event is done in the applying transaction (one attempt, never leased)');
SELECT results_eq(format($$SELECT kind, idempotency_key, status FROM app.outbox
                            WHERE session_id = %L AND kind <> 'session.booked' ORDER BY id$$, :'s1'),
  format($$VALUES ('stripe.charge'::text, 'charge:%1$s:full'::text, 'pending'::text),
                  ('email.send', 'email:%1$s:confirmation:customer:0', 'pending'),
                  ('email.send', 'email:%1$s:mechanic_booking:mechanic:0', 'pending')$$, :'s1'),
  'its fan-out: the charge and both confirmation emails, with their deterministic keys');

-- Applied again: nothing is due, nothing changes; a completion by hand applies nothing either.
SELECT tests.clear_authentication();
CREATE TEMP TABLE before_ AS SELECT id, status, attempts, payload FROM app.outbox WHERE session_id IN (:'s1', :'s2');
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is(api.outbox_apply_due('w1', 10), 0, 'a second apply finds nothing due');
SELECT ok(NOT api.outbox_complete((SELECT id FROM app.outbox WHERE kind = 'session.booked' AND session_id = :'s1'), 'w2'),
  'a completion of the done event returns false');
SELECT tests.clear_authentication();
SELECT set_eq(format('SELECT id, status, attempts, payload FROM app.outbox WHERE session_id IN (%L, %L)', :'s1', :'s2'),
  'SELECT id, status, attempts, payload FROM before_', 'and no outbox row was added or changed');
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id IN (:'s1', :'s2')), 2,
  'one charge per booking');

-- An apply that raises: its own row counts the failed attempt (backoff, then the dead letters); the
-- batch's other rows still apply.
INSERT INTO app.outbox (kind, idempotency_key, payload, max_attempts, run_after)
VALUES ('session.booked', 'booked:broken', '{"session_id": "not-a-uuid"}', 2, now() - interval '1 minute');
SELECT app_private.outbox_enqueue('session.booked', 'booked:again:' || :'s2', jsonb_build_object('session_id', :'s2'), :'s2');
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is(api.outbox_apply_due('w1', 10), 1, 'the good row of the batch applies');
SELECT results_eq($$SELECT status, attempts, run_after > now(), last_error LIKE '22P02:%' FROM app.outbox
                    WHERE idempotency_key = 'booked:broken'$$,
  $$VALUES ('pending'::text, 1, true, true)$$, 'the broken row is pending again after its backoff, with its error');
SELECT tests.clear_authentication();
UPDATE app.outbox SET run_after = now() - interval '1 second' WHERE idempotency_key = 'booked:broken';
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is(api.outbox_apply_due('w1', 10), 0, 'its last attempt fails too');
SELECT is((SELECT status FROM app.outbox WHERE idempotency_key = 'booked:broken'), 'dead',
  'and it ends in the dead letters');
SELECT tests.clear_authentication();

-- Only the worker applies.
SELECT tests.authenticate_as(tests.se_customer(), 'customer');
SELECT throws_ok($$SELECT api.outbox_apply_due('x', 10)$$, '42501', NULL, 'a customer cannot apply outbox rows');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(tests.create_admin(), 'admin');
SELECT throws_ok($$SELECT api.outbox_apply_due('x', 10)$$, '42501', NULL, 'nor an admin');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

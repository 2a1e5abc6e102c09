-- The outbox: enqueue idempotency, claim with SKIP LOCKED and a lease, complete, backoff, dead
-- letters and retry, worker registration, health, and who may touch it.
BEGIN;
SELECT plan(43);

-- NOTIFY is off the write paths (a notifying commit holds a cluster-wide lock until its flush): the
-- API and the worker wake the listeners after their commits; only the rare graceful release notifies.
SELECT is_empty($$SELECT tgname FROM pg_trigger WHERE tgrelid = 'app.outbox'::regclass AND NOT tgisinternal
                     AND tgname <> 'outbox_05_kind_registered'$$,
  'the outbox has no trigger but the kind check (no NOTIFY from the writing transaction)');
SELECT is_empty($$SELECT n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname IN ('app', 'app_private', 'api') AND p.prosrc ILIKE '%pg_notify%'
                     AND p.proname <> 'outbox_release'$$,
  'no function or trigger notifies from inside a write, except the graceful release of claimed rows');
SELECT is_empty($$
  SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'app' AND c.relname IN ('outbox', 'worker_heartbeats', 'scheduled_payments', 'payment_refunds',
                                              'stripe_events', 'session_invites', 'reminder_watermark')
     AND NOT c.relrowsecurity$$, 'every side-effect table has row-level security');

-- Enqueue: the idempotency key makes a second enqueue of the same purpose a no-op.
SELECT app_private.outbox_enqueue('noop', 'test:one', '{"n": 1}') AS one \gset
SELECT is(app_private.outbox_enqueue('noop', 'test:one', '{"n": 2}'), :one::bigint,
  'enqueueing the same key again returns the existing row');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE idempotency_key = 'test:one'), 1, 'and stores it once');
SELECT is((SELECT payload ->> 'n' FROM app.outbox WHERE id = :one), '1', 'the first payload wins');
SELECT throws_ok($$SELECT app_private.outbox_enqueue('bogus.kind', 'test:bogus', '{}')$$, '23503', NULL,
  'a kind that is not in the registry is rejected');

-- Claim: leased to one worker; SKIP LOCKED + lease keep everyone else off it.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT tests.set_now(NULL);
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w1', 10, 60)), 1, 'worker w1 claims the due row');
SELECT results_eq($$SELECT status, attempts, locked_by FROM app.outbox WHERE idempotency_key = 'test:one'$$,
  $$VALUES ('running'::text, 1, 'w1'::text)$$, 'the row is running, leased to w1, attempt 1');
SELECT is_empty($$SELECT * FROM api.outbox_claim('w2', 10, 60)$$, 'w2 gets nothing while the lease holds');
SELECT tests.set_now(now() + interval '61 seconds');
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w2', 10, 60)), 1,
  'after the lease expires (w1 died) w2 claims it');
SELECT results_eq($$SELECT attempts, locked_by FROM app.outbox WHERE idempotency_key = 'test:one'$$,
  $$VALUES (2, 'w2'::text)$$, 'the reclaim counts as attempt 2');
SELECT is(api.outbox_fail(:one, 'w1', 'late report from the dead worker'), NULL,
  'a worker that lost its lease cannot report a failure');
SELECT ok(api.outbox_complete(:one, 'w2', '{"ok": true}'), 'w2 completes the row');
SELECT ok(NOT api.outbox_complete(:one, 'w1', '{"ok": "again"}'), 'completing a done row again is a no-op');
SELECT results_eq($$SELECT status, result ->> 'ok' FROM app.outbox WHERE id = $$ || :one,
  $$VALUES ('done'::text, 'true'::text)$$, 'done with the first result');
SELECT tests.clear_authentication();

-- Backoff and dead letters: the retry policy is the kind's registry row (here 10 s doubling).
UPDATE app.outbox_kinds SET backoff_base_seconds = 10 WHERE kind = 'noop';
SELECT app_private.outbox_enqueue('noop', 'test:two', '{}', NULL, '2030-01-01 00:00:00+00', 3) AS two \gset
SELECT tests.authenticate_as(NULL, 'worker');
SELECT tests.set_now('2029-12-31 23:59:59+00');
SELECT is_empty($$SELECT * FROM api.outbox_claim('w1', 10, 60)$$,
  'a row is not claimed before its run_after');
SELECT tests.set_now('2030-01-01 00:00:00+00');
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w1', 10, 60)), 1, 'it is claimed at run_after');
SELECT is(api.outbox_fail(:two, 'w1', 'SMTP 451'), 'pending', 'a retryable failure goes back to pending');
SELECT is((SELECT run_after FROM app.outbox WHERE id = :two), '2030-01-01 00:00:10+00'::timestamptz,
  'first retry after base * 2^0 = 10 s');
SELECT tests.set_now('2030-01-01 00:00:10+00');
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w1', 10, 60)), 1, 'attempt 2 is claimed when due');
SELECT is(api.outbox_fail(:two, 'w1', 'SMTP 451'), 'pending', 'attempt 2 fails');
SELECT is((SELECT run_after FROM app.outbox WHERE id = :two), '2030-01-01 00:00:30+00'::timestamptz,
  'second retry after base * 2^1 = 20 s (exponential)');
SELECT tests.set_now('2030-01-01 00:00:30+00');
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w1', 10, 60)), 1, 'attempt 3 is claimed');
SELECT is(api.outbox_fail(:two, 'w1', 'SMTP 550'), 'dead',
  'the last allowed attempt ends in the dead letters');
SELECT tests.set_now('2031-01-01');
SELECT is_empty($$SELECT * FROM api.outbox_claim('w1', 10, 60)$$, 'a dead letter is never claimed again');

SELECT tests.clear_authentication();
SELECT tests.set_now(NULL);
SELECT app_private.outbox_enqueue('noop', 'test:three', '{}') AS three \gset
SELECT app_private.outbox_enqueue('noop', 'test:four', '{}', NULL, now() + interval '1 hour', 1) AS four \gset
SELECT app_private.outbox_enqueue('noop', 'test:five', '{}', NULL, now() + interval '2 hours') AS five \gset
SELECT app_private.outbox_enqueue('noop', 'test:six', '{}', NULL, now() + interval '2 hours') AS six \gset
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w1', 10, 60)), 1, 'claim a third row');
SELECT is(api.outbox_fail(:three, 'w1', 'Stripe said 400', false), 'dead', 'a permanent failure is dead at once');

-- A worker that dies on its last allowed attempt: the expired lease dead-letters the row.
SELECT tests.set_now(now() + interval '1 hour');
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w1', 10, 60)), 1, 'claim a one-attempt row');
SELECT tests.set_now(now() + interval '62 minutes');
SELECT is_empty($$SELECT * FROM api.outbox_claim('w2', 10, 60)$$,
  'after its lease expires it is not handed out again');
SELECT is((SELECT status FROM app.outbox WHERE id = :four), 'dead', 'it is a dead letter instead');

-- Release and restart.
SELECT tests.set_now(now() + interval '2 hours');
SELECT is((SELECT count(*)::int FROM api.outbox_claim('w9', 10, 60)), 2, 'w9 claims two rows');
SELECT is(api.outbox_release('w9', ARRAY[:five]::bigint[]), 1, 'graceful shutdown releases the unstarted one');
SELECT results_eq($$SELECT status, attempts FROM app.outbox WHERE id = $$ || :five,
  $$VALUES ('pending'::text, 0)$$, 'released without using up an attempt');
SELECT is(api.worker_started('w9', 'host', 42), 1, 'w9 restarting takes back the row it left running');
SELECT results_eq($$SELECT status, attempts FROM app.outbox WHERE id = $$ || :six,
  $$VALUES ('pending'::text, 1)$$, 'due again at once, the attempt still counted');
SELECT lives_ok($$SELECT api.worker_heartbeat('w9', '{"done": 3}')$$, 'the worker records heartbeats');
SELECT tests.clear_authentication();

-- Health, dead letters, retry.
SELECT tests.authenticate_as(NULL, 'anon');
SELECT results_eq($$SELECT (h ->> 'dead')::int, (h ->> 'workers_alive')::int FROM api.outbox_health() h$$,
  $$VALUES (3, 1)$$, 'anyone may read the queue health: 3 dead letters, 1 live worker');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(tests.create_user('customer'), 'customer');
SELECT throws_ok($$SELECT * FROM api.outbox_dead_letters()$$, '42501', NULL, 'a customer cannot list dead letters');
SELECT throws_ok($$SELECT * FROM app.outbox$$, '42501', NULL, 'a customer cannot read the outbox');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(tests.create_user('admin'), 'admin');
SELECT is((SELECT count(*)::int FROM api.outbox_dead_letters()), 3, 'an admin lists the dead letters');
SELECT results_eq(format('SELECT status, attempts FROM api.outbox_retry(%s)', :two),
  $$VALUES ('pending'::text, 0)$$, 'an admin retries one: pending again with a fresh budget');
SELECT throws_ok(format('SELECT * FROM api.outbox_retry(%s)', :one), 'AD409', NULL, 'only dead letters can be retried');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

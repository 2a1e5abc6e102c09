-- Faults, the queue's side: lanes (a concurrency budget per lane, claims filtered by lane), worker
-- heartbeats with a time to live (a dead worker stops counting), the oldest due age for /health,
-- and who may read the lanes.
BEGIN;
SELECT plan(19);

SELECT has_table('app', 'outbox_lanes', 'the lanes table exists');
SELECT results_eq($$SELECT lane, concurrency FROM app.outbox_lanes ORDER BY lane$$,
  $$VALUES ('database'::text, 1), ('default', 2), ('email', 4), ('stripe', 4)$$,
  'database (applied by api.outbox_apply_due), default, email and stripe lanes with their budgets');
SELECT throws_ok($$UPDATE app.outbox_kinds SET lane = 'nowhere' WHERE kind = 'noop'$$, '23503', NULL,
  'a kind runs only in a registered lane');
SELECT throws_ok($$UPDATE app.outbox_lanes SET concurrency = 0 WHERE lane = 'email'$$, '23514', NULL,
  'a lane runs at least one effect at a time');
SELECT is((SELECT concurrency FROM api.outbox_kinds() WHERE kind = 'email.send'), 4,
  'the registry tells the worker each kind''s lane budget');

-- Claims by lane: an email lane never takes a charge, and the other way round.
SELECT app_private.outbox_enqueue('noop', 'lanes:noop', '{}') AS n \gset
SELECT app_private.outbox_enqueue('email.send', 'lanes:mail', '{}') AS m \gset
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is_empty($$SELECT * FROM api.outbox_claim('w-stripe', 10, 60, ARRAY['stripe'])$$,
  'the stripe lane finds nothing of other lanes');
SELECT results_eq($$SELECT kind, lane FROM api.outbox_claim('w-mail', 10, 60, ARRAY['email'])$$,
  $$VALUES ('email.send'::text, 'email'::text)$$, 'the email lane claims only emails');
SELECT results_eq($$SELECT kind FROM api.outbox_claim('w-any', 10, 60)$$, $$VALUES ('noop'::text)$$,
  'no lanes given: any lane (the row left)');

-- Heartbeats: alive for their time to live, no longer.
SELECT tests.set_now('2031-03-01 10:00:00+00');
SELECT is(api.worker_started('w-live', 'host', 1, '{}', 5), 0, 'a worker starts with a 5 s time to live');
SELECT is((SELECT alive_until FROM app.worker_heartbeats WHERE worker_id = 'w-live'), '2031-03-01 10:00:05+00'::timestamptz,
  'alive until start + 5 s');
SELECT is((api.outbox_health() ->> 'workers_alive')::int, 1, 'it counts as alive');
SELECT tests.set_now('2031-03-01 10:00:04+00');
SELECT api.worker_heartbeat('w-live', NULL, false, 5);
SELECT tests.set_now('2031-03-01 10:00:08+00');
SELECT is((api.outbox_health() ->> 'workers_alive')::int, 1, 'a heartbeat extends it by one period');
SELECT tests.set_now('2031-03-01 10:00:09.5+00');
SELECT is((api.outbox_health() ->> 'workers_alive')::int, 0, 'without heartbeats it stops counting within one period');
SELECT is(api.outbox_health() -> 'workers', '[]'::jsonb, 'and is not listed');
SELECT api.worker_heartbeat('w-live', NULL, false, 5);
SELECT api.worker_heartbeat('w-live', NULL, true, 5);
SELECT is((api.outbox_health() ->> 'workers_alive')::int, 0, 'a stopped worker does not count');

-- The oldest due effect: how long it has been due, not how old (a row backing off is not due).
SELECT tests.clear_authentication();
UPDATE app.outbox SET status = 'done', done_at = now() WHERE status <> 'done';
INSERT INTO app.outbox (kind, idempotency_key, run_after, created_at)
VALUES ('noop', 'lanes:due', '2031-03-01 09:55:00+00', '2031-03-01 09:00:00+00'),
       ('noop', 'lanes:later', '2031-03-01 11:00:00+00', '2031-03-01 08:00:00+00');
SELECT is((api.outbox_health() ->> 'oldest_due_age_seconds')::numeric, 309.5,
  'oldest_due_age_seconds: due since 09:55, now 10:00:09.5');

-- Who may read the lanes.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT is((SELECT count(*)::int FROM app.outbox_lanes), 4, 'the worker reads the lanes');
SELECT throws_ok($$UPDATE app.outbox_lanes SET concurrency = 9$$, '42501', NULL, 'but cannot change them');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(tests.create_user('customer'), 'customer');
SELECT throws_ok($$SELECT * FROM app.outbox_lanes$$, '42501', NULL, 'a customer cannot read the lanes');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Which outbox rows are due (app_private.outbox_due, behind api.outbox_claim and api.outbox_apply_due):
-- the oldest by (run_after, id) across every kind asked for, pending rows whose time has come and
-- running rows whose lease expired merged in that one order, at most the limit, each locked so no
-- other worker can take it. Read per kind in index order (the cost does not grow with the backlog:
-- bench/outbox.py measures it); these assertions prove the order and the choice are the ones a single
-- query over everything would make.
BEGIN;
SELECT plan(10);

UPDATE app.outbox SET status = 'done', done_at = now() WHERE status <> 'done';
SELECT tests.set_now('2031-05-01 12:00:00+00');

-- Two kinds whose rows interleave in time, one row not due yet, two expired leases (one with no
-- attempt left) and one live lease.
INSERT INTO app.outbox (kind, idempotency_key, run_after, status, attempts, max_attempts, leased_until, locked_by)
VALUES ('noop',       'due:n1', '2031-05-01 11:00:00+00', 'pending', 0, 8, NULL, NULL),
       ('email.send', 'due:e1', '2031-05-01 11:01:00+00', 'pending', 0, 8, NULL, NULL),
       ('noop',       'due:n2', '2031-05-01 11:02:00+00', 'pending', 0, 8, NULL, NULL),
       ('email.send', 'due:e2', '2031-05-01 11:03:00+00', 'pending', 0, 8, NULL, NULL),
       ('noop',       'due:n3', '2031-05-01 13:00:00+00', 'pending', 0, 8, NULL, NULL),               -- not yet
       ('email.send', 'due:r1', '2031-05-01 11:01:30+00', 'running', 1, 8, '2031-05-01 11:59:00+00', 'gone'),
       ('noop',       'due:r2', '2031-05-01 10:00:00+00', 'running', 8, 8, '2031-05-01 11:59:00+00', 'gone'),
       ('noop',       'due:r3', '2031-05-01 10:30:00+00', 'running', 1, 8, '2031-05-01 12:05:00+00', 'alive');

SELECT results_eq(
  $$SELECT o.idempotency_key FROM app_private.outbox_due(ARRAY['noop', 'email.send'], app_private.now(), 10, true) d
      JOIN app.outbox o ON o.id = d.id ORDER BY d.run_after, d.id$$,
  $$VALUES ('due:n1'), ('due:e1'), ('due:r1'), ('due:n2'), ('due:e2')$$,
  'across both kinds, oldest first: pending rows and an expired lease in one order; not the row not due '
  'yet, not the lease with no attempt left, not the live lease');
SELECT results_eq(
  $$SELECT o.idempotency_key FROM app_private.outbox_due(ARRAY['noop', 'email.send'], app_private.now(), 10, false) d
      JOIN app.outbox o ON o.id = d.id ORDER BY d.run_after, d.id$$,
  $$VALUES ('due:r2'), ('due:n1'), ('due:e1'), ('due:r1'), ('due:n2'), ('due:e2')$$,
  'attempts_left false (the database lane): an expired lease with no attempt left is due too');
SELECT results_eq(
  $$SELECT o.idempotency_key FROM app_private.outbox_due(ARRAY['noop', 'email.send'], app_private.now(), 3, true) d
      JOIN app.outbox o ON o.id = d.id ORDER BY d.run_after, d.id$$,
  $$VALUES ('due:n1'), ('due:e1'), ('due:r1')$$,
  'the limit keeps the oldest three of all kinds, not the first three of one kind');
SELECT results_eq(
  $$SELECT o.idempotency_key FROM app_private.outbox_due(ARRAY['email.send'], app_private.now(), 10, true) d
      JOIN app.outbox o ON o.id = d.id ORDER BY d.run_after, d.id$$,
  $$VALUES ('due:e1'), ('due:r1'), ('due:e2')$$,
  'only the kinds asked for');
SELECT is_empty($$SELECT * FROM app_private.outbox_due(ARRAY['noop'], app_private.now(), 0, true)$$,
  'a limit of 0 takes nothing');
SELECT is_empty($$SELECT * FROM app_private.outbox_due(ARRAY[]::text[], app_private.now(), 10, true)$$,
  'no kinds: nothing');
SELECT is((SELECT array_agg(d.kind ORDER BY d.run_after, d.id)
             FROM app_private.outbox_due(ARRAY['noop', 'email.send'], app_private.now(), 2, true) d),
          ARRAY['noop', 'email.send'], 'each row comes with its kind (and payload) for the caller');

-- The caller: a claim leases in that order.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT results_eq($$SELECT idempotency_key FROM api.outbox_claim('w-due', 3, 60, NULL) ORDER BY 1$$,
  $$VALUES ('due:e1'), ('due:n1'), ('due:r1')$$, 'api.outbox_claim leases the oldest three of every lane');
SELECT results_eq($$SELECT idempotency_key FROM api.outbox_claim('w-due', 10, 60, NULL) ORDER BY 1$$,
  $$VALUES ('due:e2'), ('due:n2')$$, 'and the next claim the rest that is due');
SELECT tests.clear_authentication();
SELECT is((SELECT status FROM app.outbox WHERE idempotency_key = 'due:r2'), 'dead',
  'the expired lease with no attempt left went to the dead letters (the claim''s first step), never leased');

SELECT * FROM finish();
ROLLBACK;

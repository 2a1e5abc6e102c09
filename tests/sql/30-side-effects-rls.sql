-- Row-level security and grants on the side-effect tables, for every role, allowed and denied.
BEGIN;
SELECT plan(25);

SELECT tests.se_customer() AS c1 \gset
SELECT tests.se_customer() AS c2 \gset
SELECT tests.se_mechanic() AS m1 \gset
SELECT tests.se_mechanic() AS m2 \gset
SELECT tests.create_user('admin') AS adm \gset
SELECT tests.se_session(:'c1', :'m1', '2030-07-01 15:00:00+00') AS s1 \gset
SELECT tests.se_session(:'c2', :'m2', '2030-07-02 15:00:00+00') AS s2 \gset
SELECT app_private.payment_request_refund((SELECT id FROM app.scheduled_payments WHERE session_id = :'s1'), 100, 'x', 'rls');
SELECT api.stripe_apply_event(tests.se_event('evt_rls', 'customer.created', '{"id": "cus_1"}'));
SELECT api.worker_heartbeat('w-rls');

-- Customer: own payments, refunds and invites; nothing of the queue.
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT results_eq('SELECT session_id FROM app.scheduled_payments', format('VALUES (%L::uuid)', :'s1'), 'a customer sees only their own payments');
SELECT is((SELECT count(*)::int FROM app.payment_refunds), 1, 'and the refunds of their own payments');
SELECT results_eq('SELECT session_id FROM app.session_invites', format('VALUES (%L::uuid)', :'s1'), 'and the invites of their own sessions');
SELECT throws_ok('SELECT * FROM app.outbox', '42501', NULL, 'a customer cannot read the outbox');
SELECT throws_ok('SELECT * FROM app.stripe_events', '42501', NULL, 'nor Stripe events');
SELECT throws_ok('SELECT * FROM app.worker_heartbeats', '42501', NULL, 'nor worker heartbeats');
SELECT throws_ok($$INSERT INTO app.payment_refunds (payment_id, amount_cents, reason, idempotency_key)
                   SELECT id, 100, 'x', 'sneaky' FROM app.scheduled_payments$$, '42501', NULL, 'a customer cannot write refunds');
SELECT throws_ok($$SELECT * FROM app.reminder_watermark$$, '42501', NULL, 'nor the reminder job''s watermark');
SELECT throws_ok($$SELECT * FROM api.outbox_claim('me')$$, '42501', NULL, 'nor claim outbox rows');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'c2', 'customer');
SELECT results_eq('SELECT session_id FROM app.scheduled_payments', format('VALUES (%L::uuid)', :'s2'), 'the other customer sees only theirs');
SELECT is_empty('SELECT 1 FROM app.payment_refunds', 'and none of the first customer''s refunds');
SELECT tests.clear_authentication();

-- Mechanic: invites and reminders of sessions booked with them; no money tables.
SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT results_eq('SELECT session_id FROM app.session_invites', format('VALUES (%L::uuid)', :'s1'), 'a mechanic sees the invites of their sessions');
SELECT throws_ok('SELECT * FROM app.scheduled_payments', '42501', NULL, 'a mechanic cannot read payments');
SELECT throws_ok('SELECT * FROM app.outbox', '42501', NULL, 'nor the outbox');
SELECT tests.clear_authentication();

-- Worker: the outbox and heartbeats, nothing else directly.
SELECT tests.authenticate_as(NULL, 'worker');
SELECT isnt_empty('SELECT 1 FROM app.outbox', 'the worker reads the outbox');
SELECT lives_ok($$SELECT api.worker_heartbeat('w-rls-2')$$, 'the worker writes heartbeats');
SELECT throws_ok('SELECT * FROM app.scheduled_payments', '42501', NULL, 'the worker cannot read payments directly');
SELECT throws_ok($$DELETE FROM app.outbox$$, '42501', NULL, 'the worker cannot delete outbox rows');
SELECT tests.clear_authentication();

-- Admin: everything readable.
SELECT tests.authenticate_as(:'adm', 'admin');
SELECT is((SELECT count(*)::int FROM app.scheduled_payments WHERE session_id IN (:'s1', :'s2')), 2, 'an admin sees every payment');
SELECT is((SELECT count(*)::int FROM app.stripe_events WHERE id = 'evt_rls'), 1, 'and Stripe events');
SELECT isnt_empty('SELECT 1 FROM app.outbox', 'and the outbox');
SELECT isnt_empty('SELECT 1 FROM app.worker_heartbeats', 'and worker heartbeats');
SELECT throws_ok($$INSERT INTO app.stripe_events (id, type, payload) VALUES ('evt_fake', 'x', '{}')$$, '42501', NULL,
  'even an admin cannot forge a Stripe event');
SELECT tests.clear_authentication();

-- Anonymous: only the aggregate health.
SELECT tests.authenticate_as(NULL, 'anon');
SELECT lives_ok('SELECT api.outbox_health()', 'anonymous callers may read the queue health');
SELECT throws_ok('SELECT * FROM app.outbox', '42501', NULL, 'but not the outbox');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Security audit: row-level security across users. A mechanic sees only sessions live-assigned
-- to them; the worker reads no personal rows directly; cross-customer and cross-mechanic reads and
-- writes of sessions, vehicles, payments, refunds, outbox, Stripe events, invites and reminders fail.
BEGIN;
SELECT plan(43);
SET LOCAL timezone = 'UTC';

SELECT tests.create_workshop_mechanic() AS m1 \gset
SELECT tests.create_workshop_mechanic() AS m2 \gset
SELECT tests.create_workshop_mechanic() AS m3 \gset
SELECT tests.create_customer() AS ca \gset
SELECT tests.create_customer() AS cb \gset
SELECT tests.create_vehicle(:'ca') AS va \gset
SELECT tests.create_vehicle(:'cb') AS vb \gset
SELECT tests.create_admin() AS adm \gset
SELECT tests.book(:'ca', :'m1', now()::date + 3 + time '15:00' AT TIME ZONE 'America/Toronto', 'standard', now(), :'va') AS sa \gset
SELECT tests.book(:'cb', :'m2', now()::date + 4 + time '15:00' AT TIME ZONE 'America/Toronto', 'standard', now(), :'vb') AS sb \gset
SELECT app_private.payment_request_refund((SELECT id FROM app.scheduled_payments WHERE session_id = :'sb'), 100, 'x', 'rls41');
SELECT api.stripe_apply_event(tests.se_event('evt_rls41', 'customer.created', '{"id": "cus_41"}'));

------------------------------------------------------------------ reassigned, declined and expired offers stop showing
-- customer A moves their appointment from m1 to m2: m1's assignment is withdrawn
SELECT tests.with_claims(:'ca', 'customer') AS old_claims \gset
SELECT api.reschedule_session(:'sa', now()::date + 5 + time '15:00' AT TIME ZONE 'America/Toronto', :'m2') IS NOT NULL AS moved;
SELECT tests.restore_claims(:'old_claims');
SELECT is((SELECT status FROM app.session_assignments WHERE session_id = :'sa' AND mechanic_id = :'m1'), 'withdrawn',
  'setup: the old mechanic''s assignment is withdrawn');
INSERT INTO app.session_assignments (session_id, mechanic_id, status) VALUES (:'sb', :'m3', 'declined');

SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT is_empty(format('SELECT 1 FROM app.sessions WHERE id = %L', :'sa'), 'a mechanic no longer sees a session moved to another mechanic');
SELECT is_empty(format('SELECT 1 FROM app.vehicles WHERE id = %L', :'va'), '... nor its vehicle');
SELECT is_empty(format('SELECT 1 FROM app.session_events WHERE session_id = %L', :'sa'), '... nor its audit events');
SELECT is_empty(format('SELECT 1 FROM app.session_invites WHERE session_id = %L', :'sa'), '... nor its invite');
SELECT is_empty($$SELECT 1 FROM api.my_appointments('all')$$, '... nor in their appointments');
SELECT throws_ok(format('SELECT * FROM api.get_appointment(%L)', :'sa'), 'AD404', NULL, '... nor by id');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'m3', 'mechanic');
SELECT is_empty('SELECT 1 FROM app.sessions', 'a mechanic who declined an offer no longer sees the session');
SELECT is_empty('SELECT 1 FROM app.vehicles', '... nor its vehicle');
SELECT tests.clear_authentication();
UPDATE app.session_assignments SET status = 'expired' WHERE session_id = :'sb' AND mechanic_id = :'m3';
SELECT tests.authenticate_as(:'m3', 'mechanic');
SELECT is_empty('SELECT 1 FROM app.sessions', 'a mechanic whose offer expired no longer sees the session');
SELECT tests.clear_authentication();
UPDATE app.session_assignments SET status = 'offered' WHERE session_id = :'sb' AND mechanic_id = :'m3';
SELECT tests.authenticate_as(:'m3', 'mechanic');
SELECT results_eq('SELECT id FROM app.sessions', format('VALUES (%L::uuid)', :'sb'), 'a live offer shows the session');
SELECT tests.clear_authentication();
UPDATE app.session_assignments SET status = 'declined' WHERE session_id = :'sb' AND mechanic_id = :'m3';

SELECT tests.authenticate_as(:'m2', 'mechanic');
SELECT is((SELECT count(*)::int FROM app.sessions WHERE id IN (:'sa', :'sb')), 2, 'the new mechanic sees both sessions booked with them');
SELECT tests.clear_authentication();

------------------------------------------------------------------ the worker reads no personal rows directly
SELECT tests.authenticate_as(NULL, 'worker');
SELECT throws_ok('SELECT * FROM app.users', '42501', NULL, 'worker: cannot read users (names, emails)');
SELECT throws_ok('SELECT * FROM app.customers', '42501', NULL, 'worker: cannot read customers');
SELECT throws_ok('SELECT * FROM app.vehicles', '42501', NULL, 'worker: cannot read vehicles');
SELECT throws_ok('SELECT * FROM app.sessions', '42501', NULL, 'worker: cannot read sessions');
SELECT throws_ok('SELECT * FROM app.session_assignments', '42501', NULL, 'worker: cannot read assignments');
SELECT throws_ok('SELECT * FROM app.mechanic_time_off', '42501', NULL, 'worker: cannot read time off');
SELECT throws_ok('SELECT * FROM app.payment_refunds', '42501', NULL, 'worker: cannot read refunds');
SELECT throws_ok('SELECT * FROM app.stripe_events', '42501', NULL, 'worker: cannot read Stripe events');
SELECT throws_ok('SELECT * FROM app.session_invites', '42501', NULL, 'worker: cannot read invites');
SELECT is(api.release_expired_holds(), 0, 'worker: still releases lapsed holds (through the definer function)');
SELECT tests.clear_authentication();

------------------------------------------------------------------ customer A against customer B
SELECT tests.authenticate_as(:'ca', 'customer');
SELECT is_empty(format('SELECT 1 FROM app.sessions WHERE id = %L', :'sb'), 'customer: another customer''s session is invisible');
SELECT is_empty(format('SELECT 1 FROM app.vehicles WHERE id = %L', :'vb'), 'customer: another customer''s vehicle is invisible');
SELECT is_empty(format('SELECT 1 FROM app.scheduled_payments WHERE session_id = %L', :'sb'), 'customer: another customer''s payments are invisible');
SELECT is_empty('SELECT 1 FROM app.payment_refunds', 'customer: another customer''s refunds are invisible');
SELECT is_empty(format('SELECT 1 FROM app.session_invites WHERE session_id = %L', :'sb'), 'customer: another customer''s invites are invisible');
SELECT is_empty(format('SELECT 1 FROM app.session_events WHERE session_id = %L', :'sb'), 'customer: another customer''s events are invisible');
SELECT results_eq('SELECT id FROM app.users', format('VALUES (%L::uuid)', :'ca'), 'customer: sees no other user''s name or email');
SELECT throws_ok(format('UPDATE app.vehicles SET customer_id = %L WHERE id = %L', :'cb', :'va'), '42501', NULL,
  'customer: cannot hand their vehicle to another customer');
SELECT throws_ok(format('UPDATE app.customers SET user_id = %L', :'cb'), '42501', NULL, 'customer: cannot change their profile''s id');
SELECT throws_ok('UPDATE app.scheduled_payments SET amount_cents = 1', '42501', NULL, 'customer: cannot change payments');
SELECT throws_ok(format($$INSERT INTO app.scheduled_payments (session_id, customer_id, amount_cents, payment_type, idempotency_key)
  VALUES (%L, %L, 1, 'full', 'forged')$$, :'sa', :'ca'), '42501', NULL, 'customer: cannot create payments');
SELECT throws_ok('DELETE FROM app.payment_refunds', '42501', NULL, 'customer: cannot delete refunds');
SELECT throws_ok('SELECT * FROM app.outbox', '42501', NULL, 'customer: cannot read the outbox');
SELECT throws_ok('SELECT * FROM app.stripe_events', '42501', NULL, 'customer: cannot read Stripe events');
SELECT tests.clear_authentication();

------------------------------------------------------------------ mechanic against other mechanics and money
SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT is_empty(format('SELECT 1 FROM app.sessions WHERE id = %L', :'sb'), 'mechanic: another mechanic''s session is invisible');
SELECT is_empty(format('SELECT 1 FROM app.session_invites WHERE session_id = %L', :'sb'), 'mechanic: another mechanic''s invites are invisible');
SELECT throws_ok('SELECT * FROM app.scheduled_payments', '42501', NULL, 'mechanic: cannot read payments');
SELECT throws_ok('SELECT * FROM app.payment_refunds', '42501', NULL, 'mechanic: cannot read refunds');
SELECT throws_ok('SELECT * FROM app.stripe_events', '42501', NULL, 'mechanic: cannot read Stripe events');
SELECT throws_ok('UPDATE app.mechanics SET is_active = false', '42501', NULL, 'mechanic: cannot deactivate (or activate) profiles');
SELECT throws_ok(format('UPDATE app.mechanics SET user_id = %L', :'m2'), '42501', NULL, 'mechanic: cannot change their profile''s id');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

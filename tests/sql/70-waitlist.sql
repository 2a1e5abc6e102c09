-- The waitlist: join/leave/status, THE on-shift trigger (direct UPDATE and api.set_shift), arrival
-- order, capacity, the 2-hour rule, turns that lapse, the jobs, the session that fulfils an entry,
-- the preferred mechanic for matching. Time is injected with tests.set_now(); nothing sleeps.
BEGIN;
SELECT plan(79);
SET LOCAL timezone = 'UTC';

SELECT tests.create_workshop_mechanic(p_name => 'Mo First') AS m1 \gset
SELECT tests.create_independent_mechanic(p_name => 'Mia Second') AS m2 \gset
SELECT tests.create_independent_mechanic(p_name => 'Max Busy') AS m3 \gset
SELECT tests.create_customer('w1@example.test', 'Wendy One') AS c1 \gset
SELECT tests.create_customer('w2@example.test', 'Walt Two') AS c2 \gset
SELECT tests.create_customer('w3@example.test', 'Wren Three') AS c3 \gset
SELECT tests.create_customer('w4@example.test', 'Will Four') AS c4 \gset
SELECT tests.create_customer('w5@example.test', 'Wade Stale') AS c5 \gset
SELECT tests.create_customer('w6@example.test', 'Wyn Six') AS c6 \gset
SELECT tests.create_customer('w7@example.test', 'Wes Seven') AS c7 \gset
SELECT tests.create_vehicle(:'c1') AS v1 \gset
SELECT tests.create_vehicle(:'c2') AS v2 \gset
SELECT tests.create_admin() AS adm \gset

------------------------------------------------------------------ joining (nobody on shift)
-- c5 joins first, at 07:50: by 10:05 their entry is older than 2 hours
SELECT tests.set_now('2031-03-03 07:50+00');
SELECT tests.authenticate_as(:'c5', 'customer');
SELECT api.join_waitlist('Stale noise') ->> 'id' AS e5 \gset
SELECT tests.clear_authentication();

SELECT tests.set_now('2031-03-03 10:00+00');
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT api.join_waitlist('Engine light is on', :'v1', 'extended') AS j1 \gset
SELECT is(:'j1'::jsonb ->> 'status', 'pending', 'join: a new entry is pending');
SELECT is((:'j1'::jsonb ->> 'position')::int, 1, 'join: the first customer younger than 2 hours is first in line');
SELECT is((:'j1'::jsonb ->> 'expires_at')::timestamptz, '2031-03-03 12:00+00'::timestamptz, 'join: it expires after max_wait (2 hours)');
SELECT is(:'j1'::jsonb ->> 'plan_code', 'extended', 'join: the preferred plan is kept');
SELECT is(tests.error_of($$SELECT api.join_waitlist('Again')$$) ->> 'hint', 'already_on_waitlist',
  'join twice: 409 already_on_waitlist');
SELECT is((tests.error_of($$SELECT api.join_waitlist('Again')$$) ->> 'detail')::jsonb ->> 'id', :'j1'::jsonb ->> 'id',
  '... with the existing entry in the detail');
SELECT tests.clear_authentication();
SELECT :'j1'::jsonb ->> 'id' AS e1 \gset
SELECT is((SELECT payload ->> 'template' FROM app.outbox WHERE idempotency_key = 'email:waitlist:' || :'e1' || ':joined'),
  'waitlist_joined', 'join: a confirmation email is queued in the same transaction');
SELECT is((SELECT payload -> 'to' ->> 'email' FROM app.outbox WHERE idempotency_key = 'email:waitlist:' || :'e1' || ':joined'),
  'w1@example.test', '... to the customer');

SELECT tests.authenticate_as(:'c2', 'customer');
SELECT is(tests.error_of($$SELECT api.join_waitlist('  ')$$) ->> 'hint', 'missing_field', 'join: a concern is required');
SELECT is(tests.error_of($$SELECT api.join_waitlist('x', p_plan_code => 'gold')$$) ->> 'hint', 'unknown_plan',
  'join: an unknown plan is refused');
SELECT is(tests.error_of(format('SELECT api.join_waitlist(%L, %L)', 'x', :'v1')) ->> 'hint', 'vehicle_not_yours',
  'join: another customer''s vehicle is refused');
SELECT is(tests.error_of(format('SELECT api.join_waitlist(%L, p_customer_id => %L)', 'x', :'c3')) ->> 'sqlstate', 'AD403',
  'join: a customer cannot put another customer on the waitlist');
SELECT tests.set_now('2031-03-03 10:01+00');
SELECT api.join_waitlist('Brakes squeal', :'v2') ->> 'id' AS e2 \gset
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'adm', 'admin');
SELECT tests.set_now('2031-03-03 10:02+00');
SELECT api.join_waitlist('Battery dies', p_customer_id => :'c3') ->> 'id' AS e3 \gset
SELECT is(tests.error_of($$SELECT api.join_waitlist('x')$$) ->> 'hint', 'missing_field', 'join: an admin must name the customer');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT throws_ok($$SELECT api.join_waitlist('x')$$, '42501', NULL, 'join: mechanics cannot join');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'c4', 'customer');
SELECT tests.set_now('2031-03-03 10:03+00');
SELECT api.join_waitlist('Oil leak') ->> 'id' AS e4 \gset
SELECT is((api.my_waitlist() ->> 'position')::int, 4, 'status: the fourth to join (younger than 2 hours) is fourth in line');
SELECT tests.clear_authentication();

------------------------------------------------------------------ THE trigger: a DBA's direct UPDATE
SELECT tests.set_now('2031-03-03 10:05+00');
SELECT coalesce(max(id), 0) AS ev0 FROM app.live_events \gset
UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = :'m1';
SELECT results_eq($$SELECT customer_id FROM app.waitlist_entries WHERE status = 'notified'$$,
  format('VALUES (%L::uuid)', :'c1'),
  'on shift (direct UPDATE): exactly one customer (capacity 1) is notified, the first in line younger than 2 hours');
SELECT results_eq(format($$SELECT notified_mechanic_id, notified_at, turn_expires_at FROM app.waitlist_entries WHERE id = %L$$, :'e1'),
  format($$VALUES (%L::uuid, '2031-03-03 10:05+00'::timestamptz, '2031-03-03 10:15+00'::timestamptz)$$, :'m1'),
  '... with the mechanic who came on shift and a 10-minute turn');
SELECT is((SELECT status FROM app.waitlist_entries WHERE id = :'e5'), 'pending',
  'the 2-hour rule: an entry older than 2 hours is passed over (even though it is the oldest)');
SELECT is((SELECT payload -> 'context' -> 'mechanic' ->> 'name' FROM app.outbox
            WHERE idempotency_key = 'email:waitlist:' || :'e1' || ':notified'), 'Mo First',
  'the notified customer gets the "a mechanic is available" email, naming the mechanic');
SELECT results_eq(format($$SELECT kind, audience, payload ->> 'entry_id' FROM app.live_events WHERE id > %s$$, :ev0),
  format($$VALUES ('waitlist.notified', ARRAY[%L::uuid], %L)$$, :'c1', :'e1'),
  '... and one live event, addressed to that customer only');

SELECT tests.authenticate_as(:'c1', 'customer');
SELECT is(api.my_waitlist() -> 'mechanic' ->> 'id', :'m1', 'status: the notified customer sees the mechanic');
SELECT is(api.my_waitlist() ->> 'status', 'notified', '... and the status notified');
SELECT is(api.my_waitlist() -> 'position', 'null'::jsonb, '... and no queue position any more');
SELECT tests.clear_authentication();

------------------------------------------------------------------ joining while someone is on shift
SELECT tests.authenticate_as(:'c6', 'customer');
SELECT is(tests.error_of($$SELECT api.join_waitlist('x')$$) ->> 'hint', 'mechanics_available',
  'join while a mechanic is on shift: 409 mechanics_available');
SELECT is((tests.error_of($$SELECT api.join_waitlist('x')$$) ->> 'detail')::jsonb -> 'mechanics' -> 0 ->> 'mechanic_id', :'m1',
  '... listing the on-shift mechanics');
SELECT tests.clear_authentication();

------------------------------------------------------------------ toggling never notifies twice
UPDATE app.mechanics SET currently_on_shift = false WHERE user_id = :'m1';
UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = :'m1';
UPDATE app.mechanics SET currently_on_shift = false WHERE user_id = :'m1';
UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = :'m1';
UPDATE app.mechanics SET bio = 'profile edit' WHERE user_id = :'m1';
SELECT is((SELECT count(*)::int FROM app.waitlist_entries WHERE status = 'notified'), 1,
  'toggling on/off/on: the open turn still fills the capacity, nobody else is notified');
SELECT is((SELECT count(*)::int FROM app.outbox WHERE idempotency_key LIKE 'email:waitlist:%:notified'), 1,
  '... and no second email is queued');

------------------------------------------------------------------ capacity is a setting; the API toggle works the same
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT throws_ok($$SELECT api.set_waitlist_settings(3)$$, '42501', NULL, 'settings: customers cannot change them');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'adm', 'admin');
SELECT is(api.set_waitlist_settings(p_customers_per_mechanic => 2) ->> 'customers_per_mechanic', '2',
  'settings: an admin sets two customers per mechanic');
SELECT is(tests.error_of($$SELECT api.set_waitlist_settings(p_turn_duration => '2 days')$$) ->> 'hint', 'invalid_value',
  'settings: a turn longer than a day is refused');
SELECT is(api.set_shift(true, :'m2') ->> 'currently_on_shift', 'true', 'api.set_shift puts the second mechanic on shift');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT customer_id FROM app.waitlist_entries WHERE status = 'notified' AND notified_mechanic_id = %L ORDER BY created_at$$, :'m2'),
  format('VALUES (%L::uuid), (%L::uuid)', :'c2', :'c3'),
  'on shift through the API: the next two in line (capacity 2) get the second mechanic');
SELECT is((SELECT status FROM app.waitlist_entries WHERE id = :'e4'), 'pending', '... the fourth still waits');
SELECT tests.authenticate_as(:'adm', 'admin');
SELECT is(api.set_waitlist_settings(1) ->> 'customers_per_mechanic', '1', 'settings: back to one customer per mechanic');
SELECT tests.clear_authentication();

------------------------------------------------------------------ a busy mechanic gives no turn
-- planted without triggers: an off-shift mechanic in an immediate session is a state no writer can
-- create any more (sessions_occupy_mechanic_time refuses it), but the hand-out must still hold there
SET LOCAL session_replication_role = replica;
INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, concern, concern_category, is_advice_only,
                          ends_at, status, created_at)
VALUES (:'c7', :'m3', 'standard', 'video', 'In progress', 'diagnostic', true,
        '2031-03-03 10:30+00', 'pending', '2031-03-03 10:00+00');
SET LOCAL session_replication_role = origin;
UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = :'m3';
SELECT is((SELECT count(*)::int FROM app.waitlist_entries WHERE notified_mechanic_id = :'m3'), 0,
  'a mechanic in a session right now gives no turn when coming on shift');
-- off shift again the same way the session came (the leave-shift check would refuse it: it is in progress)
SET LOCAL session_replication_role = replica;
UPDATE app.mechanics SET currently_on_shift = false WHERE user_id = :'m3';
SET LOCAL session_replication_role = origin;

------------------------------------------------------------------ the preferred mechanic for matching
SELECT is(app_private.waitlist_preferred_mechanic(:'c2'), :'m2'::uuid, 'preferred mechanic: the one who gave the open turn');
SELECT is(app_private.waitlist_preferred_mechanic(:'c4'), NULL, 'preferred mechanic: none while still waiting');
SELECT is(app_private.waitlist_preferred_mechanic(:'c6'), NULL, 'preferred mechanic: none without an entry');

------------------------------------------------------------------ an immediate request fulfils the entry
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Brakes squeal',
                          p_vehicle_id => :'v2') ->> 'id' AS s2 \gset
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT status, close_reason, session_id FROM app.waitlist_entries WHERE id = %L$$, :'e2'),
  format($$VALUES ('fulfilled', 'session', %L::uuid)$$, :'s2'),
  'an immediate request marks the customer''s notified entry fulfilled, with the session');
SELECT is(app_private.waitlist_preferred_mechanic(:'c2'), :'m2'::uuid,
  'preferred mechanic: still the turn''s mechanic while that session waits for its first offer');
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = :'s2';
SELECT is(app_private.waitlist_preferred_mechanic(:'c2'), NULL, '... and none once that session is over');

------------------------------------------------------------------ turns lapse; the job hands them on
SELECT tests.set_now('2031-03-03 10:14+00');
SELECT is(api.advance_waitlist(), '{"notified": 0, "turns_lapsed": 0}'::jsonb,
  'advance before any turn lapsed: every on-shift mechanic''s capacity is taken by open turns, nothing changes');
SELECT tests.set_now('2031-03-03 10:16+00');
SELECT coalesce(max(id), 0) AS ev1 FROM app.live_events \gset
SELECT is(api.advance_waitlist(), '{"notified": 1, "turns_lapsed": 2}'::jsonb,
  'advance after the turns lapsed: both lapse, the freed capacity goes to the one customer still waiting');
SELECT results_eq(format($$SELECT id, status, close_reason FROM app.waitlist_entries WHERE id IN (%L, %L, %L) ORDER BY created_at$$, :'e1', :'e3', :'e4'),
  format($$VALUES (%L::uuid, 'expired', 'turn_lapsed'), (%L::uuid, 'expired', 'turn_lapsed'), (%L::uuid, 'notified', NULL)$$, :'e1', :'e3', :'e4'),
  'a lapsed turn expires (it does not return to the queue) and the next in line is notified');
SELECT is((SELECT status FROM app.waitlist_entries WHERE id = :'e5'), 'pending',
  '... never an entry older than 2 hours');
SELECT is((SELECT payload -> 'context' ->> 'close_reason' FROM app.outbox WHERE idempotency_key = 'email:waitlist:' || :'e1' || ':expired'),
  'turn_lapsed', 'the customer whose turn lapsed is told by email');
SELECT is((SELECT count(*)::int FROM app.live_events WHERE id > :ev1 AND kind = 'waitlist.expired' AND audience = ARRAY[:'c1'::uuid]), 1,
  '... and by a live event');
SELECT is(api.advance_waitlist(), '{"notified": 0, "turns_lapsed": 0}'::jsonb, 'advance again: idempotent');

------------------------------------------------------------------ the 2-hour rule: the expiry job
SELECT is(api.expire_waitlist(), 1, 'expiry job: the entry older than 2 hours expires');
SELECT results_eq(format($$SELECT status, close_reason FROM app.waitlist_entries WHERE id = %L$$, :'e5'),
  $$VALUES ('expired', 'max_wait')$$, '... as expired (max_wait)');
SELECT is((SELECT payload ->> 'template' FROM app.outbox WHERE idempotency_key = 'email:waitlist:' || :'e5' || ':expired'),
  'waitlist_expired', '... with an email saying so');
SELECT is(api.expire_waitlist(), 0, 'expiry job again: idempotent');
SELECT is((SELECT status FROM app.waitlist_entries WHERE id = :'e4'), 'notified', '... an open turn is not cut short');

------------------------------------------------------------------ leaving gives the turn back at once
-- a DBA puts c6 in the queue directly (as if they had joined before anyone came on shift)
INSERT INTO app.waitlist_entries (customer_id, concern, plan_code, created_at) VALUES (:'c6', 'Flat tyre', 'standard', '2031-03-03 10:10+00');
SELECT notified_mechanic_id AS m_c4 FROM app.waitlist_entries WHERE id = :'e4' \gset
SELECT tests.authenticate_as(:'c4', 'customer');
SELECT is(api.leave_waitlist() ->> 'status', 'cancelled', 'leave: the entry is cancelled');
SELECT is(tests.error_of($$SELECT api.leave_waitlist()$$) ->> 'hint', 'not_on_waitlist', 'leave twice: 404 not_on_waitlist');
SELECT is(api.my_waitlist() ->> 'close_reason', 'customer', 'status after leaving: the latest entry, cancelled by the customer');
SELECT tests.clear_authentication();
SELECT is((SELECT notified_mechanic_id FROM app.waitlist_entries WHERE customer_id = :'c6' AND status = 'notified'), :'m_c4'::uuid,
  'the turn given back goes to the next in line at once, with the same mechanic');
SELECT is(app_private.waitlist_preferred_mechanic(:'c6'), :'m_c4'::uuid, 'preferred mechanic: that mechanic for the new turn');
UPDATE app.mechanics SET currently_on_shift = false WHERE user_id = :'m_c4';
SELECT is(app_private.waitlist_preferred_mechanic(:'c6'), NULL, '... but not once they went off shift');

------------------------------------------------------------------ one active entry per customer: a constraint
SELECT throws_ok(format($$INSERT INTO app.waitlist_entries (customer_id, concern, plan_code) VALUES (%L, 'dup', 'standard')$$, :'c6'),
  '23505', NULL, 'a second active entry is refused by the partial unique index, whatever writes it');

------------------------------------------------------------------ row-level security
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT results_eq($$SELECT id FROM app.waitlist_entries$$, format('VALUES (%L::uuid)', :'e1'),
  'RLS: a customer sees only their own entries');
SELECT throws_ok(format($$UPDATE app.waitlist_entries SET status = 'pending' WHERE id = %L$$, :'e1'), '42501', NULL,
  'RLS: a customer cannot update an entry directly');
SELECT throws_ok($$INSERT INTO app.waitlist_entries (customer_id, concern, plan_code) VALUES (app_private.current_user_id(), 'x', 'standard')$$,
  '42501', NULL, 'RLS: a customer cannot insert an entry directly');
SELECT throws_ok($$DELETE FROM app.waitlist_entries$$, '42501', NULL, 'RLS: a customer cannot delete entries');
SELECT throws_ok(format('SELECT api.my_waitlist(%L)', :'c2'), 'AD403', NULL, 'a customer cannot read another customer''s status');
SELECT throws_ok($$SELECT * FROM api.list_waitlist()$$, '42501', NULL, 'a customer cannot list the waitlist');
SELECT throws_ok($$SELECT api.waitlist_queue()$$, '42501', NULL, '... nor read the queue length');
SELECT is((SELECT customers_per_mechanic FROM app.waitlist_settings), 1, 'customers read the waitlist settings');
SELECT throws_ok($$UPDATE app.waitlist_settings SET customers_per_mechanic = 5$$, '42501', NULL, '... but cannot change them');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT throws_ok($$SELECT 1 FROM app.waitlist_entries$$, '42501', NULL, 'RLS: a mechanic cannot read waitlist entries');
SELECT throws_ok($$SELECT api.my_waitlist()$$, '42501', NULL, '... nor call the customer functions');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(NULL, 'worker');
SELECT throws_ok($$SELECT 1 FROM app.waitlist_entries$$, '42501', NULL, 'RLS: the worker cannot read waitlist entries');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(NULL, 'anon');
SELECT throws_ok($$SELECT 1 FROM app.waitlist_entries$$, '42501', NULL, 'RLS: anon cannot read waitlist entries');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'adm', 'admin');
SELECT is((SELECT count(*)::int FROM app.waitlist_entries), 6, 'RLS: an admin sees every entry');
SELECT results_eq($$SELECT customer_id FROM api.list_waitlist()$$, format('VALUES (%L::uuid)', :'c6'),
  'admin list: the active entries in queue order');
SELECT is((SELECT count(*)::int FROM api.list_waitlist(NULL)), 6, 'admin list: all entries with status NULL');
SELECT is(api.waitlist_queue() - 'settings' - 'oldest_pending_at', '{"pending": 0, "notified": 1}'::jsonb,
  'admin: the queue length (pending and open turns)');
SELECT is(api.my_waitlist(:'c5') ->> 'close_reason', 'max_wait', 'admin: any customer''s status');
SELECT is(tests.rows_affected($$UPDATE app.waitlist_settings SET customers_per_mechanic = 3$$), 1,
  'admins change the settings directly too (like the booking settings)');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

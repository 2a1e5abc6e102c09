-- Security audit: SECURITY DEFINER functions check the caller (role + ownership) themselves.
-- IDOR (another user's session / hold / vehicle / mechanic id), NULL identities, and claims that try
-- to lift a caller above the database role it runs as.
BEGIN;
SELECT plan(42);
SET LOCAL timezone = 'UTC';

SELECT tests.se_customer('victim@example.test', 'Vic Victim') AS cv \gset
SELECT tests.se_customer('eve@example.test', 'Eve Other') AS ce \gset
SELECT tests.se_mechanic(p_email => 'm1@example.test', p_name => 'Mo One') AS m1 \gset
SELECT tests.se_mechanic(p_email => 'm2@example.test', p_name => 'Mo Two') AS m2 \gset
SELECT tests.create_admin() AS adm \gset
SELECT tests.create_vehicle(:'cv') AS vv \gset
-- the victim's deferred-matching appointment (no mechanic yet), a booking with m1, a hold with m2
SELECT tests.se_session(:'cv', NULL, now() + interval '3 days') AS s_def \gset
SELECT tests.se_session(:'cv', :'m1', now() + interval '5 days') AS s_b \gset
SELECT tests.se_session(:'cv', :'m2', now() + interval '7 days', p_status => 'held') AS hold_v \gset
SELECT tests.add_time_off(:'m1', now() + interval '20 days', now() + interval '21 days') AS to_m1 \gset

------------------------------------------------------------------ api.appointment_invite
SELECT tests.authenticate_as(:'ce', 'customer');
SELECT throws_ok(format('SELECT api.appointment_invite(%L)', :'s_def'), 'AD404', NULL,
  'invite: another customer cannot read the invite of an appointment without a mechanic');
SELECT throws_ok(format('SELECT api.appointment_invite(%L)', :'s_b'), 'AD404', NULL,
  'invite: another customer cannot read the invite of a booked appointment');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'m2', 'mechanic');
SELECT throws_ok(format('SELECT api.appointment_invite(%L)', :'s_def'), 'AD404', NULL,
  'invite: an unrelated mechanic cannot read the invite of an appointment without a mechanic');
SELECT throws_ok(format('SELECT api.appointment_invite(%L)', :'s_b'), 'AD404', NULL,
  'invite: an unrelated mechanic cannot read another mechanic''s appointment invite');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'m1', 'mechanic');
SELECT is(api.appointment_invite(:'s_b') -> 'attendees' -> 0 ->> 'email', 'm1@example.test',
  'invite: the assigned mechanic gets their own copy (only they are the attendee)');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'cv', 'customer');
SELECT is(api.appointment_invite(:'s_def') -> 'attendees' -> 0 ->> 'email', 'victim@example.test',
  'invite: the customer reads their own invite');
SELECT tests.clear_authentication();

-- a caller without a user id (psql --role customer without --user) is nobody's customer
SET LOCAL ROLE autodoc_customer;
SELECT set_config('request.jwt.claims', '{"role": "customer"}', true);
SELECT throws_ok(format('SELECT api.appointment_invite(%L)', :'s_def'), 'AD404', NULL,
  'invite: a customer without a user id cannot read an appointment without a mechanic');
SELECT throws_ok(format('SELECT api.resend_confirmation(%L)', :'s_b'), 'AD404', NULL,
  'resend: a customer without a user id cannot resend anybody''s confirmation');
SELECT tests.clear_authentication();
SET LOCAL ROLE autodoc_mechanic;
SELECT set_config('request.jwt.claims', '{"role": "mechanic"}', true);
SELECT throws_ok(format('SELECT api.appointment_invite(%L)', :'s_def'), 'AD404', NULL,
  'invite: a mechanic without a user id cannot read an appointment without a mechanic');
SELECT tests.clear_authentication();

------------------------------------------------------------------ claims cannot lift the database role
SET LOCAL ROLE autodoc_customer;
SELECT set_config('request.jwt.claims', json_build_object('sub', :'ce', 'role', 'admin')::text, true);
SELECT is(app_private.current_app_role(), 'customer', 'escalation: a customer session claiming admin is still a customer');
SELECT is(app_private.is_admin(), false, 'escalation: ... and not an admin');
SELECT is(api.whoami() ->> 'role', 'customer', 'escalation: whoami reports the database role');
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'x',
  p_is_advice_only => true, p_scheduled_for => now() + interval '9 days', p_mechanic_id => %L, p_customer_id => %L)$$, :'m1', :'cv'),
  'AD403', NULL, 'escalation: claiming admin does not let a customer book for another customer');
SELECT throws_ok(format($$SELECT api.hold_slot(%L, now() + interval '9 days', p_customer_id => %L)$$, :'m1', :'cv'),
  'AD403', NULL, 'escalation: ... nor hold a slot for another customer');
SELECT throws_ok(format('SELECT api.appointment_invite(%L)', :'s_b'), 'AD404', NULL,
  'escalation: ... nor read another customer''s invite');
SELECT throws_ok(format('SELECT api.resend_confirmation(%L)', :'s_b'), 'AD404', NULL,
  'escalation: ... nor resend another customer''s confirmation');
SELECT throws_ok(format($$SELECT api.reschedule_session(%L, now() + interval '6 days')$$, :'s_b'), 'AD404', NULL,
  'escalation: ... nor reschedule another customer''s appointment');
SELECT throws_ok(format('SELECT api.release_hold(%L)', :'hold_v'), 'AD404', NULL,
  'escalation: ... nor release another customer''s hold');
SELECT tests.clear_authentication();

SET LOCAL ROLE autodoc_mechanic;
SELECT set_config('request.jwt.claims', json_build_object('sub', :'m2', 'role', 'admin')::text, true);
SELECT throws_ok(format('SELECT api.set_shift(true, %L)', :'m1'), 'AD403', NULL,
  'escalation: a mechanic claiming admin cannot change another mechanic''s shift');
SELECT throws_ok(format($$SELECT api.add_time_off(now() + interval '30 days', now() + interval '31 days', p_mechanic_id => %L)$$, :'m1'),
  'AD403', NULL, 'escalation: ... nor add time off for another mechanic');
SELECT throws_ok(format('SELECT api.remove_time_off(%L)', :'to_m1'), 'AD404', NULL,
  'escalation: ... nor remove another mechanic''s time off');
SELECT tests.clear_authentication();

SET LOCAL ROLE autodoc_admin;
SELECT is(app_private.current_app_role(), 'admin', 'a DBA doing SET ROLE autodoc_admin (no claims) is still an admin');
RESET ROLE;
SELECT tests.authenticate_as(:'adm', 'admin');
SELECT lives_ok(format('SELECT api.appointment_invite(%L)', :'s_def'), 'an admin reads any invite');
SELECT tests.clear_authentication();

------------------------------------------------------------------ IDOR on the booking functions (already denied)
SELECT tests.authenticate_as(:'ce', 'customer');
SELECT throws_ok(format('SELECT * FROM api.get_appointment(%L)', :'s_b'), 'AD404', NULL,
  'idor: another customer''s appointment is not found');
SELECT throws_ok(format($$SELECT api.reschedule_session(%L, now() + interval '6 days')$$, :'s_b'), 'AD404', NULL,
  'idor: another customer''s appointment cannot be rescheduled');
SELECT throws_ok(format('SELECT api.release_hold(%L)', :'hold_v'), 'AD404', NULL, 'idor: another customer''s hold cannot be released');
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'video', p_concern => 'x', p_is_advice_only => true, p_hold_id => %L)$$, :'hold_v'),
  'AD404', NULL, 'idor: another customer''s hold cannot be converted into a booking');
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'x',
  p_vehicle_id => %L, p_scheduled_for => now() + interval '9 days', p_mechanic_id => %L)$$, :'vv', :'m1'),
  'AD422', NULL, 'idor: another customer''s vehicle cannot be booked');
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'x',
  p_is_advice_only => true, p_scheduled_for => now() + interval '9 days', p_mechanic_id => %L, p_customer_id => %L)$$, :'m1', :'cv'),
  'AD403', NULL, 'idor: a customer cannot book for another customer');
SELECT throws_ok(format($$SELECT api.hold_slot(%L, now() + interval '9 days', p_customer_id => %L)$$, :'m1', :'cv'),
  'AD403', NULL, 'idor: a customer cannot hold a slot for another customer');
SELECT throws_ok(format('SELECT api.resend_confirmation(%L)', :'s_b'), 'AD404', NULL,
  'idor: a customer cannot resend another customer''s confirmation');
SELECT throws_ok(format($$SELECT api.update_vehicle(%L, p_model => 'Stolen')$$, :'vv'), 'AD404', NULL,
  'idor: another customer''s vehicle cannot be updated');
SELECT throws_ok(format('SELECT api.delete_vehicle(%L)', :'vv'), 'AD404', NULL, 'idor: another customer''s vehicle cannot be deleted');
SELECT throws_ok(format($$SELECT api.add_vehicle('Kia', 'Rio', p_customer_id => %L)$$, :'cv'), '42501', NULL,
  'idor: a customer cannot add a vehicle to another customer');
SELECT throws_ok(format('SELECT * FROM api.session_payments(%L)', :'s_b'), 'AD404', NULL,
  'idor: another customer''s payments are invisible (not found)');
SELECT throws_ok(format('SELECT api.set_session_status(%L, %L, %L)', :'s_b', 'cancelled', 'customer'), '42501', NULL,
  'a customer cannot set a session status');
SELECT throws_ok(format('SELECT api.request_refund(gen_random_uuid(), 100, %L)', 'x'), '42501', NULL, 'a customer cannot issue refunds');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'m2', 'mechanic');
SELECT throws_ok(format('SELECT api.set_shift(true, %L)', :'m1'), 'AD403', NULL, 'idor: a mechanic cannot change another mechanic''s shift');
SELECT throws_ok(format($$SELECT api.add_time_off(now() + interval '30 days', now() + interval '31 days', p_mechanic_id => %L)$$, :'m1'),
  'AD403', NULL, 'idor: a mechanic cannot add time off for another mechanic');
SELECT throws_ok(format($$SELECT api.set_availability_blocks(%L, '[]')$$, :'m1'), 'AD403', NULL,
  'idor: a mechanic cannot replace another mechanic''s blocks');
SELECT throws_ok(format('SELECT api.remove_time_off(%L)', :'to_m1'), 'AD404', NULL,
  'idor: a mechanic cannot remove another mechanic''s time off');
SELECT throws_ok(format('SELECT * FROM api.get_appointment(%L)', :'s_b'), 'AD404', NULL,
  'idor: a mechanic cannot read another mechanic''s appointment');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

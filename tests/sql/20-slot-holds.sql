-- Slot holds: hold, block, convert, expire, release (twice), give back; holds are not appointments.
BEGIN;
SELECT plan(35);
SET LOCAL timezone = 'UTC';

SELECT tests.create_workshop_mechanic() AS m \gset
SELECT tests.create_independent_mechanic() AS m_ind \gset
SELECT tests.create_customer() AS c1 \gset
SELECT tests.create_customer() AS c2 \gset
SELECT tests.create_customer() AS c3 \gset
SELECT tests.create_vehicle(:'c1') AS v1 \gset
SELECT tests.create_admin() AS admin \gset
SELECT tests.create_user('admin') AS worker \gset

------------------------------------------------------------------ holding
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT api.hold_slot(:'m', '2026-06-12 15:00Z', 'premium') AS h \gset
SELECT is((:'h'::jsonb ->> 'expires_at')::timestamptz, '2026-06-10 12:10Z'::timestamptz, 'a hold lasts 10 minutes by default');
SELECT is((:'h'::jsonb ->> 'ends_at')::timestamptz, '2026-06-12 16:00Z'::timestamptz, 'a hold covers the plan''s duration');
SELECT ok(:'h'::jsonb ? 'hold_id', 'hold_slot returns the hold id');
SELECT is((SELECT status FROM app.sessions WHERE id = (:'h'::jsonb ->> 'hold_id')::uuid), 'held', 'the hold is a session row in status held');
SELECT is_empty($$SELECT * FROM api.my_appointments('all')$$, 'a hold is not an appointment');
SELECT tests.clear_authentication();

SELECT tests.authenticate_as(:'c2', 'customer');
SELECT tests.set_now('2026-06-10 12:05Z');
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_mechanic_id => %L, p_scheduled_for => '2026-06-12 15:30Z')$$, :'m'),
  'AD409', 'That time slot is not available', 'a held slot cannot be booked by someone else');
SELECT is(tests.error_of(format($$SELECT api.hold_slot(%L, '2026-06-12 15:30Z')$$, :'m')) ->> 'hint',
  'slot_unavailable', 'a held slot cannot be held by someone else');
SELECT is((api.hold_slot(:'m', '2026-06-12 17:00Z', p_hold_for => '5 minutes') ->> 'expires_at')::timestamptz,
  '2026-06-10 12:10Z'::timestamptz, 'the hold length can be chosen');
SELECT tests.set_now('2026-06-10 12:06Z');
SELECT api.hold_slot(:'m', '2026-06-12 17:30Z') AS h2b \gset
SELECT is((SELECT array_agg(status || '/' || coalesce(cancel_reason, '-') ORDER BY scheduled_for) FROM app.sessions WHERE customer_id = :'c2'),
  ARRAY['cancelled/customer', 'held/-'], 'a customer has one hold: a new hold gives the previous one back');
SELECT tests.clear_authentication();

------------------------------------------------------------------ hold validations
SELECT tests.authenticate_as(:'c3', 'customer');
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT is(tests.error_of(format($$SELECT api.hold_slot(%L, '2026-06-10 11:00Z')$$, :'m')) ->> 'hint',
  'past_time', 'holding a past slot: 422 past_time');
SELECT is(tests.error_of(format($$SELECT api.hold_slot(%L, '2026-06-10 13:00Z')$$, :'m')) ->> 'hint',
  'too_short_notice', 'holding a slot under 2 hours ahead: 422 too_short_notice');
SELECT is(tests.error_of(format($$SELECT api.hold_slot(%L, '2026-06-12 23:00Z')$$, :'m')) ->> 'hint',
  'slot_unavailable', 'holding a closed slot: 409 slot_unavailable');
SELECT is(tests.error_of(format($$SELECT api.hold_slot(%L, '2026-06-12 19:00Z', p_service_mode => 'in_person')$$, :'m_ind')) ->> 'hint',
  'in_person_unavailable', 'holding in person with an independent mechanic: 422 in_person_unavailable');
SELECT throws_ok($$SELECT api.hold_slot('00000000-0000-0000-0000-000000000000', '2026-06-12 15:00Z')$$,
  'AD404', 'Mechanic not found', 'holding with an unknown mechanic: 404');
SELECT tests.clear_authentication();
SELECT tests.book(:'c3', :'m', '2026-06-13 15:00Z', 'standard', '2026-06-10 12:00Z') AS c3_booking \gset
SELECT tests.authenticate_as(:'c3', 'customer');
SELECT is(tests.error_of(format($$SELECT api.hold_slot(%L, '2026-06-14 15:00Z')$$, :'m')) ->> 'hint',
  'duplicate_booking', 'a customer with an upcoming appointment cannot hold another slot: 409 duplicate_booking');
SELECT tests.clear_authentication();

------------------------------------------------------------------ converting a hold
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT tests.set_now('2026-06-10 12:07Z');
SELECT is(tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_concern => 'x', p_is_advice_only => true,
  p_hold_id => %L)$$, :'h'::jsonb ->> 'hold_id')) ->> 'hint',
  'hold_not_found', 'someone else''s hold cannot be used: 404 hold_not_found');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT is(tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_concern => 'x', p_vehicle_id => %L,
  p_hold_id => %L, p_mechanic_id => %L)$$, :'v1', :'h'::jsonb ->> 'hold_id', :'m_ind')) ->> 'hint',
  'hold_mismatch', 'a booking that contradicts its hold: 422 hold_mismatch');
SELECT is(tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_concern => 'x', p_vehicle_id => %L,
  p_hold_id => %L, p_service_mode => 'in_person')$$, :'v1', :'h'::jsonb ->> 'hold_id')) ->> 'hint',
  'hold_mismatch', 'a booking cannot change the held service mode (its price was charged): 422 hold_mismatch');
SELECT tests.set_now('2026-06-10 12:10Z');
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'video', p_concern => 'x', p_vehicle_id => %L,
  p_hold_id => %L)$$, :'v1', :'h'::jsonb ->> 'hold_id'),
  'AD409', 'The slot hold has expired; please pick the slot again', 'a lapsed hold: 409 hold_expired');
SELECT tests.set_now('2026-06-10 12:09Z');
SELECT api.create_session(p_type => 'video', p_concern => 'Check engine', p_vehicle_id => :'v1',
  p_hold_id => (:'h'::jsonb ->> 'hold_id')::uuid) AS conv \gset
SELECT is(:'conv'::jsonb ->> 'id', :'h'::jsonb ->> 'hold_id', 'the hold becomes the session (same row, the slot is never free)');
SELECT ok(:'conv'::jsonb ->> 'status' = 'scheduled' AND :'conv'::jsonb ->> 'plan_code' = 'premium'
          AND (:'conv'::jsonb ->> 'scheduled_for')::timestamptz = '2026-06-12 15:00Z',
  'the session takes the held mechanic, time and plan');
SELECT is(tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_concern => 'x', p_vehicle_id => %L,
  p_hold_id => %L)$$, :'v1', :'h'::jsonb ->> 'hold_id')) ->> 'hint',
  'hold_not_found', 'a hold is used once');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT event_type, from_status, to_status FROM app.session_events WHERE session_id = %L ORDER BY id$$, :'conv'::jsonb ->> 'id'),
  $$VALUES ('held', NULL, 'held'), ('status_changed', 'held', 'scheduled')$$, 'holding and converting are logged');
SELECT is((SELECT status FROM app.session_assignments WHERE session_id = (:'conv'::jsonb ->> 'id')::uuid), 'scheduled',
  'the converted session has its targeted assignment');

------------------------------------------------------------------ lapsed holds never block
-- c2's hold on 17:30 lapses at 12:16; c1 is now busy, so c3 ... has an appointment; use a new customer
SELECT tests.create_customer() AS c4 \gset
SELECT tests.authenticate_as(:'c4', 'customer');
SELECT tests.set_now('2026-06-10 12:17Z');
SELECT lives_ok(format($$SELECT api.hold_slot(%L, '2026-06-12 17:30Z')$$, :'m'),
  'a lapsed hold does not block a new hold, before the release job ran');
SELECT tests.clear_authentication();
SELECT is((SELECT cancel_reason FROM app.sessions WHERE id = (:'h2b'::jsonb ->> 'hold_id')::uuid), 'expired',
  'the booking function released the lapsed hold in its way');

------------------------------------------------------------------ release job
SELECT tests.create_customer() AS c5 \gset
SELECT tests.hold(:'c5', :'m', '2026-06-15 15:00Z', '2026-06-10 12:00Z') AS h5 \gset
SELECT tests.authenticate_as(:'worker', 'worker');
SELECT tests.set_now('2026-06-10 12:05Z');
SELECT is(api.release_expired_holds(), 0, 'holds within their 10 minutes are kept');
SELECT tests.set_now('2026-06-10 12:30Z');
SELECT is(api.release_expired_holds(), 2, 'the job releases every lapsed hold');
SELECT is(api.release_expired_holds(), 0, 'running it again releases nothing');
SELECT tests.clear_authentication();
SELECT is((SELECT status || '/' || cancel_reason FROM app.sessions WHERE id = :'h5'), 'cancelled/expired',
  'a released hold is cancelled with reason expired');
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT throws_ok('SELECT api.release_expired_holds()', '42501', NULL, 'customers cannot run the release job');
SELECT tests.clear_authentication();

------------------------------------------------------------------ giving a hold back
SELECT tests.create_customer() AS c6 \gset
SELECT tests.hold(:'c6', :'m', '2026-06-16 15:00Z', '2026-06-10 12:00Z') AS h6 \gset
SELECT tests.authenticate_as(:'c5', 'customer');
SELECT tests.set_now('2026-06-10 12:01Z');
SELECT throws_ok(format($$SELECT api.release_hold(%L)$$, :'h6'), 'AD404', 'Slot hold not found', 'only the holder can give a hold back');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c6', 'customer');
SELECT is(api.release_hold(:'h6'), true, 'the holder gives the hold back');
SELECT tests.set_now('2026-06-10 12:02Z');
SELECT is(api.release_hold(:'h6'), false, 'giving it back twice changes nothing');
SELECT tests.clear_authentication();
SELECT is((SELECT cancel_reason FROM app.sessions WHERE id = :'h6'), 'customer', 'a hold given back is cancelled with reason customer');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

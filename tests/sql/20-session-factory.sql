-- The session factory: immediate, scheduled with a chosen mechanic, deferred matching, advice-only,
-- every validation error, duplicate booking and who may call it.
BEGIN;
SELECT plan(53);
SET LOCAL timezone = 'UTC';

SELECT tests.create_workshop_mechanic(p_timezone => 'America/Toronto') AS m \gset
SELECT tests.create_independent_mechanic('America/Toronto', p_on_shift => true) AS m_on \gset
SELECT tests.create_customer() AS c \gset
SELECT tests.create_customer() AS c2 \gset
SELECT tests.create_customer(p_city => 'Ottawa') AS c3 \gset
SELECT tests.create_customer() AS c4 \gset
SELECT tests.create_vehicle(:'c') AS v \gset
SELECT tests.create_vehicle(:'c2', 'Toyota', 'Corolla') AS v2 \gset
SELECT tests.create_user('customer') AS no_profile \gset
SELECT tests.create_admin() AS admin \gset

------------------------------------------------------------------ immediate
SELECT tests.authenticate_as(:'c', 'customer');
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Engine light is on',
  p_vehicle_id => :'v', p_is_urgent => true) AS imm \gset
SELECT is(:'imm'::jsonb ->> 'status', 'pending', 'an immediate session starts pending');
SELECT ok(:'imm'::jsonb -> 'scheduled_for' = 'null'::jsonb AND (:'imm'::jsonb ->> 'is_immediate')::boolean,
  'an immediate session has no scheduled_for');
SELECT is((:'imm'::jsonb ->> 'ends_at')::timestamptz, '2026-06-10 12:30Z'::timestamptz, 'an immediate session ends now + plan duration');
SELECT is(:'imm'::jsonb ->> 'customer_id', :'c', 'the session belongs to the calling customer');
SELECT tests.clear_authentication();
SELECT is((SELECT is_urgent FROM app.sessions WHERE id = (:'imm'::jsonb ->> 'id')::uuid), true, 'is_urgent is stored for immediate sessions');
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = (:'imm'::jsonb ->> 'id')::uuid;

SELECT tests.authenticate_as(:'c', 'customer');
SELECT tests.set_now('2026-06-10 13:00Z');
SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Noise', p_vehicle_id => :'v',
  p_mechanic_id => :'m_on') AS imm2 \gset
SELECT tests.clear_authentication();
SELECT results_eq(format('SELECT mechanic_id, status, priority FROM app.session_assignments WHERE session_id = %L', :'imm2'::jsonb ->> 'id'),
  format('VALUES (%L::uuid, %L, %L)', :'m_on', 'offered', 'high'),
  'an immediate session with a chosen on-shift mechanic offers it to that mechanic first');
UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = (:'imm2'::jsonb ->> 'id')::uuid;

SELECT tests.authenticate_as(:'c', 'customer');
SELECT tests.set_now('2026-06-10 14:00Z');
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x',
  p_vehicle_id => %L, p_mechanic_id => %L)$$, :'v', :'m'),
  'AD409', 'That mechanic is offline; schedule instead', 'an immediate session with an offline mechanic: 409 mechanic_offline');

------------------------------------------------------------------ scheduled with a chosen mechanic
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT api.create_session(p_type => 'video', p_plan_code => 'extended', p_concern => 'Brakes squeal',
  p_concern_category => 'repair', p_vehicle_id => :'v', p_scheduled_for => '2026-06-12 15:00Z', p_mechanic_id => :'m',
  p_preparation_notes => 'Bring the car warm', p_special_requests => 'French please', p_file_refs => '["f1.jpg"]') AS sch \gset
SELECT is(:'sch'::jsonb ->> 'status', 'scheduled', 'a scheduled session starts scheduled');
SELECT is((:'sch'::jsonb ->> 'ends_at')::timestamptz, '2026-06-12 15:45Z'::timestamptz, 'it ends at start + the extended plan''s 45 minutes');
SELECT is(:'sch'::jsonb ->> 'mechanic_id', :'m', 'the chosen mechanic is on the session');
SELECT ok(:'sch'::jsonb -> 'matching_will_run_at' = 'null'::jsonb, 'no deferred matching with a chosen mechanic');
SELECT is(:'sch'::jsonb -> 'file_refs', '["f1.jpg"]'::jsonb, 'file references are stored');
SELECT tests.clear_authentication();
SELECT results_eq(format('SELECT mechanic_id, status, priority FROM app.session_assignments WHERE session_id = %L', :'sch'::jsonb ->> 'id'),
  format('VALUES (%L::uuid, %L, %L)', :'m', 'scheduled', 'high'),
  'booking a chosen mechanic creates a targeted scheduled assignment');
SELECT results_eq(format('SELECT event_type, to_status FROM app.session_events WHERE session_id = %L', :'sch'::jsonb ->> 'id'),
  $$VALUES ('created', 'scheduled')$$, 'creation is logged in session_events');

------------------------------------------------------------------ duplicate booking
SELECT tests.authenticate_as(:'c', 'customer');
SELECT is(tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'x',
  p_vehicle_id => %L, p_scheduled_for => '2026-06-14 15:00Z', p_mechanic_id => %L)$$, :'v', :'m'))
  - 'detail' - 'constraint',
  jsonb_build_object('sqlstate', 'AD409', 'hint', 'duplicate_booking',
                     'message', 'You already have an upcoming appointment; reschedule it instead'),
  'booking again with an upcoming appointment: 409 duplicate_booking');
SELECT is((tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'x',
  p_vehicle_id => %L, p_scheduled_for => '2026-06-14 15:00Z')$$, :'v')) ->> 'detail')::jsonb ->> 'id',
  :'sch'::jsonb ->> 'id', 'the duplicate_booking detail is the existing appointment (also without a chosen mechanic)');
SELECT tests.clear_authentication();

------------------------------------------------------------------ deferred matching
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT api.create_session(p_type => 'diagnostic', p_plan_code => 'standard', p_concern => 'My brakes are grinding loudly',
  p_vehicle_id => :'v2', p_scheduled_for => '2026-06-13 15:00Z') AS def \gset
SELECT is(:'def'::jsonb ->> 'status', 'scheduled', 'a scheduled session without a mechanic is scheduled');
SELECT ok(:'def'::jsonb -> 'mechanic_id' = 'null'::jsonb, 'matching is deferred: no mechanic yet');
SELECT is((:'def'::jsonb ->> 'matching_will_run_at')::timestamptz, '2026-06-13 14:30Z'::timestamptz,
  'matching_will_run_at = scheduled_for - 30 minutes');
SELECT ok((:'def'::jsonb #>> '{metadata,matching_deferred}')::boolean
          AND :'def'::jsonb #> '{metadata,matching_criteria,extractedKeywords}' ? 'brake'
          AND :'def'::jsonb #>> '{metadata,matching_criteria,vehicleMake}' = 'Toyota'
          AND :'def'::jsonb #>> '{metadata,matching_criteria,customerCity}' = 'Toronto',
  'the matching criteria (keywords, make, location) are stored in metadata');
SELECT tests.set_now('2026-06-13 14:50Z');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x',
  p_is_advice_only => true)$$) - 'detail' - 'constraint',
  '{"sqlstate": "AD409", "hint": "customer_overlap", "message": "You already have an appointment at that time"}'::jsonb,
  'an immediate session overlapping the customer''s own appointment: 409 customer_overlap');
SELECT tests.clear_authentication();

------------------------------------------------------------------ advice only
SELECT tests.authenticate_as(:'c3', 'customer');
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Which oil should I use?',
  p_concern_category => 'consultation', p_is_advice_only => true, p_scheduled_for => '2026-06-12 16:00Z',
  p_mechanic_id => :'m') AS adv \gset
SELECT ok((:'adv'::jsonb ->> 'is_advice_only')::boolean AND :'adv'::jsonb -> 'vehicle_id' = 'null'::jsonb,
  'an advice-only session needs no vehicle');
SELECT is((SELECT price_cents FROM app.plans WHERE code = :'adv'::jsonb ->> 'plan_code'), 2900, 'advice only follows the plan price (not free)');

------------------------------------------------------------------ validation errors
-- each: SQLSTATE, message and the stable code in the HINT
SELECT throws_ok($$SELECT api.create_session(p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true)$$,
  'AD422', 'type is required', 'missing type: 422');
SELECT is(tests.error_of($$SELECT api.create_session(p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true)$$) ->> 'hint',
  'missing_field', 'missing type: code missing_field');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'phone', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true)$$) ->> 'hint',
  'invalid_value', 'unknown type: 422 invalid_value');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_concern => 'x', p_is_advice_only => true)$$,
  'AD422', 'plan_code is required', 'missing plan: 422 missing_field');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'gold', p_concern => 'x', p_is_advice_only => true)$$,
  'AD422', 'Unknown plan "gold"', 'unknown plan: 422');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'gold', p_concern => 'x', p_is_advice_only => true)$$) ->> 'hint',
  'unknown_plan', 'unknown plan: code unknown_plan');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => '  ', p_is_advice_only => true)$$,
  'AD422', 'concern is required', 'blank concern: 422 missing_field');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_concern_category => 'gossip', p_is_advice_only => true)$$) ->> 'hint',
  'invalid_value', 'unknown concern category: 422 invalid_value');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_service_mode => 'teleport', p_is_advice_only => true)$$) ->> 'hint',
  'invalid_value', 'unknown service mode: 422 invalid_value');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x')$$,
  'AD422', 'vehicle_id is required unless the session is advice only', 'no vehicle and not advice-only: 422 missing_field');
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_vehicle_id => %L)$$, :'v'),
  'AD422', 'That vehicle is not one of yours', 'another customer''s vehicle: 422');
SELECT is(tests.error_of(format($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_vehicle_id => %L)$$, :'v')) ->> 'hint',
  'vehicle_not_yours', 'another customer''s vehicle: code vehicle_not_yours');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_scheduled_for => '2026-06-10 11:00Z')$$,
  'AD422', 'Cannot schedule in the past', 'a time in the past: 422 "Cannot schedule in the past"');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_scheduled_for => '2026-06-10 11:00Z')$$) ->> 'hint', 'past_time', 'a time in the past: code past_time');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_scheduled_for => '2026-06-10 13:59Z')$$) - 'detail' - 'constraint',
  '{"sqlstate": "AD422", "hint": "too_short_notice", "message": "Appointments must be booked at least 02:00:00 ahead"}'::jsonb,
  'under 2 hours ahead: 422 too_short_notice');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_scheduled_for => '2026-07-10 12:01Z')$$) - 'detail' - 'constraint',
  '{"sqlstate": "AD422", "hint": "beyond_horizon", "message": "Appointments can be booked at most 30 days ahead"}'::jsonb,
  'more than 30 days ahead: 422 beyond_horizon');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_is_urgent => true, p_scheduled_for => '2026-06-12 15:00Z')$$) ->> 'hint',
  'invalid_value', 'urgent is for immediate sessions only: 422 invalid_value');
SELECT is(tests.error_of(format($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_service_mode => 'in_person', p_mechanic_id => %L, p_scheduled_for => '2026-06-12 15:00Z')$$, :'m_on')) ->> 'hint',
  'in_person_unavailable', 'in person with a mechanic without a workshop: 422 in_person_unavailable');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_mechanic_id => '00000000-0000-0000-0000-000000000000', p_scheduled_for => '2026-06-12 15:00Z')$$,
  'AD404', 'Mechanic not found', 'an unknown mechanic: 404 mechanic_not_found');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c4', 'customer');  -- c3 has an appointment now; c4 has none
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_mechanic_id => %L, p_scheduled_for => '2026-06-12 23:00Z')$$, :'m'),
  'AD409', 'That time slot is not available', 'outside opening hours: 409 slot_unavailable');
SELECT is((tests.error_of(format($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_mechanic_id => %L, p_scheduled_for => '2026-06-12 15:30Z')$$, :'m')) ->> 'detail')::jsonb -> 'reasons',
  '["overlapping_booking"]'::jsonb, 'a booked slot: 409 slot_unavailable with the reasons in the detail');
SELECT is(tests.error_of($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_file_refs => '{"a": 1}')$$) ->> 'hint', 'invalid_value', 'file_refs must be an array: 422 invalid_value');

------------------------------------------------------------------ who may call
SELECT throws_ok(format($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true, p_customer_id => %L)$$, :'c'),
  'AD403', 'Only the customer (or an admin) can do this', 'a customer cannot book for another customer: 403');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'m', 'mechanic');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true)$$,
  '42501', NULL, 'a mechanic cannot call the factory');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(NULL, 'anon');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true)$$,
  '42501', NULL, 'an anonymous caller cannot call the factory');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'no_profile', 'customer');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true)$$,
  'AD404', 'Customer not found', 'a customer without a profile: 404 customer_not_found');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT throws_ok($$SELECT api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true)$$,
  'AD422', 'customer_id is required', 'an admin must name the customer');
SELECT is(api.create_session(p_type => 'chat', p_plan_code => 'premium', p_concern => 'x', p_is_advice_only => true,
  p_scheduled_for => '2026-06-20 15:00Z', p_customer_id => :'c4') ->> 'customer_id', :'c4',
  'an admin books for a named customer');
SELECT tests.clear_authentication();

SELECT is((SELECT count(*)::int FROM app.sessions WHERE customer_id = :'c' AND status = 'scheduled'), 1,
  'after all the failures the customer still has exactly one appointment');
SELECT has_function('api', 'create_session', 'api.create_session exists');

SELECT * FROM finish();
ROLLBACK;

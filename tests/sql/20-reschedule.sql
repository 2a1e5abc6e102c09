-- Reschedule: one atomic move; a failed reschedule leaves the original booking intact.
BEGIN;
SELECT plan(23);
SET LOCAL timezone = 'UTC';

SELECT tests.create_workshop_mechanic() AS m \gset
SELECT tests.create_workshop_mechanic() AS m2 \gset
SELECT tests.create_customer() AS c \gset
SELECT tests.create_customer() AS other \gset
SELECT tests.create_customer() AS c3 \gset
SELECT tests.create_admin() AS admin \gset
SELECT tests.book(:'c', :'m', '2026-06-12 15:00Z', 'extended', '2026-06-10 12:00Z') AS s \gset
SELECT tests.book(:'other', :'m', '2026-06-12 17:00Z', 'standard', '2026-06-10 12:00Z') AS taken \gset

------------------------------------------------------------------ success
SELECT tests.authenticate_as(:'c', 'customer');
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT api.reschedule_session(:'s', '2026-06-12 18:00Z') AS r \gset
SELECT is((:'r'::jsonb ->> 'scheduled_for')::timestamptz, '2026-06-12 18:00Z'::timestamptz, 'the appointment moves to the new time');
SELECT is((:'r'::jsonb ->> 'ends_at')::timestamptz, '2026-06-12 18:45Z'::timestamptz, 'it keeps its 45-minute duration');
SELECT is(:'r'::jsonb ->> 'id', :'s', 'it is the same appointment');
SELECT is((SELECT available FROM api.check_availability(:'m', '2026-06-12 15:00Z', NULL, 'standard')), true,
  'the old slot is free again');
SELECT is((SELECT reasons FROM api.check_availability(:'m', '2026-06-12 18:00Z', NULL, 'standard')),
  ARRAY['overlapping_booking'], 'the new slot is taken');
SELECT lives_ok(format($$SELECT api.reschedule_session(%L, '2026-06-12 18:30Z')$$, :'s'),
  'moving by 30 minutes onto part of its own time works (one row, one update)');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT (metadata ->> 'old_scheduled_for')::timestamptz, (metadata ->> 'new_scheduled_for')::timestamptz
                           FROM app.session_events WHERE session_id = %L AND event_type = 'rescheduled' ORDER BY id$$, :'s'),
  $$VALUES ('2026-06-12 15:00Z'::timestamptz, '2026-06-12 18:00Z'::timestamptz), ('2026-06-12 18:00Z', '2026-06-12 18:30Z')$$,
  'each move is logged as a rescheduled event with the old and new time');

------------------------------------------------------------------ failures change nothing
SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok(format($$SELECT api.reschedule_session(%L, '2026-06-12 17:00Z')$$, :'s'),
  'AD409', 'That time slot is not available', 'rescheduling onto a taken slot: 409 slot_unavailable');
SELECT is(tests.error_of(format($$SELECT api.reschedule_session(%L, '2026-06-12 23:30Z')$$, :'s')) ->> 'hint',
  'slot_unavailable', 'rescheduling outside opening hours: 409 slot_unavailable');
SELECT throws_ok(format($$SELECT api.reschedule_session(%L, '2026-06-09 15:00Z')$$, :'s'),
  'AD422', 'Cannot schedule in the past', 'rescheduling into the past: 422 past_time');
SELECT is(tests.error_of(format($$SELECT api.reschedule_session(%L, '2026-06-10 13:00Z')$$, :'s')) ->> 'hint',
  'too_short_notice', 'rescheduling under 2 hours ahead: 422 too_short_notice');
SELECT is(tests.error_of(format($$SELECT api.reschedule_session(%L, '2026-08-12 15:00Z')$$, :'s')) ->> 'hint',
  'beyond_horizon', 'rescheduling beyond 30 days: 422 beyond_horizon');
SELECT is(tests.error_of(format($$SELECT api.reschedule_session(%L, NULL)$$, :'s')) ->> 'hint', 'missing_field',
  'rescheduling without a time: 422 missing_field');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT scheduled_for, ends_at, status, mechanic_id FROM app.sessions WHERE id = %L$$, :'s'),
  format($$VALUES ('2026-06-12 18:30Z'::timestamptz, '2026-06-12 19:15Z'::timestamptz, 'scheduled', %L::uuid)$$, :'m'),
  'after the failed reschedules the original booking is intact');
SELECT is((SELECT reasons FROM api.check_availability(:'m', '2026-06-12 18:30Z', NULL, 'standard')),
  ARRAY['overlapping_booking'], 'and still holds its slot');
SELECT is((SELECT count(*)::int FROM app.session_events WHERE session_id = :'s' AND event_type = 'rescheduled'), 2,
  'failed reschedules log nothing');

------------------------------------------------------------------ another mechanic, deferred sessions
SELECT tests.authenticate_as(:'c', 'customer');
SELECT is(api.reschedule_session(:'s', '2026-06-12 17:00Z', :'m2') ->> 'mechanic_id', :'m2',
  'an appointment can move to another mechanic');
SELECT tests.clear_authentication();
SELECT results_eq(format($$SELECT mechanic_id, status FROM app.session_assignments WHERE session_id = %L ORDER BY status$$, :'s'),
  format($$VALUES (%L::uuid, 'scheduled'), (%L::uuid, 'withdrawn')$$, :'m2', :'m'),
  'the new mechanic gets the scheduled assignment, the old one is withdrawn');

SELECT tests.authenticate_as(:'c3', 'customer');
SELECT (api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'x', p_is_advice_only => true,
  p_scheduled_for => '2026-06-13 15:00Z') ->> 'id') AS def \gset
SELECT is((api.reschedule_session(:'def', '2026-06-14 15:00Z') ->> 'matching_will_run_at')::timestamptz,
  '2026-06-14 14:30Z'::timestamptz, 'a deferred appointment moves its matching time along');

------------------------------------------------------------------ who may reschedule what
SELECT throws_ok(format($$SELECT api.reschedule_session(%L, '2026-06-14 16:00Z')$$, :'s'),
  'AD404', 'Session not found', 'another customer''s appointment: 404');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'m', 'mechanic');
SELECT throws_ok(format($$SELECT api.reschedule_session(%L, '2026-06-14 16:00Z')$$, :'s'), '42501', NULL,
  'mechanics cannot call reschedule');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is((api.reschedule_session(:'s', '2026-06-15 15:00Z') ->> 'scheduled_for')::timestamptz,
  '2026-06-15 15:00Z'::timestamptz, 'an admin can reschedule any appointment');
SELECT api.set_session_status(:'s', 'cancelled', 'customer') IS NOT NULL AS cancelled \gset
SELECT throws_ok(format($$SELECT api.reschedule_session(%L, '2026-06-16 15:00Z')$$, :'s'),
  'AD409', 'A session that is cancelled cannot be rescheduled', 'a cancelled appointment: 409 not_reschedulable');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Who may change a mechanic's time: every writer takes the mechanic's lock, and the triggers refuse
-- a booking outside hours or inside time off, time off over bookings, and hours that would leave
-- bookings outside — for the api functions and for a DBA's direct INSERT/UPDATE alike.
-- (The races themselves are proven with parallel connections in tests/py/test_mechanic_time_races.py.)
BEGIN;
SELECT plan(51);
SET LOCAL timezone = 'UTC';
SELECT tests.set_now('2026-06-10 12:00Z');   -- Wednesday 08:00 in Toronto

-- lock_held(mechanic): does this transaction hold the mechanic's lock?
CREATE FUNCTION pg_temp.lock_held(p_mechanic uuid) RETURNS boolean LANGUAGE sql AS $$
  SELECT EXISTS (SELECT FROM pg_locks l
                 WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted AND l.classid = 20
                   AND l.objid::bigint = (hashtext(p_mechanic::text)::bigint & 4294967295) AND l.objsubid = 2)
$$;

-- 09:00-18:00 every day
SELECT tests.create_workshop('America/Toronto') AS w \gset
SELECT tests.create_workshop_mechanic(:'w') AS m \gset
SELECT tests.create_workshop_mechanic(:'w') AS m_same_shop \gset
SELECT tests.create_independent_mechanic('America/Toronto',
-- Fridays 09-17
  '[{"day_of_week": 5, "start_time": "09:00", "end_time": "17:00"}]') AS ind \gset
SELECT tests.create_customer() AS c1 \gset
SELECT tests.create_customer() AS c2 \gset
SELECT tests.create_customer() AS c3 \gset
SELECT tests.create_customer() AS c4 \gset
SELECT tests.create_admin() AS admin \gset

------------------------------------------------------------------ the status sets, defined once
SELECT is(app_private.blocking_statuses(), '{held,scheduled,pending,waiting,active}'::text[], 'blocking statuses');
SELECT is((SELECT array_agg(m[1] ORDER BY m[1]) FROM pg_constraint c,
                  regexp_matches(pg_get_constraintdef(c.oid), '''(\w+)''', 'g') m
           WHERE c.conname = 'sessions_no_mechanic_overlap'),
          (SELECT array_agg(s ORDER BY s) FROM unnest(app_private.blocking_statuses()) s),
  'blocking_statuses() is exactly the set of the mechanic exclusion constraint');
SELECT is((SELECT array_agg(m[1] ORDER BY m[1]) FROM pg_trigger t,
                  regexp_matches(pg_get_triggerdef(t.oid), '''(\w+)''', 'g') m
           WHERE t.tgname = 'sessions_occupy_mechanic_time'),
          (SELECT array_agg(s ORDER BY s) FROM unnest(app_private.blocking_statuses()) s),
  'the WHEN clause of sessions_occupy_mechanic_time lists exactly blocking_statuses()');
SELECT is((SELECT array_agg(s ORDER BY s) FROM unnest(app_private.blocking_statuses() || app_private.final_statuses()) s),
          (SELECT array_agg(m[1] ORDER BY m[1]) FROM pg_constraint c,
                  regexp_matches(pg_get_constraintdef(c.oid), '''(\w+)''', 'g') m
           WHERE c.conname = 'sessions_status_valid'),
  'blocking and final statuses together are every status sessions_status_valid allows');
SELECT ok(app_private.upcoming_statuses() <@ app_private.blocking_statuses()
          AND NOT 'held' = ANY (app_private.upcoming_statuses())
          AND app_private.active_statuses() <@ app_private.upcoming_statuses(),
  'upcoming = blocking without holds; active is a part of upcoming');
SELECT is_empty($$SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'app_private' AND p.proname LIKE '%\_statuses'
                    AND (p.provolatile <> 'i' OR p.prolang <> (SELECT oid FROM pg_language WHERE lanname = 'sql')
                         OR p.proconfig IS NOT NULL)$$,
  'the status helpers are IMMUTABLE SQL without SET (the planner inlines them to constants)');

------------------------------------------------------------------ booking: the lock, hours and time off
SELECT tests.book(:'c1', :'m', '2026-06-12 15:00Z') AS s1 \gset
SELECT ok(pg_temp.lock_held(:'m'), 'booking took the mechanic''s lock');
SELECT ok(NOT pg_temp.lock_held(:'ind'), 'and no other mechanic''s');
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT is(tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'x',
  p_is_advice_only => true, p_mechanic_id => %L, p_scheduled_for => '2026-06-12 23:00Z')$$, :'m')) #>> '{hint}',
  'slot_unavailable', 'booking at 19:00 local, after closing: 409 slot_unavailable');
SELECT is((tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'x',
  p_is_advice_only => true, p_mechanic_id => %L, p_scheduled_for => '2026-06-12 23:00Z')$$, :'m')) ->> 'detail')::jsonb -> 'reasons',
  '["closed"]'::jsonb, '... with reason closed (from the trigger)');
SELECT tests.clear_authentication();

-- a DBA's direct INSERT goes through the same check
SELECT is((tests.error_of(format($$INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, concern, concern_category,
  is_advice_only, scheduled_for, ends_at, status) VALUES (%L, %L, 'standard', 'video', 'x', 'diagnostic', true,
  '2026-06-13 02:00Z', '2026-06-13 02:30Z', 'scheduled')$$, :'c3', :'m')) ->> 'detail')::jsonb -> 'reasons',
  '["closed"]'::jsonb, 'a direct INSERT outside opening hours is refused: closed');
SELECT tests.add_time_off(:'m', '2026-06-15 00:00Z', '2026-06-16 00:00Z') AS t_m \gset
SELECT is((tests.error_of(format($$INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, concern, concern_category,
  is_advice_only, scheduled_for, ends_at, status) VALUES (%L, %L, 'standard', 'video', 'x', 'diagnostic', true,
  '2026-06-15 15:00Z', '2026-06-15 15:30Z', 'scheduled')$$, :'c3', :'m')) ->> 'detail')::jsonb -> 'reasons',
  '["time_off"]'::jsonb, 'a direct INSERT inside time off is refused: time_off');
SELECT lives_ok(format($$INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, concern, concern_category,
  is_advice_only, scheduled_for, ends_at, status) VALUES (%L, %L, 'standard', 'video', 'x', 'diagnostic', true,
  '2026-06-16 15:00Z', '2026-06-16 15:30Z', 'scheduled')$$, :'c3', :'m'),
  'a direct INSERT inside hours and outside time off is accepted');

-- reschedule: the new time is checked by the trigger, the old and new mechanic are both locked
SELECT tests.authenticate_as(:'c1', 'customer');
SELECT is((tests.error_of(format($$SELECT api.reschedule_session(%L, '2026-06-15 15:00Z')$$, :'s1')) ->> 'detail')::jsonb -> 'reasons',
  '["time_off"]'::jsonb, 'a reschedule into time off: 409 slot_unavailable, time_off');
SELECT lives_ok(format($$SELECT api.reschedule_session(%L, '2026-06-12 15:00Z', %L)$$, :'s1', :'ind'),
  'a reschedule to another mechanic inside their hours');
SELECT tests.clear_authentication();
SELECT ok(pg_temp.lock_held(:'ind'), 'the reschedule locked the new mechanic');

-- a row that already occupies its time is not checked again when only its status moves
SET LOCAL session_replication_role = replica;   -- plant time off without its trigger, as an old row would be
INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date) VALUES (:'ind', '2026-06-12 00:00Z', '2026-06-13 00:00Z');
SET LOCAL session_replication_role = origin;
SELECT lives_ok(format($$SELECT app_private.transition_session(%L, 'pending')$$, :'s1'),
  'scheduled -> pending is not re-checked (the row already occupied that time)');

------------------------------------------------------------------ holds
-- expires 12:10
SELECT tests.hold(:'c4', :'m_same_shop', '2026-06-17 15:00Z') AS h \gset
SELECT tests.set_now('2026-06-10 12:20Z');                                     -- lapsed, not yet released
SELECT lives_ok(format($$SELECT tests.add_time_off(%L, '2026-06-17 00:00Z', '2026-06-18 00:00Z')$$, :'m_same_shop'),
  'time off may cover a hold that lapsed');
SELECT tests.set_now('2026-06-10 12:05Z');   -- a conversion that started before the hold lapsed ...
SELECT tests.authenticate_as(:'c4', 'customer');
SELECT is((tests.error_of(format($$SELECT api.create_session(p_type => 'video', p_concern => 'x', p_is_advice_only => true,
  p_hold_id => %L)$$, :'h')) ->> 'detail')::jsonb -> 'reasons',
  '["time_off"]'::jsonb, '... is refused when time off now covers the held slot (a hold becoming a booking is checked again)');
SELECT tests.clear_authentication();
SELECT tests.set_now('2026-06-10 12:00Z');

------------------------------------------------------------------ time off over bookings
SELECT is((tests.error_of(format($$INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date)
  VALUES (%L, '2026-06-16 00:00Z', '2026-06-17 00:00Z')$$, :'m')) ->> 'hint'), 'time_off_conflicts',
  'a direct INSERT of time off over a booking: 409 time_off_conflicts');
SELECT is((SELECT count(*)::int FROM app.mechanic_time_off WHERE mechanic_id = :'m'), 1, 'and nothing was written');
SELECT is((tests.error_of(format($$UPDATE app.mechanic_time_off SET end_date = '2026-06-17 00:00Z' WHERE id = %L$$, :'t_m'))
           ->> 'detail')::jsonb #>> '{sessions,0,starts_at}',
  '2026-06-16T15:00:00+00:00', 'stretching time off over a booking is refused too, listing the booking');
SELECT tests.authenticate_as(:'m', 'mechanic');
SELECT is(tests.error_of(format($$INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date)
  VALUES (%L, '2026-06-16 15:10Z', '2026-06-16 15:20Z')$$, :'m')) ->> 'hint', 'time_off_conflicts',
  'a mechanic writing their own time off directly meets the same check (the trigger sees every session)');
SELECT tests.clear_authentication();
SELECT tests.create_workshop_mechanic(:'w') AS m_free \gset
SELECT ok(NOT pg_temp.lock_held(:'m_free'), 'a new mechanic is not locked yet');
SELECT tests.authenticate_as(:'m_free', 'mechanic');
SELECT lives_ok($$SELECT api.add_time_off('2026-06-20 00:00Z', '2026-06-21 00:00Z')$$, 'time off on a free day is accepted');
SELECT ok(pg_temp.lock_held(:'m_free'), 'adding time off took the mechanic''s lock');
SELECT tests.clear_authentication();

------------------------------------------------------------------ weekly blocks
-- ind has s1 on Friday 2026-06-12 11:00-11:30 local
SELECT tests.authenticate_as(:'ind', 'mechanic');
SELECT is((tests.error_of($$SELECT api.set_availability_blocks(NULL, '[{"day_of_week": 5, "start_time": "13:00", "end_time": "17:00"}]')$$)
           ->> 'detail')::jsonb #>> '{sessions,0,session_id}', :'s1',
  'blocks that no longer cover a booking: 409 hours_conflict listing it');
SELECT is((SELECT array_agg(start_time) FROM app.mechanic_availability_blocks WHERE mechanic_id = :'ind'), ARRAY['09:00'::time],
  'and the old blocks stay');
SELECT is(tests.error_of($$SELECT api.set_availability_blocks(NULL, '[{"day_of_week": 1, "start_time": "09:00", "end_time": "17:00"}]')$$)
          ->> 'hint', 'hours_conflict', 'moving the only block to another day is refused as well');
SELECT is(api.set_availability_blocks(NULL, '[{"day_of_week": 5, "start_time": "10:00", "end_time": "12:00"},
                                             {"day_of_week": 1, "start_time": "09:00", "end_time": "17:00"}]'), 2,
  'blocks that still cover every booking are accepted');
SELECT is(api.set_availability_blocks(NULL, '[]'), 0, 'no blocks (the default 09:00-18:00 window) still covers it');
SELECT tests.clear_authentication();
SET CONSTRAINTS app.blocks_keep_bookings_inside_hours IMMEDIATE;
SELECT is(tests.error_of(format($$INSERT INTO app.mechanic_availability_blocks (mechanic_id, day_of_week, start_time, end_time)
  VALUES (%L, 1, '09:00', '17:00')$$, :'ind')) ->> 'hint', 'hours_conflict',
  'a direct INSERT of a Monday block (Friday closes) is refused by the same check');
SET CONSTRAINTS app.blocks_keep_bookings_inside_hours DEFERRED;
-- ind has no hours of their own now: the default window (app.booking_settings) is theirs
SET CONSTRAINTS app.booking_settings_keep_bookings_inside IMMEDIATE;
SELECT is((tests.error_of($$UPDATE app.booking_settings SET default_open_time = '12:00'$$) ->> 'detail')::jsonb -> 'sessions'
          @> jsonb_build_array(jsonb_build_object('mechanic_id', :'ind')), true,
  'a default window opening at 12:00 would leave ind''s 11:00 booking outside: 409 hours_conflict naming it');
SELECT lives_ok($$UPDATE app.booking_settings SET default_open_time = '08:00'$$, 'a wider default window is accepted');
SELECT lives_ok($$UPDATE app.booking_settings SET default_open_time = '09:00', min_notice = min_notice$$,
  'and back; other settings are not an hours change');
SET CONSTRAINTS app.booking_settings_keep_bookings_inside DEFERRED;

------------------------------------------------------------------ workshop hours and zone
-- m has a booking on Tuesday 2026-06-16 11:00 local, m_same_shop a live hold on Wednesday 11:00
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is((tests.error_of(format($$SELECT api.set_workshop_hours(%L, '[{"day_of_week": 3, "open_time": "09:00", "close_time": "18:00"}]')$$, :'w'))
           ->> 'detail')::jsonb #>> '{sessions,0,mechanic_id}', :'m',
  'workshop hours that close on a booked Tuesday: 409 hours_conflict naming the mechanic''s booking');
SELECT is(api.set_workshop_hours(:'w', '[{"day_of_week": 2, "open_time": "08:00", "close_time": "20:00"},
                                        {"day_of_week": 3, "open_time": "10:00", "close_time": "12:00"}]'), 2,
  'hours that keep every booking and live hold inside are accepted');
SELECT tests.clear_authentication();
SELECT tests.create_workshop('America/Toronto') AS w2 \gset
SELECT tests.create_workshop_mechanic(:'w2') AS w2_a \gset
SELECT tests.create_workshop_mechanic(:'w2') AS w2_b \gset
SELECT ok(NOT pg_temp.lock_held(:'w2_a') AND NOT pg_temp.lock_held(:'w2_b'), 'a new workshop''s mechanics are not locked yet');
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is(api.set_workshop_hours(:'w2', '[]'), 0, 'an admin changes the new workshop''s hours');
SELECT tests.clear_authentication();
SELECT ok(pg_temp.lock_held(:'w2_a') AND pg_temp.lock_held(:'w2_b'), 'setting the hours locked every mechanic of the workshop');
SET CONSTRAINTS app.workshop_zone_keeps_bookings_inside IMMEDIATE;
SELECT is(tests.error_of(format($$UPDATE app.workshops SET timezone = 'Asia/Tokyo' WHERE id = %L$$, :'w')) ->> 'hint',
  'hours_conflict', 'moving the workshop to another zone would move its hours off the bookings: refused');
SET CONSTRAINTS app.workshop_zone_keeps_bookings_inside DEFERRED;

------------------------------------------------------------------ going off shift
SELECT tests.create_workshop_mechanic(:'w', p_on_shift => true) AS on_m \gset
SELECT tests.authenticate_as(:'c2', 'customer');
SELECT (api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Now', p_is_advice_only => true) ->> 'id') AS imm \gset
SELECT tests.clear_authentication();
SELECT is(tests.error_of(format($$UPDATE app.sessions SET mechanic_id = %L, status = 'waiting' WHERE id = %L$$, :'m', :'imm'))
          ->> 'hint', 'mechanic_offline', 'an immediate session cannot go to a mechanic who is off shift: 409 mechanic_offline');
UPDATE app.sessions SET mechanic_id = :'on_m', status = 'waiting' WHERE id = :'imm';   -- the mechanic accepted it
SELECT tests.authenticate_as(:'on_m', 'mechanic');
SELECT is((tests.error_of('SELECT api.set_shift(false)') ->> 'detail')::jsonb #>> '{sessions,0,session_id}', :'imm',
  'going off shift with an accepted immediate session: 409 sessions_in_progress');
SELECT is((SELECT currently_on_shift FROM app.mechanics WHERE user_id = :'on_m'), true, 'and the mechanic stays on shift');
SELECT tests.clear_authentication();
-- a DBA's direct UPDATE passes the same check (the trigger, not set_shift, holds the rule)
SELECT is(tests.error_of(format('UPDATE app.mechanics SET currently_on_shift = false WHERE user_id = %L', :'on_m')) ->> 'hint',
  'sessions_in_progress', 'a direct UPDATE going off shift with the session in progress: 409 sessions_in_progress');
SELECT lives_ok(format('UPDATE app.mechanics SET shift_changed_at = shift_changed_at WHERE user_id = %L', :'on_m'),
  'other changes of the row (staying on shift) are not checked');
SELECT (app_private.transition_session(:'imm', 'cancelled', 'mechanic')).status;
SELECT tests.authenticate_as(:'on_m', 'mechanic');
SELECT is(api.set_shift(false) ->> 'currently_on_shift', 'false', 'with nothing in progress the mechanic goes off shift');
SELECT tests.clear_authentication();

------------------------------------------------------------------ the trigger runs only for rows that occupy time
-- (its WHEN clause: a mechanic and a blocking status; counted by the transaction's function statistics)
SET LOCAL track_functions = 'all';
CREATE FUNCTION pg_temp.occupy_calls() RETURNS bigint LANGUAGE sql AS $$
  SELECT coalesce(pg_stat_get_xact_function_calls('app_private.sessions_occupy_mechanic_time'::regproc), 0)
$$;
SELECT tests.create_customer() AS c5 \gset
SELECT tests.create_workshop('America/Toronto') AS w3 \gset
SELECT tests.create_workshop_mechanic(:'w3') AS m3 \gset
SELECT pg_temp.occupy_calls() AS calls0 \gset
SELECT tests.book(:'c5', :'m3', '2026-06-19 15:00Z') AS s_when \gset
SELECT is(pg_temp.occupy_calls(), :calls0 + 1::bigint, 'a booking with a mechanic runs the occupy trigger');
UPDATE app.sessions SET ends_at = ends_at + interval '30 minutes' WHERE id = :'s_when';
SELECT is(pg_temp.occupy_calls(), :calls0 + 2::bigint, 'so does moving its end (it occupies other time)');
SELECT (app_private.transition_session(:'s_when', 'cancelled', 'customer')).status;
SELECT is(pg_temp.occupy_calls(), :calls0 + 2::bigint, 'cancelling it does not call it (WHEN clause)');
SELECT tests.authenticate_as(:'c5', 'customer');
SELECT (api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Now', p_is_advice_only => true) ->> 'id') AS imm2 \gset
SELECT tests.clear_authentication();
SELECT is(pg_temp.occupy_calls(), :calls0 + 2::bigint, 'nor does an immediate request without a mechanic');

SELECT * FROM finish();
ROLLBACK;

-- Availability: opening windows as exact instants (DST, overnight, half-hour zones), the day grid,
-- the 30-day calendar, and every reason a slot is unavailable.
BEGIN;
SELECT plan(54);
SET LOCAL timezone = 'UTC';

------------------------------------------------------------------ DST in America/Toronto
SELECT tests.create_workshop_mechanic(p_timezone => 'America/Toronto') AS to_m \gset

SELECT tests.set_now('2026-10-20 12:00Z');
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'to_m', '2026-11-01', 'standard')), 18,
  'Toronto 09:00-18:00 on 2026-11-01 (25-hour day) has 18 slots');
SELECT results_eq(
  $$SELECT starts_at, local_start FROM api.mechanic_slots('$$ || :'to_m' || $$', '2026-11-01', 'standard') LIMIT 1$$,
  $$VALUES ('2026-11-01 14:00Z'::timestamptz, '2026-11-01 09:00'::timestamp)$$,
  '2026-11-01: the first slot is 09:00 EST = 14:00 UTC');
SELECT is((SELECT max(starts_at) FROM api.mechanic_slots(:'to_m', '2026-11-01', 'standard')),
  '2026-11-01 22:30Z'::timestamptz, '2026-11-01: the last slot is 17:30 EST = 22:30 UTC');
SELECT ok((SELECT bool_and(available) FROM api.mechanic_slots(:'to_m', '2026-11-01', 'standard')),
  '2026-11-01: every slot is available');
SELECT is((SELECT array_agg(to_char(local_start, 'HH24:MI') ORDER BY starts_at)
           FROM api.mechanic_slots(:'to_m', '2026-11-01', 'standard')),
  ARRAY['09:00','09:30','10:00','10:30','11:00','11:30','12:00','12:30','13:00','13:30','14:00','14:30','15:00',
        '15:30','16:00','16:30','17:00','17:30'], '2026-11-01: the slots run 09:00..17:30 local every 30 minutes');
SELECT is((SELECT min(starts_at) FROM api.mechanic_slots(:'to_m', '2026-10-31', 'standard')),
  '2026-10-31 13:00Z'::timestamptz, 'the day before, still EDT, 09:00 is 13:00 UTC');

SELECT tests.set_now('2027-03-01 12:00Z');
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'to_m', '2027-03-14', 'standard')), 18,
  'Toronto 09:00-18:00 on 2027-03-14 (23-hour day) has 18 slots');
SELECT is((SELECT min(starts_at) FROM api.mechanic_slots(:'to_m', '2027-03-14', 'standard')),
  '2027-03-14 13:00Z'::timestamptz, '2027-03-14: the first slot is 09:00 EDT = 13:00 UTC');
SELECT is((SELECT max(starts_at) FROM api.mechanic_slots(:'to_m', '2027-03-14', 'standard')),
  '2027-03-14 21:30Z'::timestamptz, '2027-03-14: the last slot is 17:30 EDT = 21:30 UTC');
SELECT ok((SELECT bool_and(available AND ends_at = starts_at + interval '30 minutes')
           FROM api.mechanic_slots(:'to_m', '2027-03-14', 'standard')),
  '2027-03-14: every slot is available and lasts the plan''s 30 minutes');

------------------------------------------------------------------ opening hours crossing midnight
SELECT tests.create_workshop('America/Toronto', '22:00', '02:00') AS night_w \gset
SELECT tests.create_workshop_mechanic(:'night_w') AS night_m \gset
SELECT tests.set_now('2026-06-01');
SELECT results_eq(
  $$SELECT count(*)::int, min(starts_at), max(starts_at) FROM api.mechanic_slots('$$ || :'night_m' || $$', '2026-06-10', 'standard')$$,
  $$VALUES (8, '2026-06-11 02:00Z'::timestamptz, '2026-06-11 05:30Z'::timestamptz)$$,
  'hours 22:00-02:00 give 8 slots from 22:00 EDT (02:00 UTC next day) to 01:30 EDT');
SELECT is((SELECT available FROM api.mechanic_slots(:'night_m', '2026-06-10', 'premium') WHERE starts_at = '2026-06-11 05:00Z'),
  true, 'overnight: a 60-minute slot at 01:00 fits before the 02:00 close');
SELECT is((SELECT reasons FROM api.mechanic_slots(:'night_m', '2026-06-10', 'premium') WHERE starts_at = '2026-06-11 05:30Z'),
  ARRAY['closed'], 'overnight: a 60-minute slot at 01:30 does not fit (closed)');
SELECT is((SELECT available FROM api.check_availability(:'night_m', '2026-06-11 04:00Z', NULL, 'standard')),
  true, 'check: 00:00 local is inside the window opened the previous evening');
SELECT tests.set_now('2026-10-20');
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'night_m', '2026-10-31', 'standard')), 10,
  'overnight across the DST end: 22:00 EDT to 02:00 EST is 5 hours, 10 slots');
SELECT is((SELECT max(ends_at) FROM api.mechanic_slots(:'night_m', '2026-10-31', 'standard')),
  '2026-11-01 07:00Z'::timestamptz, 'overnight across the DST end: the window closes at 02:00 EST = 07:00 UTC');

------------------------------------------------------------------ half-hour offset zone
SELECT tests.create_workshop_mechanic(p_timezone => 'Asia/Kolkata') AS in_m \gset
SELECT tests.set_now('2026-06-01');
SELECT results_eq(
  $$SELECT count(*)::int, min(starts_at), max(starts_at), min(local_start) FROM api.mechanic_slots('$$ || :'in_m' || $$', '2026-06-10', 'standard')$$,
  $$VALUES (18, '2026-06-10 03:30Z'::timestamptz, '2026-06-10 12:00Z'::timestamptz, '2026-06-10 09:00'::timestamp)$$,
  'Asia/Kolkata 09:00-18:00 (UTC+05:30): 18 slots from 03:30 UTC to 12:00 UTC');

------------------------------------------------------------------ independent mechanics and defaults
SELECT tests.create_independent_mechanic('Europe/London',
  '[{"day_of_week": 1, "start_time": "09:00", "end_time": "12:00"},
    {"day_of_week": 1, "start_time": "13:00", "end_time": "17:00"},
    {"day_of_week": 2, "start_time": "09:00", "end_time": "12:00"},
    {"day_of_week": 2, "start_time": "12:00", "end_time": "13:00"}]') AS lon_m \gset
SELECT results_eq(
  $$SELECT count(*)::int, min(starts_at) FROM api.mechanic_slots('$$ || :'lon_m' || $$', '2026-06-08', 'standard')$$,
  $$VALUES (14, '2026-06-08 08:00Z'::timestamptz)$$,
  'independent (London, BST): Monday blocks 09-12 and 13-17 give 14 slots from 08:00 UTC');
SELECT ok(NOT EXISTS (SELECT FROM api.mechanic_slots(:'lon_m', '2026-06-08', 'standard')
                      WHERE local_start::time = '12:00' OR local_start::time = '12:30'),
  'independent: no slot in the lunch gap');
SELECT is((SELECT available FROM api.mechanic_slots(:'lon_m', '2026-06-09', 'premium') WHERE local_start::time = '11:30'),
  true, 'independent: adjacent blocks merge, a 60-minute slot at 11:30 spans 12:00');
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'lon_m', '2026-06-10', 'standard')), 0,
  'independent: no block on Wednesday, no slots');
SELECT is((SELECT reasons FROM api.check_availability(:'lon_m', '2026-06-10 09:00Z', NULL, 'standard')),
  ARRAY['closed'], 'independent: a Wednesday check is closed');

SELECT tests.create_independent_mechanic('America/Toronto') AS def_m \gset
SELECT results_eq(
  $$SELECT count(*)::int, min(local_start)::time, max(local_start)::time FROM api.mechanic_slots('$$ || :'def_m' || $$', '2026-06-13', 'standard')$$,
  $$VALUES (18, '09:00'::time, '17:30'::time)$$,
  'no hours defined: the default window 09:00-18:00 local every day');
SELECT tests.create_workshop_mechanic(tests.create_workshop('America/Toronto', p_days => '{}')) AS defw_m \gset
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'defw_m', '2026-06-14', 'standard')), 18,
  'a workshop without any hours row uses the default window too');
SELECT tests.create_workshop_mechanic(tests.create_workshop('America/Toronto', p_days => '{1,2,3,4,5}')) AS wk_m \gset
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'wk_m', '2026-06-14', 'standard')), 0,
  'a workshop closed on Sundays has no Sunday slots');

------------------------------------------------------------------ reasons
-- now = 2026-06-10 12:00 UTC = 08:00 Toronto
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT results_eq(
  $$SELECT available, reasons FROM api.check_availability('$$ || :'to_m' || $$', '2026-06-12 14:00Z', NULL, 'standard')$$,
  $$VALUES (true, '{}'::text[])$$, 'an open, free slot is available with no reasons');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-09 14:00Z', NULL, 'standard')),
  ARRAY['in_the_past'], 'a past slot: in_the_past');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-10 13:00Z', NULL, 'standard')),
  ARRAY['too_short_notice'], 'a slot 1 hour ahead: too_short_notice');
SELECT is((SELECT available FROM api.check_availability(:'to_m', '2026-06-10 14:00Z', NULL, 'standard')),
  true, 'a slot exactly 2 hours ahead is bookable');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-07-11 14:00Z', NULL, 'standard')),
  ARRAY['beyond_horizon'], 'a slot 31 days ahead: beyond_horizon');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-12 23:00Z', NULL, 'standard')),
  ARRAY['closed'], 'a slot at 19:00 local: closed');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-12 21:30Z', NULL, 'premium')),
  ARRAY['closed'], 'a 60-minute plan at 17:30 local does not fit: closed');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-12 21:30Z', '2026-06-12 21:45Z', 'premium')),
  '{}'::text[], 'an explicit ends_at overrides the plan duration');
SELECT tests.add_time_off(:'to_m', '2026-06-15 00:00Z', '2026-06-16 00:00Z') IS NOT NULL AS t \gset
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-15 14:00Z', NULL, 'standard')),
  ARRAY['time_off'], 'a slot inside time off: time_off');
SELECT tests.create_customer() AS cust \gset
SELECT tests.book(:'cust', :'to_m', '2026-06-12 15:00Z', 'standard', '2026-06-10 12:00Z') AS booked \gset
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-12 15:00Z', NULL, 'standard')),
  ARRAY['overlapping_booking'], 'a booked slot: overlapping_booking');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-12 14:30Z', NULL, 'premium')),
  ARRAY['overlapping_booking'], 'a longer plan running into a booking: overlapping_booking');
SELECT is((SELECT available FROM api.check_availability(:'to_m', '2026-06-12 15:30Z', NULL, 'standard')),
  true, 'the slot right after a booking is free (half-open ranges)');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-09 23:00Z', NULL, 'standard')),
  ARRAY['in_the_past', 'closed'], 'every applicable reason is listed');

-- the day grid shows the booking and the plan duration
SELECT results_eq(
  $$SELECT to_char(local_start, 'HH24:MI'), available FROM api.mechanic_slots('$$ || :'to_m' || $$', '2026-06-12', 'premium')
    WHERE local_start::time BETWEEN '10:00' AND '11:30' ORDER BY starts_at$$,
  $$VALUES ('10:00', true), ('10:30', false), ('11:00', false), ('11:30', true)$$,
  'with a 11:00-11:30 booking, 60-minute slots at 10:30 and 11:00 are unavailable');
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'to_m', '2026-06-10', 'standard') WHERE available), 16,
  'today at 08:00 local: the 09:00 and 09:30 slots are under the 2-hour notice');

-- a hold that lapsed no longer blocks
SELECT tests.create_customer() AS cust2 \gset
SELECT tests.hold(:'cust2', :'to_m', '2026-06-12 17:00Z', '2026-06-10 12:00Z') AS hold \gset
SELECT tests.set_now('2026-06-10 12:05Z');
SELECT is((SELECT reasons FROM api.check_availability(:'to_m', '2026-06-12 17:00Z', NULL, 'standard')),
  ARRAY['overlapping_booking'], 'an active hold blocks the slot');
SELECT tests.set_now('2026-06-10 12:11Z');
SELECT is((SELECT available FROM api.check_availability(:'to_m', '2026-06-12 17:00Z', NULL, 'standard')),
  true, 'a hold past its 10 minutes does not block, even before the release job ran');

------------------------------------------------------------------ calendar
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT is((SELECT count(*)::int FROM api.mechanic_calendar(:'to_m')), 30,
  'the calendar has 30 days by default');
SELECT tests.set_now('2026-06-10 03:00Z');
SELECT is((SELECT min(local_date) FROM api.mechanic_calendar(:'to_m')), '2026-06-09'::date,
  'the calendar starts on the mechanic''s local today (23:00 on the 9th in Toronto)');
SELECT tests.set_now('2026-06-10 12:30Z');
SELECT results_eq(
  $$SELECT available_slots, total_slots FROM api.mechanic_calendar('$$ || :'to_m' || $$', '2026-06-12', 1, 'standard')$$,
  $$VALUES (17, 18)$$, 'calendar: a day with one booking has 17 of 18 slots');
SELECT results_eq(
  $$SELECT available_slots, total_slots FROM api.mechanic_calendar('$$ || :'to_m' || $$', '2026-06-15', 1, 'standard')$$,
  $$VALUES (0, 18)$$, 'calendar: a day of time off has 0 available slots');
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT results_eq(
  $$SELECT available_slots, total_slots FROM api.mechanic_calendar('$$ || :'wk_m' || $$', '2026-06-14', 1, 'standard')$$,
  $$VALUES (0, 0)$$, 'calendar: a closed day has no slots at all');
SELECT is((SELECT sum(available_slots)::int FROM api.mechanic_calendar(:'to_m', '2026-06-12', 3, 'standard')),
  (SELECT count(*)::int FROM api.mechanic_slots(:'to_m', '2026-06-12', 'standard') WHERE available)
  + (SELECT count(*)::int FROM api.mechanic_slots(:'to_m', '2026-06-13', 'standard') WHERE available)
  + (SELECT count(*)::int FROM api.mechanic_slots(:'to_m', '2026-06-14', 'standard') WHERE available),
  'the calendar counts exactly what the day grid reports');

------------------------------------------------------------------ errors and callers
SELECT throws_ok($$SELECT * FROM api.mechanic_slots('00000000-0000-0000-0000-000000000000', '2026-06-12')$$,
  'AD404', 'Mechanic not found', 'slots for an unknown mechanic: 404 mechanic_not_found');
SELECT throws_ok(format('SELECT * FROM api.mechanic_slots(%L, %L, %L)', :'to_m', '2026-06-12', 'gold'),
  'AD422', 'Unknown plan "gold"', 'slots for an unknown plan: 422 unknown_plan');
SELECT throws_ok(format('SELECT * FROM api.check_availability(%L, %L, %L)', :'to_m', '2026-06-12 15:00Z', '2026-06-12 14:00Z'),
  'AD422', 'ends_at must be after starts_at', 'check with ends_at before starts_at: 422 invalid_range');
SELECT throws_ok(format('SELECT * FROM api.mechanic_calendar(%L, p_days => 0)', :'to_m'),
  'AD422', 'days must be between 1 and 366', 'calendar with 0 days: 422 invalid_value');
SELECT throws_ok('SELECT * FROM api.mechanic_slots(NULL, NULL)',
  'AD422', 'mechanic_id and date are required', 'slots without arguments: 422 missing_field');

SELECT tests.authenticate_as(NULL, 'anon');
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'to_m', '2026-06-13', 'standard')), 18,
  'an anonymous visitor can read the slots (free/busy only)');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

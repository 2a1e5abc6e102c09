-- The slot grid as a rule (SPEC §4): bookings, holds and reschedules with a chosen mechanic start on
-- the grid of the mechanic's local day, else 422 off_grid with the nearest valid starts. Boundaries:
-- the opening instant, a second before the next start, the last start that fits, DST days (23 h and
-- 25 h), hours that open at :15, and starts outside the hours (a `closed` question, not off_grid).
BEGIN;
SELECT plan(24);
SET LOCAL timezone = 'UTC';

SELECT tests.create_workshop_mechanic(p_timezone => 'America/Toronto') AS m \gset
SELECT tests.create_independent_mechanic('America/Toronto',
  '[{"day_of_week": 0, "start_time": "09:15", "end_time": "12:00"}]') AS ind \gset

CREATE FUNCTION pg_temp.grid(p_mechanic uuid, p_start timestamptz, p_duration interval DEFAULT '30 minutes')
RETURNS jsonb LANGUAGE sql AS $$
  SELECT tests.error_of(format('SELECT app_private.require_on_grid(%L, %L, %L)', p_mechanic, p_start, p_duration))
$$;

------------------------------------------------------------------ spring forward: 2031-03-09 is 23 hours in Toronto
SELECT is(pg_temp.grid(:'m', '2031-03-09 13:00Z'), NULL, 'DST day: 09:00 EDT (13:00Z), the opening instant, is on the grid');
SELECT is(pg_temp.grid(:'m', '2031-03-09 14:00Z'), NULL, 'DST day: 10:00 EDT is on the grid');
SELECT is(pg_temp.grid(:'m', '2031-03-09 14:15Z') ->> 'hint', 'off_grid', 'DST day: 10:15 EDT is off the grid');
SELECT is(pg_temp.grid(:'m', '2031-03-09 14:15Z') ->> 'sqlstate', 'AD422', 'off_grid is a 422');
SELECT is((pg_temp.grid(:'m', '2031-03-09 14:15Z') ->> 'detail')::jsonb -> 'nearest',
  jsonb_build_array('2031-03-09 14:00Z'::timestamptz, '2031-03-09 14:30Z'::timestamptz),
  'DST day: the nearest starts of 10:15 are 10:00 and 10:30 EDT');
SELECT is((pg_temp.grid(:'m', '2031-03-09 14:29:59Z') ->> 'detail')::jsonb -> 'nearest',
  jsonb_build_array('2031-03-09 14:00Z'::timestamptz, '2031-03-09 14:30Z'::timestamptz),
  'a second before 10:30 is off the grid, nearest 10:00 and 10:30');
SELECT is(pg_temp.grid(:'m', '2031-03-09 13:07Z') ->> 'hint', 'off_grid', '09:07 is off the grid');
SELECT is((pg_temp.grid(:'m', '2031-03-09 14:15Z') ->> 'detail')::jsonb ->> 'step_minutes', '30', 'detail says the step');
SELECT is((pg_temp.grid(:'m', '2031-03-09 14:15Z') ->> 'detail')::jsonb ->> 'field', 'scheduled_for', 'detail names the field');

------------------------------------------------------------------ the end of the day: nearest starts must fit
SELECT is(pg_temp.grid(:'m', '2031-03-09 21:30Z'), NULL, '17:30 EDT, the last 30-minute start, is on the grid');
SELECT is((pg_temp.grid(:'m', '2031-03-09 21:45Z') ->> 'detail')::jsonb -> 'nearest',
  jsonb_build_array('2031-03-09 21:30Z'::timestamptz), '17:45 (30 min): only 17:30 fits before the 18:00 close');
SELECT is((pg_temp.grid(:'m', '2031-03-09 21:15Z', '60 minutes') ->> 'detail')::jsonb -> 'nearest',
  jsonb_build_array('2031-03-09 21:00Z'::timestamptz), '17:15 (60 min): only 17:00 fits');
SELECT is(pg_temp.grid(:'m', '2031-03-10 00:07Z'), NULL, '20:07, outside the hours, is left to the availability check');
SELECT is(pg_temp.grid(:'m', '2031-03-09 22:00Z'), NULL, '18:00, the closing instant, is outside the hours too');

------------------------------------------------------------------ fall back: 2031-11-02 is 25 hours in Toronto
SELECT is(pg_temp.grid(:'m', '2031-11-02 14:00Z'), NULL, 'fall-back day: 09:00 EST (14:00Z) is on the grid');
SELECT is((pg_temp.grid(:'m', '2031-11-02 14:15Z') ->> 'detail')::jsonb -> 'nearest',
  jsonb_build_array('2031-11-02 14:00Z'::timestamptz, '2031-11-02 14:30Z'::timestamptz),
  'fall-back day: 09:15 EST is off the grid, nearest 09:00 and 09:30 EST');
SELECT is(pg_temp.grid(:'m', '2031-11-01 13:00Z'), NULL, 'the day before (EDT): 09:00 is 13:00Z and on the grid');

------------------------------------------------------------------ hours that open at :15
SELECT is(pg_temp.grid(:'ind', '2031-03-09 13:15Z'), NULL, 'blocks from 09:15: 09:15 is on that day''s grid');
SELECT is(pg_temp.grid(:'ind', '2031-03-09 13:45Z'), NULL, 'blocks from 09:15: 09:45 is on the grid');
SELECT is((pg_temp.grid(:'ind', '2031-03-09 13:30Z') ->> 'detail')::jsonb -> 'nearest',
  jsonb_build_array('2031-03-09 13:15Z'::timestamptz, '2031-03-09 13:45Z'::timestamptz),
  'blocks from 09:15: 09:30 is off the grid, nearest 09:15 and 09:45');

------------------------------------------------------------------ the booking functions refuse off-grid starts
-- three days ahead at 10:15 Toronto time: within notice and horizon whatever the real date is
SELECT ((current_date + 3)::timestamp + time '10:15') AT TIME ZONE 'America/Toronto' AS off,
       ((current_date + 3)::timestamp + time '10:00') AT TIME ZONE 'America/Toronto' AS on_grid \gset
SELECT tests.create_customer() AS c \gset
SELECT is(tests.error_of(format('SELECT tests.hold(%L, %L, %L)', :'c', :'m', :'off')) ->> 'hint', 'off_grid',
  'api.hold_slot: an off-grid start is 422 off_grid');
SELECT is((tests.error_of(format('SELECT tests.hold(%L, %L, %L)', :'c', :'m', :'off')) ->> 'detail')::jsonb ->> 'field',
  'starts_at', 'api.hold_slot names its own parameter');
SELECT is(tests.error_of(format('SELECT tests.book(%L, %L, %L)', :'c', :'m', :'off')) ->> 'hint', 'off_grid',
  'api.create_session: an off-grid start is 422 off_grid');
SELECT tests.book(:'c', :'m', :'on_grid') AS booked \gset
SELECT is(tests.error_of(format($$SELECT tests.with_claims(%L, 'customer'), api.reschedule_session(%L, %L)$$,
  :'c', :'booked', (:'on_grid'::timestamptz + interval '1 day 7 minutes'))) ->> 'hint', 'off_grid',
  'api.reschedule_session: an off-grid new start is 422 off_grid');

SELECT * FROM finish();
ROLLBACK;

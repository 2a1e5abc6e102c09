-- Onboarding and self-service: workshops with hours, mechanics, customers, availability blocks,
-- time off, shifts, vehicles and favorites.
BEGIN;
SELECT plan(48);
SET LOCAL timezone = 'UTC';

SELECT tests.create_admin() AS admin \gset
SELECT tests.create_customer() AS c \gset

------------------------------------------------------------------ workshops
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT api.create_workshop('Bay Street Garage', 'America/Toronto',
  '[{"day_of_week": 1, "open_time": "08:00", "close_time": "17:00"},
    {"day_of_week": 5, "open_time": "20:00", "close_time": "02:00"},
    {"day_of_week": 0, "is_open": false}]', p_city => 'Toronto', p_country => 'CA') AS w \gset
SELECT results_eq(format($$SELECT day_of_week::int, is_open, open_time, close_time FROM app.workshop_availability WHERE workshop_id = %L ORDER BY 1$$, :'w'),
  $$VALUES (0, false, NULL::time, NULL::time), (1, true, '08:00'::time, '17:00'::time), (5, true, '20:00'::time, '02:00'::time)$$,
  'create_workshop stores the weekly hours');
SELECT throws_ok($$SELECT api.create_workshop('X', 'Mars/Olympus')$$, 'AD422', 'Unknown time zone "Mars/Olympus"',
  'an unknown time zone: 422 invalid_timezone');
SELECT throws_ok($$SELECT api.create_workshop('X', '+05:30')$$, 'AD422', 'Unknown time zone "+05:30"',
  'offsets are not IANA zones: 422 invalid_timezone');
SELECT throws_ok($$SELECT api.create_workshop('  ', 'UTC')$$, 'AD422', 'name is required', 'a workshop needs a name');
SELECT throws_ok(format($$SELECT api.set_workshop_hours(%L, '[{"day_of_week": 9}]')$$, :'w'), 'AD422',
  'Each day needs day_of_week 0-6 (0 = Sunday)', 'hours with a bad day: 422 invalid_hours');
SELECT throws_ok(format($$SELECT api.set_workshop_hours(%L, '[{"day_of_week": 1, "open_time": "25:00", "close_time": "26:00"}]')$$, :'w'),
  'AD422', 'open_time must be a time like "09:00"', 'hours with a bad time: 422 invalid_value');
SELECT throws_ok(format($$SELECT api.set_workshop_hours(%L, '[{"day_of_week": 1, "open_time": "09:00", "close_time": "17:00"},
  {"day_of_week": 1, "open_time": "10:00", "close_time": "11:00"}]')$$, :'w'),
  'AD422', 'day_of_week 1 is listed twice', 'hours listing a day twice: 422 invalid_hours');
SELECT is(api.set_workshop_hours(:'w', '[]'), 0, 'an empty list clears the hours (default window applies)');
SELECT is(api.set_workshop_hours(:'w', '[{"day_of_week": 2, "open_time": "09:00", "close_time": "12:00"}]'), 1,
  'set_workshop_hours replaces the week');
SELECT throws_ok($$SELECT api.set_workshop_hours('00000000-0000-0000-0000-000000000000', '[]')$$, 'AD404', 'Workshop not found',
  'hours for an unknown workshop: 404');

------------------------------------------------------------------ mechanics and customers
SELECT api.create_mechanic('wm@example.test', 'Wendy Workshop', p_workshop_id => :'w', p_specialties => '{Honda,brakes}',
  p_brand_specialist_brands => '{Honda}', p_rating => 4.8) AS wm \gset
SELECT results_eq(format($$SELECT display_name, workshop_id, timezone, brand_specialist_brands FROM app.mechanics WHERE user_id = %L$$, :'wm'),
  format($$VALUES ('Wendy Workshop', %L::uuid, 'America/Toronto', '{Honda}'::text[])$$, :'w'),
  'a workshop mechanic takes the workshop''s zone');
SELECT is((SELECT role FROM app.users WHERE id = :'wm'), 'mechanic', 'the mechanic has a user row with role mechanic');
SELECT api.create_mechanic('im@example.test', 'Ian Independent', p_timezone => 'Asia/Kolkata',
  p_user_id => '00000000-0000-0000-0000-00000000abcd') AS im \gset
SELECT is(:'im'::uuid, '00000000-0000-0000-0000-00000000abcd'::uuid, 'a fixed user id can be given (demo data)');
SELECT throws_ok($$SELECT api.create_mechanic('x@example.test', 'No Zone')$$, 'AD422', 'timezone is required',
  'an independent mechanic needs a time zone');
SELECT throws_ok($$SELECT api.create_mechanic('WM@example.test', 'Copy', p_timezone => 'UTC')$$, 'AD409', 'That email address is already registered',
  'emails are unique (case-insensitive): 409 email_taken');
SELECT throws_ok($$SELECT api.create_mechanic('y@example.test', 'Y', '00000000-0000-0000-0000-000000000000')$$, 'AD404', 'Workshop not found',
  'an unknown workshop: 404');
SELECT api.create_customer('cc@example.test', 'Cathy Customer', 'CA', 'ON', 'Toronto', 'M5V 2T6') AS cc \gset
SELECT results_eq(format($$SELECT city, credit_balance_cents FROM app.customers WHERE user_id = %L$$, :'cc'),
  $$VALUES ('Toronto', 0)$$, 'create_customer creates the profile');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok($$SELECT api.create_workshop('X', 'UTC')$$, '42501', NULL, 'customers cannot create workshops');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'wm', 'mechanic');
SELECT throws_ok($$SELECT api.create_mechanic('z@example.test', 'Z', p_timezone => 'UTC')$$, '42501', NULL,
  'mechanics cannot create mechanics');

------------------------------------------------------------------ availability blocks
SELECT throws_ok($$SELECT api.set_availability_blocks(NULL, '[]')$$, 'AD409', 'Workshop mechanics follow the workshop''s hours',
  'workshop mechanics have no own blocks: 409 workshop_mechanic');
SELECT throws_ok(format($$SELECT api.set_availability_blocks(%L, '[]')$$, :'im'), 'AD403',
  'Only the mechanic (or an admin) can do this', 'a mechanic cannot edit another mechanic''s blocks');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'im', 'mechanic');
SELECT is(api.set_availability_blocks(NULL, '[{"day_of_week": 1, "start_time": "09:00", "end_time": "13:00"},
  {"day_of_week": 3, "start_time": "22:00", "end_time": "02:00"}]'), 2, 'a mechanic sets their own weekly blocks');
SELECT tests.set_now('2026-06-01');
SELECT is((SELECT count(*)::int FROM api.mechanic_slots(:'im', '2026-06-08', 'standard')), 8,
  'the blocks drive the slots (Monday 09:00-13:00 Kolkata: 8 slots)');
SELECT throws_ok($$SELECT api.set_availability_blocks(NULL, '[{"day_of_week": 1, "start_time": "nine"}]')$$, 'AD422',
  'start_time must be a time like "09:00"', 'a bad block time: 422 invalid_value');

------------------------------------------------------------------ time off
SELECT tests.set_now('2026-06-10 12:00Z');
SELECT api.add_time_off('2026-06-15 00:00Z', '2026-06-16 00:00Z', 'Vacation') AS t \gset
SELECT results_eq($$SELECT start_date, end_date, reason FROM api.my_time_off()$$,
  $$VALUES ('2026-06-15 00:00Z'::timestamptz, '2026-06-16 00:00Z'::timestamptz, 'Vacation')$$, 'a mechanic adds and lists their time off');
SELECT throws_ok($$SELECT api.add_time_off('2026-06-16 00:00Z', '2026-06-15 00:00Z')$$, 'AD422',
  'end_date must be after start_date', 'time off ending before it starts: 422 invalid_range');
SELECT throws_ok($$SELECT api.add_time_off('2026-06-01 00:00Z', '2026-06-02 00:00Z')$$, 'AD422',
  'Cannot schedule in the past', 'time off in the past: 422 past_time');
SELECT tests.clear_authentication();
SELECT tests.book(:'c', :'im', '2026-06-17 17:00Z', 'standard', '2026-06-10 12:00Z') AS booking \gset
SELECT tests.authenticate_as(:'im', 'mechanic');
SELECT is((tests.error_of($$SELECT api.add_time_off('2026-06-17 00:00Z', '2026-06-18 00:00Z')$$) ->> 'detail')::jsonb #>> '{sessions,0,session_id}',
  :'booking', 'time off over a booking: 409 time_off_conflicts listing the booking');
SELECT is(api.remove_time_off(:'t'), true, 'a mechanic removes their time off');
SELECT throws_ok(format('SELECT api.remove_time_off(%L)', :'t'), 'AD404', 'Time off not found', 'removing it twice: 404');

------------------------------------------------------------------ shift
SELECT is(api.set_shift(true) - 'mechanic_id',
  '{"currently_on_shift": true, "shift_changed_at": "2026-06-10T12:00:00+00:00", "changed": true}'::jsonb, 'a mechanic goes on shift');
SELECT tests.set_now('2026-06-10 12:05Z');
SELECT is(api.set_shift(true) ->> 'changed', 'false', 'going on shift twice changes nothing');
SELECT is((SELECT currently_on_shift FROM app.mechanics WHERE user_id = :'im'), true, 'currently_on_shift is the online flag');
SELECT throws_ok(format('SELECT api.set_shift(false, %L)', :'wm'), 'AD403', 'Only the mechanic (or an admin) can do this',
  'a mechanic cannot change another mechanic''s shift');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'admin', 'admin');
SELECT is(api.set_shift(false, :'im') ->> 'currently_on_shift', 'false', 'an admin can take a mechanic off shift');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c', 'customer');
SELECT throws_ok('SELECT api.set_shift(true)', '42501', NULL, 'customers cannot go on shift');

------------------------------------------------------------------ vehicles (RLS decides)
SELECT api.add_vehicle('Honda', 'Civic', 2019, '1hgcm82633a004352', 42000, 'ABC 123') AS v \gset
SELECT results_eq($$SELECT make, model, year, vin FROM api.my_vehicles()$$,
  $$VALUES ('Honda', 'Civic', 2019, '1HGCM82633A004352')$$, 'a customer adds and lists a vehicle (VIN upper-cased)');
SELECT is(api.update_vehicle(:'v', p_odometer => 43000) ->> 'odometer', '43000', 'a customer updates their vehicle');
SELECT throws_ok($$SELECT api.add_vehicle('Honda', 'Civic', 1800)$$, '23514', NULL, 'an impossible year violates a check');
SELECT throws_ok($$SELECT api.add_vehicle('', 'Civic')$$, 'AD422', 'make and model are required', 'a vehicle needs make and model');
SELECT throws_ok(format($$SELECT api.add_vehicle('Kia', 'Rio', p_customer_id => %L)$$, :'cc'), '42501', NULL,
  'a customer cannot add a vehicle to someone else (RLS)');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'cc', 'customer');
SELECT throws_ok(format('SELECT api.update_vehicle(%L, %L)', :'v', 'Kia'), 'AD404', 'Vehicle not found',
  'another customer''s vehicle is invisible: 404');
SELECT throws_ok(format('SELECT api.delete_vehicle(%L)', :'v'), 'AD404', 'Vehicle not found', 'and cannot be deleted');
SELECT tests.clear_authentication();
SELECT tests.authenticate_as(:'c', 'customer');
SELECT is(api.delete_vehicle(:'v'), true, 'a customer deletes their unused vehicle');

------------------------------------------------------------------ favorites
SELECT is(api.add_favorite(:'wm'), true, 'a customer adds a favorite');
SELECT is(api.add_favorite(:'wm'), false, 'adding it twice changes nothing');
SELECT throws_ok($$SELECT api.add_favorite('00000000-0000-0000-0000-000000000000')$$, 'AD404', 'Mechanic not found',
  'an unknown mechanic cannot be a favorite');
SELECT is(api.remove_favorite(:'wm'), true, 'a customer removes a favorite');
SELECT tests.clear_authentication();

SELECT * FROM finish();
ROLLBACK;

-- Demo data (`autodoc seed --demo`): workshops in three time zones, workshop and independent
-- mechanics, customers with vehicles and favorites, and a few bookings, all created through the
-- api functions (the same rules as the REST API). Run as the owner role or a superuser, after
-- migrate. Running it again is harmless: when the demo admin exists, nothing is done.
-- Bookings are placed relative to now() on the first free slots, so they are always upcoming.
--
-- Demo users (fixed ids, for `autodoc token <id> <role>`):
--   admin     00000000-0000-4000-a000-000000000001  admin@autodoctor.demo          Ada Admin
--   customer  00000000-0000-4000-a000-00000000c001  alice@autodoctor.demo          Alice Nguyen (Toronto; Honda Civic)
--   customer  00000000-0000-4000-a000-00000000c002  bruno@autodoctor.demo          Bruno Costa (London; BMW 320i)
--   customer  00000000-0000-4000-a000-00000000c003  chitra@autodoctor.demo         Chitra Iyer (Kolkata; Maruti Swift)
--   customer  00000000-0000-4000-a000-00000000c004  dev@autodoctor.demo            Dev Patel (Toronto; no vehicle)
--   customer  00000000-0000-4000-a000-00000000c005  emma@autodoctor.demo           Emma Wilson (Toronto; Mazda 3; nothing booked: book right away)
--   mechanic  00000000-0000-4000-a000-00000000d001  marie@autodoctor.demo          Marie Tremblay  Maple Auto Clinic, Toronto; Honda/Toyota specialist; on shift
--   mechanic  00000000-0000-4000-a000-00000000d002  sam@autodoctor.demo            Sam Okafor      Maple Auto Clinic, Toronto; offline
--   mechanic  00000000-0000-4000-a000-00000000d003  oliver@autodoctor.demo         Oliver Hughes   Thames Motor Works, London; BMW specialist; offline
--   mechanic  00000000-0000-4000-a000-00000000d004  priya@autodoctor.demo          Priya Sharma    Park Street Garage, Kolkata; Maruti/Hyundai; on shift
--   mechanic  00000000-0000-4000-a000-00000000d005  jake@autodoctor.demo           Jake Morrison   independent, America/Toronto, Mon-Fri 08:00-16:00; offline
--   mechanic  00000000-0000-4000-a000-00000000d006  lena@autodoctor.demo           Lena Fischer    independent, America/Vancouver, evenings 17:00-01:00; on shift
-- Every customer has a time zone (emails show them their own time: Dev in Toronto books Lena in
-- Vancouver). Ratings come with the number of reviews behind them.
-- Workshops: ...e001 Maple Auto Clinic (America/Toronto), ...e002 Thames Motor Works (Europe/London),
--            ...e003 Park Street Garage (Asia/Kolkata).
DO $seed$
DECLARE
  v_admin constant uuid := '00000000-0000-4000-a000-000000000001';
  v_alice constant uuid := '00000000-0000-4000-a000-00000000c001';
  v_bruno constant uuid := '00000000-0000-4000-a000-00000000c002';
  v_chitra constant uuid := '00000000-0000-4000-a000-00000000c003';
  v_dev constant uuid := '00000000-0000-4000-a000-00000000c004';
  v_emma constant uuid := '00000000-0000-4000-a000-00000000c005';
  v_marie constant uuid := '00000000-0000-4000-a000-00000000d001';
  v_sam constant uuid := '00000000-0000-4000-a000-00000000d002';
  v_oliver constant uuid := '00000000-0000-4000-a000-00000000d003';
  v_priya constant uuid := '00000000-0000-4000-a000-00000000d004';
  v_jake constant uuid := '00000000-0000-4000-a000-00000000d005';
  v_lena constant uuid := '00000000-0000-4000-a000-00000000d006';
  v_toronto constant uuid := '00000000-0000-4000-a000-00000000e001';
  v_london constant uuid := '00000000-0000-4000-a000-00000000e002';
  v_kolkata constant uuid := '00000000-0000-4000-a000-00000000e003';
  v_alice_car uuid;
  v_bruno_car uuid;
  v_chitra_car uuid;
  v_past_now timestamptz := now() - interval '5 days';
  v_at timestamptz;
  v_session jsonb;
  v_injection boolean;
BEGIN
  IF EXISTS (SELECT FROM app.users WHERE id = v_admin) THEN
    RAISE NOTICE 'demo data already present; nothing to do';
    RETURN;
  END IF;

  INSERT INTO app.users (id, email, full_name, role) VALUES (v_admin, 'admin@autodoctor.demo', 'Ada Admin', 'admin');
  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', v_admin, 'role', 'admin')::text, true);

  ---------------------------------------------------------------- workshops (local hours, 0 = Sunday)
  PERFORM api.create_workshop('Maple Auto Clinic', 'America/Toronto',
    '[{"day_of_week": 0, "is_open": false},
      {"day_of_week": 1, "open_time": "08:00", "close_time": "18:00"},
      {"day_of_week": 2, "open_time": "08:00", "close_time": "18:00"},
      {"day_of_week": 3, "open_time": "08:00", "close_time": "18:00"},
      {"day_of_week": 4, "open_time": "08:00", "close_time": "20:00"},
      {"day_of_week": 5, "open_time": "08:00", "close_time": "18:00"},
      {"day_of_week": 6, "open_time": "09:00", "close_time": "14:00"}]',
    '120 King St W', NULL, 'Toronto', 'ON', 'M5H 1J9', 'CA', '+1 416 555 0100', v_toronto);
  PERFORM api.create_workshop('Thames Motor Works', 'Europe/London',
    '[{"day_of_week": 1, "open_time": "09:00", "close_time": "17:30"},
      {"day_of_week": 2, "open_time": "09:00", "close_time": "17:30"},
      {"day_of_week": 3, "open_time": "09:00", "close_time": "17:30"},
      {"day_of_week": 4, "open_time": "09:00", "close_time": "17:30"},
      {"day_of_week": 5, "open_time": "09:00", "close_time": "17:30"},
      {"day_of_week": 6, "open_time": "09:00", "close_time": "13:00"}]',
    '22 Battersea Park Rd', NULL, 'London', 'England', 'SW8 4BG', 'GB', '+44 20 5550 0100', v_london);
  PERFORM api.create_workshop('Park Street Garage', 'Asia/Kolkata',
    '[{"day_of_week": 1, "open_time": "10:00", "close_time": "19:00"},
      {"day_of_week": 2, "open_time": "10:00", "close_time": "19:00"},
      {"day_of_week": 3, "open_time": "10:00", "close_time": "19:00"},
      {"day_of_week": 4, "open_time": "10:00", "close_time": "19:00"},
      {"day_of_week": 5, "open_time": "10:00", "close_time": "19:00"},
      {"day_of_week": 6, "open_time": "10:00", "close_time": "19:00"}]',
    '35 Park Street', NULL, 'Kolkata', 'West Bengal', '700016', 'IN', '+91 33 5550 0100', v_kolkata);

  ---------------------------------------------------------------- mechanics
  PERFORM api.create_mechanic('marie@autodoctor.demo', 'Marie Tremblay', v_toronto, NULL, '{Honda,Toyota,diagnostics,brakes}',
    '{Honda,Toyota}', 14, '{"Red Seal Automotive Service Technician"}', 4.9,
    'Hybrid and import specialist.', 'CA', 'ON', 'Toronto', 'M5H 1J9', v_marie);
  PERFORM api.create_mechanic('sam@autodoctor.demo', 'Sam Okafor', v_toronto, NULL, '{suspension,brakes,maintenance}',
    '{}', 6, '{}', 4.4, 'Friendly all-rounder.', 'CA', 'ON', 'Toronto', 'M5H 1J9', v_sam);
  PERFORM api.create_mechanic('oliver@autodoctor.demo', 'Oliver Hughes', v_london, NULL, '{BMW,Mercedes,electrical}',
    '{BMW}', 11, '{"IMI Level 3"}', 4.7, 'German cars, electrics and diagnostics.', 'GB', 'England', 'London', 'SW8 4BG', v_oliver);
  PERFORM api.create_mechanic('priya@autodoctor.demo', 'Priya Sharma', v_kolkata, NULL, '{Maruti,Hyundai,air conditioning}',
    '{Maruti,Hyundai}', 9, '{}', 4.8, 'Small cars and A/C.', 'IN', 'West Bengal', 'Kolkata', '700016', v_priya);
  PERFORM api.create_mechanic('jake@autodoctor.demo', 'Jake Morrison', NULL, 'America/Toronto', '{Ford,trucks,maintenance}',
    '{Ford}', 20, '{"ASE Master"}', 4.6, 'Trucks and fleet vehicles, online only.', 'CA', 'ON', 'Toronto', 'M4C 1B5', v_jake);
  PERFORM api.create_mechanic('lena@autodoctor.demo', 'Lena Fischer', NULL, 'America/Vancouver', '{Volkswagen,Audi,EV}',
    '{Volkswagen}', 8, '{}', 4.5, 'Evening video consultations, EVs welcome.', 'CA', 'BC', 'Vancouver', 'V6B 1A1', v_lena);
  -- A rating is an average of reviews: never a 4.9 from nobody.
  UPDATE app.mechanics m SET rating_count = r.n
    FROM (VALUES (v_marie, 212), (v_sam, 58), (v_oliver, 131), (v_priya, 97), (v_jake, 184), (v_lena, 41)) r (id, n)
   WHERE m.user_id = r.id;
  PERFORM api.set_availability_blocks(v_jake,
    '[{"day_of_week": 1, "start_time": "08:00", "end_time": "16:00"},
      {"day_of_week": 2, "start_time": "08:00", "end_time": "16:00"},
      {"day_of_week": 3, "start_time": "08:00", "end_time": "16:00"},
      {"day_of_week": 4, "start_time": "08:00", "end_time": "16:00"},
      {"day_of_week": 5, "start_time": "08:00", "end_time": "12:00"}]');
  PERFORM api.set_availability_blocks(v_lena,   -- overnight blocks: 17:00 until 01:00 the next day
    (SELECT jsonb_agg(jsonb_build_object('day_of_week', d, 'start_time', '17:00', 'end_time', '01:00')) FROM generate_series(0, 6) d));
  PERFORM api.add_time_off(now() + interval '7 days', now() + interval '9 days', 'Training course', v_sam);
  PERFORM api.set_shift(true, v_marie);
  PERFORM api.set_shift(true, v_priya);
  PERFORM api.set_shift(true, v_lena);

  ---------------------------------------------------------------- customers, vehicles, favorites
  PERFORM api.create_customer('alice@autodoctor.demo', 'Alice Nguyen', 'CA', 'ON', 'Toronto', 'M5V 2T6', '+1 416 555 0142', v_alice,
                              p_timezone => 'America/Toronto');
  PERFORM api.create_customer('bruno@autodoctor.demo', 'Bruno Costa', 'GB', 'England', 'London', 'SW11 3BX', NULL, v_bruno,
                              p_timezone => 'Europe/London');
  PERFORM api.create_customer('chitra@autodoctor.demo', 'Chitra Iyer', 'IN', 'West Bengal', 'Kolkata', '700019', NULL, v_chitra,
                              p_timezone => 'Asia/Kolkata');
  PERFORM api.create_customer('dev@autodoctor.demo', 'Dev Patel', 'CA', 'ON', 'Toronto', 'M4C 1B5', NULL, v_dev,
                              p_timezone => 'America/Toronto');
  PERFORM api.create_customer('emma@autodoctor.demo', 'Emma Wilson', 'CA', 'ON', 'Toronto', 'M6J 1H4', NULL, v_emma,
                              p_timezone => 'America/Toronto');
  v_alice_car := api.add_vehicle('Honda', 'Civic', 2019, '2HGFC2F59KH512345', 48200, 'CDKR 512', v_alice);
  PERFORM api.add_vehicle('Toyota', 'RAV4', 2022, NULL, 15100, 'CFAB 901', v_alice);
  v_bruno_car := api.add_vehicle('BMW', '320i', 2017, 'WBA8E1C50HK895432', 71000, 'LB17 XKE', v_bruno);
  v_chitra_car := api.add_vehicle('Maruti Suzuki', 'Swift', 2021, NULL, 23000, 'WB 02 AK 4412', v_chitra);
  PERFORM api.add_vehicle('Mazda', '3', 2020, NULL, 36400, 'CKLM 330', v_emma);  -- Emma books nothing here

  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', v_alice, 'role', 'customer')::text, true);
  PERFORM api.add_favorite(v_marie);
  PERFORM api.add_favorite(v_jake);
  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', v_bruno, 'role', 'customer')::text, true);
  PERFORM api.add_favorite(v_oliver);
  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', v_chitra, 'role', 'customer')::text, true);
  PERFORM api.add_favorite(v_priya);

  ---------------------------------------------------------------- bookings (through the session factory)
  -- Alice: a finished consultation with Jake (booked 5 days ago for 3 days ago) ...
  -- History is booked with the trusted clock set 5 days back. Only the owner may allow that
  -- (app.clock_settings); the seed allows it for this transaction alone and puts the switch back
  -- before it ends, so no other transaction ever sees it on.
  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', v_alice, 'role', 'customer')::text, true);
  SELECT c.injection_allowed INTO v_injection FROM app.clock_settings c;
  UPDATE app.clock_settings SET injection_allowed = true;
  PERFORM set_config('autodoc.now', v_past_now::text, true);
  SELECT s.starts_at INTO v_at
  FROM generate_series(1, 3) d, api.mechanic_slots(v_jake, (v_past_now AT TIME ZONE 'America/Toronto')::date + d, 'standard') s
  WHERE s.available AND s.local_start::time >= '10:00' ORDER BY s.starts_at LIMIT 1;
  IF v_at IS NOT NULL THEN
    v_session := api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Grinding noise when braking',
      p_concern_category => 'diagnostic', p_vehicle_id => v_alice_car, p_scheduled_for => v_at, p_mechanic_id => v_jake);
  END IF;
  PERFORM set_config('autodoc.now', '', true);
  UPDATE app.clock_settings SET injection_allowed = v_injection;
  IF v_at IS NOT NULL THEN
    PERFORM app_private.transition_session((v_session ->> 'id')::uuid, 'pending', NULL, '{"source": "demo seed"}');
    PERFORM app_private.transition_session((v_session ->> 'id')::uuid, 'active', NULL, '{"source": "demo seed"}');
    PERFORM app_private.transition_session((v_session ->> 'id')::uuid, 'completed', NULL, '{"source": "demo seed"}');
    -- History: its emails went out when it was booked, five days ago; don't mail them again today.
    UPDATE app.outbox SET status = 'done', done_at = now(), result = '{"skipped": "demo history"}'
     WHERE session_id = (v_session ->> 'id')::uuid AND kind = 'email.send' AND status = 'pending';
  END IF;
  -- ... and an upcoming in-person appointment with Marie at the workshop
  SELECT s.starts_at INTO v_at
  FROM generate_series(2, 9) d, api.mechanic_slots(v_marie, (now() AT TIME ZONE 'America/Toronto')::date + d, 'extended') s
  WHERE s.available AND s.local_start::time >= '10:00' ORDER BY s.starts_at LIMIT 1;
  PERFORM api.create_session(p_type => 'diagnostic', p_plan_code => 'extended', p_concern => 'Check engine light, rough idle',
    p_concern_category => 'diagnostic', p_vehicle_id => v_alice_car, p_service_mode => 'in_person', p_scheduled_for => v_at,
    p_mechanic_id => v_marie, p_preparation_notes => 'Bring the service booklet');

  -- Bruno: online with Oliver in London
  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', v_bruno, 'role', 'customer')::text, true);
  SELECT s.starts_at INTO v_at
  FROM generate_series(2, 9) d, api.mechanic_slots(v_oliver, (now() AT TIME ZONE 'Europe/London')::date + d, 'premium') s
  WHERE s.available AND s.local_start::time >= '11:00' ORDER BY s.starts_at LIMIT 1;
  PERFORM api.create_session(p_type => 'video', p_plan_code => 'premium', p_concern => 'Battery drains overnight',
    p_concern_category => 'repair', p_vehicle_id => v_bruno_car, p_scheduled_for => v_at, p_mechanic_id => v_oliver,
    p_special_requests => 'Evening call preferred if possible');

  -- Chitra: scheduled without choosing a mechanic (matching is deferred to 30 minutes before)
  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', v_chitra, 'role', 'customer')::text, true);
  PERFORM api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'AC blows warm air after 10 minutes',
    p_concern_category => 'repair', p_vehicle_id => v_chitra_car,
    p_scheduled_for => date_trunc('hour', now()) + interval '3 days');

  -- Dev: advice only (no vehicle) with Lena in the evening, Vancouver time
  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', v_dev, 'role', 'customer')::text, true);
  SELECT s.starts_at INTO v_at
  FROM generate_series(1, 8) d, api.mechanic_slots(v_lena, (now() AT TIME ZONE 'America/Vancouver')::date + d, 'standard') s
  WHERE s.available ORDER BY s.starts_at LIMIT 1;
  PERFORM api.create_session(p_type => 'chat', p_plan_code => 'standard', p_concern => 'Is an EV worth it for my commute?',
    p_concern_category => 'consultation', p_is_advice_only => true, p_scheduled_for => v_at, p_mechanic_id => v_lena);

  PERFORM set_config('request.jwt.claims', '', true);
  RAISE NOTICE 'demo data created';
END
$seed$;

-- Booking factories (tests schema). Call them as the test superuser, before tests.authenticate_as().
-- Entities are inserted directly (fast, no caller checks); sessions go through the real factory
-- (api.create_session / api.hold_slot) with the customer's claims set for the call only.

-- with_claims(user, role): set request.jwt.claims for the rest of the transaction without
-- changing the database role (the caller stays superuser); returns the previous claims text.
CREATE OR REPLACE FUNCTION tests.with_claims(p_user_id uuid, p_role text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_old text := coalesce(current_setting('request.jwt.claims', true), '');
BEGIN
  PERFORM set_config('request.jwt.claims', jsonb_build_object('sub', p_user_id, 'role', p_role)::text, true);
  RETURN v_old;
END
$$;

-- restore_claims(old): put back what with_claims returned.
CREATE OR REPLACE FUNCTION tests.restore_claims(p_old text) RETURNS void
LANGUAGE sql AS $$
  SELECT set_config('request.jwt.claims', coalesce(p_old, ''), true);
$$;

-- create_admin(): an admin user.
CREATE OR REPLACE FUNCTION tests.create_admin(p_email text DEFAULT NULL) RETURNS uuid
LANGUAGE sql AS $$
  SELECT tests.create_user('admin', p_email, 'Test Admin')
$$;

-- create_customer(email?, location...): a customer user and profile.
CREATE OR REPLACE FUNCTION tests.create_customer(p_email text DEFAULT NULL, p_full_name text DEFAULT 'Test Customer',
  p_country text DEFAULT 'CA', p_state_province text DEFAULT 'ON', p_city text DEFAULT 'Toronto',
  p_postal_code text DEFAULT 'M5V 2T6', p_credit_balance_cents int DEFAULT 0) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid := tests.create_user('customer', p_email, p_full_name);
BEGIN
  INSERT INTO app.customers (user_id, country, state_province, city, postal_code, credit_balance_cents)
  VALUES (v_id, p_country, p_state_province, p_city, p_postal_code, p_credit_balance_cents);
  RETURN v_id;
END
$$;

-- create_vehicle(customer, make?, model?): a vehicle of that customer.
CREATE OR REPLACE FUNCTION tests.create_vehicle(p_customer_id uuid, p_make text DEFAULT 'Honda',
  p_model text DEFAULT 'Civic', p_year int DEFAULT 2019) RETURNS uuid
LANGUAGE sql AS $$
  INSERT INTO app.vehicles (customer_id, make, model, year) VALUES (p_customer_id, p_make, p_model, p_year) RETURNING id
$$;

-- create_workshop(zone?, open?, close?, open days?): a workshop open p_open-p_close local time on
-- p_days (0 = Sunday; default every day); p_days => '{}' creates one with no hours rows at all.
CREATE OR REPLACE FUNCTION tests.create_workshop(p_timezone text DEFAULT 'America/Toronto',
  p_open time DEFAULT '09:00', p_close time DEFAULT '18:00', p_days int[] DEFAULT '{0,1,2,3,4,5,6}',
  p_name text DEFAULT 'Test Workshop', p_city text DEFAULT 'Toronto') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
BEGIN
  INSERT INTO app.workshops (name, timezone, city, address_line1) VALUES (p_name, p_timezone, p_city, '1 Test St')
  RETURNING id INTO v_id;
  IF cardinality(p_days) > 0 THEN
    INSERT INTO app.workshop_availability (workshop_id, day_of_week, is_open, open_time, close_time)
    SELECT v_id, d, d = ANY (p_days), CASE WHEN d = ANY (p_days) THEN p_open END,
           CASE WHEN d = ANY (p_days) THEN p_close END
    FROM generate_series(0, 6) d;
  END IF;
  RETURN v_id;
END
$$;

-- create_mechanic_row(...): the user + mechanics row (shared by the two mechanic factories).
CREATE OR REPLACE FUNCTION tests.create_mechanic_row(p_workshop_id uuid, p_timezone text, p_on_shift boolean,
  p_name text, p_brands text[], p_specialties text[], p_rating numeric, p_city text, p_postal_code text)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid := tests.create_user('mechanic', NULL, p_name);
BEGIN
  INSERT INTO app.mechanics (user_id, display_name, workshop_id, timezone, currently_on_shift, brand_specialist_brands,
                             specialties, rating, country, state_province, city, postal_code)
  VALUES (v_id, p_name, p_workshop_id, p_timezone, p_on_shift, p_brands, p_specialties, p_rating, 'CA', 'ON',
          p_city, p_postal_code);
  RETURN v_id;
END
$$;

-- create_workshop_mechanic(workshop?, zone?, ...): a mechanic of a workshop (a new 09:00-18:00
-- every-day workshop in p_timezone when none is given).
CREATE OR REPLACE FUNCTION tests.create_workshop_mechanic(p_workshop_id uuid DEFAULT NULL,
  p_timezone text DEFAULT 'America/Toronto', p_on_shift boolean DEFAULT false, p_name text DEFAULT 'Workshop Mechanic',
  p_brands text[] DEFAULT '{}', p_specialties text[] DEFAULT '{}', p_rating numeric DEFAULT 4.5,
  p_city text DEFAULT 'Toronto', p_postal_code text DEFAULT 'M5V 1A1') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_workshop uuid := coalesce(p_workshop_id, tests.create_workshop(p_timezone));
BEGIN
  RETURN tests.create_mechanic_row(v_workshop, (SELECT w.timezone FROM app.workshops w WHERE w.id = v_workshop),
                                   p_on_shift, p_name, p_brands, p_specialties, p_rating, p_city, p_postal_code);
END
$$;

-- create_independent_mechanic(zone?, blocks?, ...): an independent mechanic; p_blocks as for
-- api.set_availability_blocks (NULL: no blocks = default window every day).
CREATE OR REPLACE FUNCTION tests.create_independent_mechanic(p_timezone text DEFAULT 'America/Toronto',
  p_blocks jsonb DEFAULT NULL, p_on_shift boolean DEFAULT false, p_name text DEFAULT 'Independent Mechanic',
  p_brands text[] DEFAULT '{}', p_specialties text[] DEFAULT '{}', p_rating numeric DEFAULT 4.0,
  p_city text DEFAULT 'Toronto', p_postal_code text DEFAULT 'M4C 1B5') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid := tests.create_mechanic_row(NULL, p_timezone, p_on_shift, p_name, p_brands, p_specialties, p_rating,
                                         p_city, p_postal_code);
BEGIN
  INSERT INTO app.mechanic_availability_blocks (mechanic_id, day_of_week, start_time, end_time)
  SELECT v_id, (b ->> 'day_of_week')::int, (b ->> 'start_time')::time, (b ->> 'end_time')::time
  FROM jsonb_array_elements(coalesce(p_blocks, '[]')) b;
  RETURN v_id;
END
$$;

-- add_time_off(mechanic, from, to): time off inserted directly.
CREATE OR REPLACE FUNCTION tests.add_time_off(p_mechanic_id uuid, p_from timestamptz, p_to timestamptz) RETURNS uuid
LANGUAGE sql AS $$
  INSERT INTO app.mechanic_time_off (mechanic_id, start_date, end_date) VALUES (p_mechanic_id, p_from, p_to) RETURNING id
$$;

-- at(now, sql): run `sql` (returning one jsonb) with the trusted clock at `now` (NULL: leave the clock
-- as it is), then put the clock back: a factory can book "as of" a time without moving the test's
-- own clock.
CREATE OR REPLACE FUNCTION tests.at(p_now timestamptz, p_sql text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_old text := coalesce(current_setting('autodoc.now', true), '');
  v_result jsonb;
BEGIN
  IF p_now IS NOT NULL THEN
    PERFORM set_config('autodoc.now', p_now::text, true);
  END IF;
  EXECUTE p_sql INTO v_result;
  PERFORM set_config('autodoc.now', v_old, true);
  RETURN v_result;
END
$$;

-- fan_out(session?): play the worker for booking events: complete the pending `session.booked`
-- outbox rows (of one session; NULL: all) through api.outbox_complete, which applies their fan-out
-- (the charge, the confirmation emails, the reminders: db/functions/50_booking_fan_out.sql).
-- Returns how many ran.
CREATE OR REPLACE FUNCTION tests.fan_out(p_session_id uuid DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_id bigint;
  v_n integer := 0;
BEGIN
  FOR v_id IN SELECT o.id FROM app.outbox o
               WHERE o.kind = 'session.booked' AND o.status = 'pending'
                 AND (p_session_id IS NULL OR o.session_id = p_session_id)
               ORDER BY o.id LOOP
    PERFORM api.outbox_complete(v_id, 'tests', '{"fanned_out": true}'::jsonb);
    v_n := v_n + 1;
  END LOOP;
  RETURN v_n;
END
$$;

-- book(customer, mechanic, starts_at, plan?, now?, vehicle?): a scheduled session through
-- api.create_session as that customer (advice-only when no vehicle is given), with the clock at
-- p_now for the call (NULL: the test's clock), and its booking event fanned out as the worker would
-- (tests.fan_out). Returns its id.
CREATE OR REPLACE FUNCTION tests.book(p_customer_id uuid, p_mechanic_id uuid, p_starts_at timestamptz,
  p_plan_code text DEFAULT 'standard', p_now timestamptz DEFAULT NULL, p_vehicle_id uuid DEFAULT NULL,
  p_service_mode text DEFAULT 'online') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_old text := tests.with_claims(p_customer_id, 'customer');
  v_session jsonb;
BEGIN
  v_session := tests.at(p_now, format($q$SELECT api.create_session(p_type => 'video', p_plan_code => %L,
    p_concern => 'Test concern', p_vehicle_id => %L, p_is_advice_only => %L, p_scheduled_for => %L,
    p_mechanic_id => %L, p_service_mode => %L)$q$, p_plan_code, p_vehicle_id, p_vehicle_id IS NULL, p_starts_at,
    p_mechanic_id, p_service_mode));
  PERFORM tests.restore_claims(v_old);
  PERFORM tests.at(p_now, format('SELECT to_jsonb(tests.fan_out(%L))', v_session ->> 'id'));
  RETURN (v_session ->> 'id')::uuid;
END
$$;

-- hold(customer, mechanic, starts_at, now?, plan?): a slot hold through api.hold_slot, with the clock at
-- p_now for the call (NULL: the test's clock); returns the hold id.
CREATE OR REPLACE FUNCTION tests.hold(p_customer_id uuid, p_mechanic_id uuid, p_starts_at timestamptz,
  p_now timestamptz DEFAULT NULL, p_plan_code text DEFAULT 'standard') RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
  v_old text := tests.with_claims(p_customer_id, 'customer');
  v_hold jsonb;
BEGIN
  v_hold := tests.at(p_now, format('SELECT api.hold_slot(%L, %L, %L)', p_mechanic_id, p_starts_at, p_plan_code));
  PERFORM tests.restore_claims(v_old);
  RETURN (v_hold ->> 'hold_id')::uuid;
END
$$;

-- error_of(sql): run a statement and return {sqlstate, message, hint, detail} of the error it
-- raises (NULL when it succeeds), to assert on the HINT (stable code) and DETAIL JSON.
CREATE OR REPLACE FUNCTION tests.error_of(p_sql text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_state text; v_msg text; v_hint text; v_detail text; v_constraint text;
BEGIN
  EXECUTE p_sql;
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT, v_hint = PG_EXCEPTION_HINT,
                          v_detail = PG_EXCEPTION_DETAIL, v_constraint = CONSTRAINT_NAME;
  RETURN jsonb_build_object('sqlstate', v_state, 'message', v_msg, 'hint', v_hint, 'detail', v_detail,
                            'constraint', nullif(v_constraint, ''));
END
$$;

-- rows_affected(sql): run an INSERT/UPDATE/DELETE and return how many rows it touched (RLS filters
-- UPDATE/DELETE silently: 0 rows).
CREATE OR REPLACE FUNCTION tests.rows_affected(p_sql text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  v_count int;
BEGIN
  EXECUTE p_sql;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

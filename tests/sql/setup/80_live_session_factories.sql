-- Factories for the live-session tests (band 80), prefixed `lv_`. Rows are inserted directly as the
-- superuser; signing, joining and the rest go through the real api functions.

-- lv_png(): a real 1x1 PNG as a data:image/png;base64 URL.
CREATE OR REPLACE FUNCTION tests.lv_png() RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=='
$$;

-- lv_png_of_size(bytes): a data URL whose decoded image starts like a PNG (signature + IHDR) and is
-- exactly p_bytes long (zero padding), to test the size limit.
CREATE OR REPLACE FUNCTION tests.lv_png_of_size(p_bytes int) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'data:image/png;base64,' || replace(encode(
    '\x89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489'::bytea
    || decode(repeat('00', p_bytes - 33), 'hex'), 'base64'), E'\n', '')
$$;

-- lv_immediate(customer, mechanic?, plan?): an immediate session created at now (the trusted
-- clock) as pending; with a mechanic (put on shift: an immediate session needs one), accepted by
-- them (status waiting), as matching leaves it.
CREATE OR REPLACE FUNCTION tests.lv_immediate(p_customer uuid, p_mechanic uuid DEFAULT NULL, p_plan text DEFAULT 'standard')
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
BEGIN
  INSERT INTO app.sessions (customer_id, plan_code, type, service_mode, is_advice_only, concern, concern_category,
                            scheduled_for, ends_at, status, created_at)
  SELECT p_customer, p_plan, 'video', 'online', true, 'Engine light is on', 'diagnostic', NULL,
         app_private.now() + make_interval(mins => pl.duration_minutes), 'pending', app_private.now()
    FROM app.plans pl WHERE pl.code = p_plan
  RETURNING id INTO v_id;
  IF p_mechanic IS NOT NULL THEN
    UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = p_mechanic AND NOT currently_on_shift;
    INSERT INTO app.session_assignments (session_id, mechanic_id, status, offered_at, responded_at)
    VALUES (v_id, p_mechanic, 'accepted', app_private.now(), app_private.now());
    UPDATE app.sessions SET mechanic_id = p_mechanic, status = 'waiting' WHERE id = v_id;
  END IF;
  RETURN v_id;
END
$$;

-- lv_open_all_day(mechanic): the mechanic (or their workshop) is open around the clock every day,
-- so a test can book any local time (the booking trigger refuses sessions outside opening hours).
CREATE OR REPLACE FUNCTION tests.lv_open_all_day(p_mechanic uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_workshop uuid := (SELECT workshop_id FROM app.mechanics WHERE user_id = p_mechanic);
BEGIN
  IF v_workshop IS NOT NULL THEN
    INSERT INTO app.workshop_availability (workshop_id, day_of_week, is_open, open_time, close_time)
    SELECT v_workshop, d, true, '00:00', '00:00' FROM generate_series(0, 6) d
    ON CONFLICT (workshop_id, day_of_week) DO UPDATE SET is_open = true, open_time = '00:00', close_time = '00:00';
  ELSE
    DELETE FROM app.mechanic_availability_blocks WHERE mechanic_id = p_mechanic;
    INSERT INTO app.mechanic_availability_blocks (mechanic_id, day_of_week, start_time, end_time)
    SELECT p_mechanic, d, '00:00', '00:00' FROM generate_series(0, 6) d;
  END IF;
END
$$;

-- lv_sign(session, user, role, mode?): sign the session's waiver as that caller with a valid PNG;
-- returns the api.sign_waiver result. Leaves the caller's role as it found it (superuser).
CREATE OR REPLACE FUNCTION tests.lv_sign(p_session uuid, p_user uuid, p_role text DEFAULT 'customer')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_old text := tests.with_claims(p_user, p_role);
  v jsonb;
BEGIN
  v := api.sign_waiver(p_session, tests.lv_png(), true, NULL, '203.0.113.7', 'pgTAP/1.0');
  PERFORM tests.restore_claims(v_old);
  RETURN v;
END
$$;

-- lv_as(user, role, sql): run one statement as that caller (claims only, superuser role) and
-- return its jsonb result.
CREATE OR REPLACE FUNCTION tests.lv_as(p_user uuid, p_role text, p_sql text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_old text := tests.with_claims(p_user, p_role);
  v jsonb;
BEGIN
  EXECUTE p_sql INTO v;
  PERFORM tests.restore_claims(v_old);
  RETURN v;
END
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

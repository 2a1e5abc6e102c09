-- Booking: the session factory, slot holds, reschedule, status transitions, appointment reads.
--
-- Conflicts: holds are rows of app.sessions with status 'held', so the exclusion constraints
-- sessions_no_mechanic_overlap / sessions_no_customer_overlap are the one guarantee for holds and
-- bookings alike. Opening hours and time off are checked by the trigger sessions_occupy_mechanic_time
-- (db/triggers/10_mechanic_time.sql) under the mechanic's lock (app_private.lock_mechanic_time),
-- which every function here takes before its checks (order: customer row, then mechanic locks, then
-- session rows). The checks below only produce the friendly 409 slot_unavailable first; under
-- concurrency the constraint fires (SQLSTATE 23P01, constraint name) and the API maps it to the
-- same 409. Expired holds stay in the constraint until released (a constraint cannot depend on
-- "now"), so every function that claims time first releases the expired holds in its way, in the
-- same transaction; api.release_expired_holds() (pg_cron, every minute) sweeps the rest.
-- "Now" is app_private.now(), the trusted clock, read once per call (v_now).

-- session_json(session): the public shape of a session / hold. Owner only.
CREATE OR REPLACE FUNCTION app_private.session_json(p_session app.sessions) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (to_jsonb(p_session) - 'period')
         || jsonb_build_object('starts_at', lower(p_session.period), 'is_immediate', p_session.scheduled_for IS NULL);
END
$$;

-- caller_customer(customer?): the customer a booking function acts for. Customers act for
-- themselves (passing another id raises 403 forbidden); admins must name the customer; other roles
-- raise 403 forbidden. Raises 404 customer_not_found when there is no customer profile.
CREATE OR REPLACE FUNCTION app_private.caller_customer(p_customer_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_customer uuid := app_private.acting_as('customer', p_customer_id);
BEGIN
  IF NOT EXISTS (SELECT FROM app.customers c WHERE c.user_id = v_customer) THEN
    PERFORM app_private.raise_error(404, 'customer_not_found', 'Customer not found',
      jsonb_build_object('customer_id', v_customer));
  END IF;
  RETURN v_customer;
END
$$;

-- require_schedule_time(at): raises 422 past_time ("Cannot schedule in the past"),
-- 422 too_short_notice or 422 beyond_horizon (as of now).
CREATE OR REPLACE FUNCTION app_private.require_schedule_time(p_at timestamptz) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_settings app.booking_settings := app_private.booking_settings();
  v_now constant timestamptz := app_private.now();
BEGIN
  IF p_at < v_now THEN
    PERFORM app_private.raise_error(422, 'past_time', 'Cannot schedule in the past',
      jsonb_build_object('field', 'scheduled_for', 'scheduled_for', p_at, 'now', v_now));
  ELSIF p_at < v_now + v_settings.min_notice THEN
    PERFORM app_private.raise_error(422, 'too_short_notice',
      format('Appointments must be booked at least %s ahead', v_settings.min_notice),
      jsonb_build_object('field', 'scheduled_for', 'earliest', v_now + v_settings.min_notice));
  ELSIF p_at > v_now + v_settings.booking_horizon THEN
    PERFORM app_private.raise_error(422, 'beyond_horizon',
      format('Appointments can be booked at most %s ahead', v_settings.booking_horizon),
      jsonb_build_object('field', 'scheduled_for', 'latest', v_now + v_settings.booking_horizon));
  END IF;
END
$$;

-- release_expired_holds_in_way(mechanic, customer, range): cancel (reason 'expired') the holds
-- that lapsed by now and overlap `range` for this mechanic or customer, so they stop counting in
-- the exclusion constraints. Owner only.
-- The UPDATE runs only when some hold has lapsed at all: the probe reads the small partial index
-- sessions_held_expiry_idx (live holds only), where the UPDATE on every booking cost a plan of its
-- own (~10 us; 3 us for the probe). The cron sweep keeps lapsed holds rare, and a lapsed hold the
-- probe does not see (uncommitted) is not visible to the UPDATE either.
CREATE OR REPLACE FUNCTION app_private.release_expired_holds_in_way(p_mechanic_id uuid, p_customer_id uuid,
                                                                    p_range tstzrange)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
BEGIN
  IF NOT EXISTS (SELECT FROM app.sessions s WHERE s.status = 'held' AND s.hold_expires_at <= v_now) THEN
    RETURN;
  END IF;
  UPDATE app.sessions s SET status = 'cancelled', cancel_reason = 'expired'
  WHERE s.status = 'held' AND s.hold_expires_at <= v_now AND s.period && p_range
    AND (s.mechanic_id = p_mechanic_id OR s.customer_id = p_customer_id);
END
$$;

-- upcoming_appointment(customer, except): the customer's next scheduled appointment (not yet
-- over) other than `except`, as JSON; NULL when none. Owner only.
CREATE OR REPLACE FUNCTION app_private.upcoming_appointment(p_customer_id uuid, p_except uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v app.sessions;
BEGIN
  SELECT * INTO v
  FROM app.sessions s
  WHERE s.customer_id = p_customer_id AND s.scheduled_for IS NOT NULL
    AND s.status = ANY (app_private.upcoming_statuses()) AND s.ends_at > app_private.now()
    AND s.id IS DISTINCT FROM p_except
  ORDER BY s.scheduled_for
  LIMIT 1;
  IF v.id IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN app_private.session_json(v);
END
$$;

-- require_slot(mechanic, customer, range, except): friendly check before claiming time, called with
-- the mechanic's lock held: releases lapsed holds in the way, then raises 409 slot_unavailable
-- (detail reasons ['overlapping_booking']) when the mechanic has another booking or live hold there,
-- or 409 customer_overlap when the customer has another booking overlapping (the same codes the API
-- gives for the two exclusion constraints). Opening hours and time off are NOT checked here: the
-- trigger sessions_occupy_mechanic_time checks them once, for every writer (see its comment);
-- notice and horizon are checked by require_schedule_time (422). Owner only.
CREATE OR REPLACE FUNCTION app_private.require_slot(p_mechanic_id uuid, p_customer_id uuid, p_range tstzrange,
                                                    p_except uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_other uuid;
BEGIN
  PERFORM app_private.release_expired_holds_in_way(p_mechanic_id, p_customer_id, p_range);
  IF p_mechanic_id IS NOT NULL AND p_range && app_private.mechanic_busy(p_mechanic_id, p_range, p_except) THEN
    PERFORM app_private.raise_error(409, 'slot_unavailable', 'Slot not available',
      jsonb_build_object('mechanic_id', p_mechanic_id, 'starts_at', lower(p_range), 'ends_at', upper(p_range),
                         'reasons', jsonb_build_array('overlapping_booking')));
  END IF;
  SELECT s.id INTO v_other
  FROM app.sessions s
  WHERE s.customer_id = p_customer_id AND s.status = ANY (app_private.blocking_statuses())
    AND s.period && p_range AND s.id IS DISTINCT FROM p_except
  LIMIT 1;
  IF v_other IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'customer_overlap', 'You already have an appointment at that time',
      jsonb_build_object('starts_at', lower(p_range), 'ends_at', upper(p_range), 'session_id', v_other));
  END IF;
END
$$;

-- require_text_choice(value, field, allowed): 422 missing_field / invalid_value.
CREATE OR REPLACE FUNCTION app_private.require_choice(p_value text, p_field text, p_allowed text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF p_value IS NULL OR btrim(p_value) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', format('%s is required', p_field),
      jsonb_build_object('field', p_field));
  ELSIF NOT p_value = ANY (p_allowed) THEN
    PERFORM app_private.raise_error(422, 'invalid_value', format('%s must be one of %s', p_field, array_to_string(p_allowed, ', ')),
      jsonb_build_object('field', p_field, 'value', p_value, 'allowed', to_jsonb(p_allowed)));
  END IF;
END
$$;

-- api.create_session(...): THE session factory; every session (immediate or scheduled) is created
-- here. Customers book for themselves; admins for p_customer_id.
--   immediate (p_scheduled_for NULL): status pending, ends_at = now + plan duration; a chosen
--     (on-shift) mechanic gets a targeted 'offered' assignment; matching runs elsewhere.
--   scheduled with p_mechanic_id (or p_hold_id): status scheduled, slot validated (or hold
--     converted), a targeted 'scheduled' assignment for that mechanic.
--   scheduled without mechanic: status scheduled, matching deferred: criteria in
--     metadata.matching_criteria, matching_will_run_at = scheduled_for - 30 min.
-- Raises 403 forbidden; 404 customer_not_found / mechanic_not_found / hold_not_found;
-- 422 missing_field, invalid_value, unknown_plan, vehicle_not_yours, past_time ("Cannot schedule in
-- the past"), too_short_notice, beyond_horizon, in_person_unavailable, hold_mismatch, off_grid;
-- 409 duplicate_booking (detail: the existing appointment), slot_unavailable, customer_overlap,
-- hold_expired, mechanic_offline; constraint sessions_no_mechanic_overlap / sessions_no_customer_overlap (23P01);
-- 40P01 when two racing bookings deadlock inside those constraints (the API: 409 slot_unavailable).
CREATE OR REPLACE FUNCTION api.create_session(
  p_type text DEFAULT NULL,
  p_plan_code text DEFAULT NULL,
  p_concern text DEFAULT NULL,
  p_concern_category text DEFAULT 'diagnostic',
  p_vehicle_id uuid DEFAULT NULL,
  p_is_advice_only boolean DEFAULT false,
  p_scheduled_for timestamptz DEFAULT NULL,
  p_mechanic_id uuid DEFAULT NULL,
  p_service_mode text DEFAULT NULL,
  p_hold_id uuid DEFAULT NULL,
  p_is_urgent boolean DEFAULT false,
  p_preparation_notes text DEFAULT NULL,
  p_special_requests text DEFAULT NULL,
  p_file_refs jsonb DEFAULT '[]',
  p_metadata jsonb DEFAULT '{}',
  p_customer_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_customer uuid := app_private.acting_as('customer', p_customer_id);
  v_hold app.sessions;
  v_plan text := p_plan_code;
  v_mechanic uuid := p_mechanic_id;
  v_at timestamptz := p_scheduled_for;
  v_mode text := coalesce(p_service_mode, 'online');
  v_duration interval;
  v_range tstzrange;
  v_existing jsonb;
  v_mech_workshop uuid;
  v_mech_on_shift boolean;
  v_cust app.customers;
  v_session app.sessions;
  v_meta jsonb := coalesce(p_metadata, '{}');
  v_make text;
  v_now constant timestamptz := app_private.now();
BEGIN
  -- One booking transaction per customer at a time: the duplicate rule cannot be raced. The lock's
  -- read is also caller_customer()'s existence check (one query instead of two).
  SELECT * INTO v_cust FROM app.customers c WHERE c.user_id = v_customer FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'customer_not_found', 'Customer not found',
      jsonb_build_object('customer_id', v_customer));
  END IF;

  IF p_hold_id IS NOT NULL THEN
    -- the held mechanic's lock before the hold's row lock (the lock order: customer, mechanic, rows);
    -- a hold's mechanic never changes, so reading it unlocked first is safe
    PERFORM app_private.lock_mechanic_time(
      (SELECT s.mechanic_id FROM app.sessions s WHERE s.id = p_hold_id AND s.customer_id = v_customer));
    SELECT * INTO v_hold FROM app.sessions s WHERE s.id = p_hold_id AND s.customer_id = v_customer FOR UPDATE;
    IF v_hold.id IS NULL OR (v_hold.status <> 'held' AND v_hold.cancel_reason IS DISTINCT FROM 'expired') THEN
      PERFORM app_private.raise_error(404, 'hold_not_found', 'Slot hold not found', jsonb_build_object('hold_id', p_hold_id));
    END IF;
    IF v_hold.status <> 'held' OR v_hold.hold_expires_at <= v_now THEN
      PERFORM app_private.raise_error(409, 'hold_expired', 'The slot hold has expired; please pick the slot again',
        jsonb_build_object('hold_id', p_hold_id, 'expired_at', v_hold.hold_expires_at));
    END IF;
    IF (p_mechanic_id IS NOT NULL AND p_mechanic_id <> v_hold.mechanic_id)
       OR (p_scheduled_for IS NOT NULL AND p_scheduled_for <> v_hold.scheduled_for)
       OR (p_plan_code IS NOT NULL AND p_plan_code <> v_hold.plan_code)
       OR (p_service_mode IS NOT NULL AND p_service_mode <> v_hold.service_mode) THEN  -- the hold's price was charged
      PERFORM app_private.raise_error(422, 'hold_mismatch', 'The booking does not match the slot hold',
        jsonb_build_object('hold_id', p_hold_id, 'mechanic_id', v_hold.mechanic_id,
                           'scheduled_for', v_hold.scheduled_for, 'plan_code', v_hold.plan_code,
                           'service_mode', v_hold.service_mode));
    END IF;
    v_plan := v_hold.plan_code;
    v_mechanic := v_hold.mechanic_id;
    v_at := v_hold.scheduled_for;
    v_mode := v_hold.service_mode;
  END IF;

  -- Required fields and their values
  PERFORM app_private.require_choice(p_type, 'type', ARRAY['chat', 'video', 'diagnostic']);
  IF v_plan IS NULL OR btrim(v_plan) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'plan_code is required', '{"field": "plan_code"}');
  END IF;
  v_duration := app_private.plan_duration(v_plan);
  IF p_concern IS NULL OR btrim(p_concern) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'concern is required', '{"field": "concern"}');
  END IF;
  PERFORM app_private.require_choice(p_concern_category, 'concern_category',
    ARRAY['diagnostic', 'repair', 'maintenance', 'inspection', 'consultation']);
  PERFORM app_private.require_choice(v_mode, 'service_mode', ARRAY['online', 'in_person']);
  IF p_vehicle_id IS NULL AND NOT coalesce(p_is_advice_only, false) THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'vehicle_id is required unless the session is advice only',
      '{"field": "vehicle_id"}');
  END IF;
  IF p_vehicle_id IS NOT NULL THEN
    SELECT v.make INTO v_make FROM app.vehicles v WHERE v.id = p_vehicle_id AND v.customer_id = v_customer;
    IF NOT FOUND THEN
      PERFORM app_private.raise_error(422, 'vehicle_not_yours', 'That vehicle is not one of yours',
        jsonb_build_object('field', 'vehicle_id', 'vehicle_id', p_vehicle_id));
    END IF;
  END IF;
  IF p_file_refs IS NOT NULL AND jsonb_typeof(p_file_refs) <> 'array' THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'file_refs must be a JSON array', '{"field": "file_refs"}');
  END IF;
  IF jsonb_typeof(v_meta) <> 'object' THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'metadata must be a JSON object', '{"field": "metadata"}');
  END IF;
  IF v_at IS NOT NULL AND coalesce(p_is_urgent, false) THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'Only immediate sessions can be urgent', '{"field": "is_urgent"}');
  END IF;

  -- The mechanic, when one is chosen
  IF v_mechanic IS NOT NULL THEN
    -- require_mechanic()'s rule (an active mechanic, else 404) read with the row this function needs
    SELECT m.workshop_id, m.currently_on_shift INTO v_mech_workshop, v_mech_on_shift
    FROM app.mechanics m WHERE m.user_id = v_mechanic AND m.is_active;
    IF NOT FOUND THEN
      PERFORM app_private.raise_error(404, 'mechanic_not_found', 'Mechanic not found',
        jsonb_build_object('mechanic_id', v_mechanic));
    END IF;
    IF v_mode = 'in_person' AND v_mech_workshop IS NULL THEN
      PERFORM app_private.raise_error(422, 'in_person_unavailable', 'This mechanic has no workshop for in-person service',
        jsonb_build_object('field', 'service_mode', 'mechanic_id', v_mechanic));
    END IF;
  END IF;

  IF v_at IS NULL THEN
    ---------------------------------------------------------------- immediate
    IF v_mechanic IS NOT NULL AND NOT v_mech_on_shift THEN
      PERFORM app_private.raise_error(409, 'mechanic_offline', 'That mechanic is offline; schedule instead',
        jsonb_build_object('mechanic_id', v_mechanic));
    END IF;
    v_range := tstzrange(v_now, v_now + v_duration, '[)');
    PERFORM app_private.require_slot(NULL, v_customer, v_range, NULL);
    INSERT INTO app.sessions (customer_id, plan_code, type, service_mode, vehicle_id, is_advice_only, concern,
                              concern_category, is_urgent, preparation_notes, special_requests, file_refs,
                              scheduled_for, ends_at, status, metadata, created_at)
    VALUES (v_customer, v_plan, p_type, v_mode, p_vehicle_id, coalesce(p_is_advice_only, false), btrim(p_concern),
            p_concern_category, coalesce(p_is_urgent, false), p_preparation_notes, p_special_requests,
            coalesce(p_file_refs, '[]'), NULL, v_now + v_duration, 'pending',
            v_meta || jsonb_strip_nulls(jsonb_build_object('preferred_mechanic_id', v_mechanic)), v_now)
    RETURNING * INTO v_session;
    IF v_mechanic IS NOT NULL THEN
      INSERT INTO app.session_assignments (session_id, mechanic_id, status, priority, offered_at)
      VALUES (v_session.id, v_mechanic, 'offered', 'high', v_now);
    END IF;
    PERFORM app_private.start_immediate_matching(v_session.id);  -- band 60: offers (or the chosen mechanic's)
    SELECT * INTO v_session FROM app.sessions s WHERE s.id = v_session.id;  -- matching may have ended it
    RETURN app_private.session_json(v_session);
  END IF;

  ---------------------------------------------------------------- scheduled
  IF p_hold_id IS NULL THEN
    PERFORM app_private.require_schedule_time(v_at);
  END IF;
  v_existing := app_private.upcoming_appointment(v_customer, NULL);
  IF v_existing IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'duplicate_booking',
      'You already have an upcoming appointment; reschedule it instead', v_existing);
  END IF;
  v_range := tstzrange(v_at, v_at + v_duration, '[)');

  IF p_hold_id IS NOT NULL THEN
    -- The hold already owns the slot; turning it into the booking is one UPDATE of the same row.
    UPDATE app.sessions s
    SET status = 'scheduled', type = p_type, service_mode = v_mode, vehicle_id = p_vehicle_id,
        is_advice_only = coalesce(p_is_advice_only, false), concern = btrim(p_concern),
        concern_category = p_concern_category, preparation_notes = p_preparation_notes,
        special_requests = p_special_requests, file_refs = coalesce(p_file_refs, '[]'),
        metadata = s.metadata || v_meta || jsonb_build_object('from_hold', true)
    WHERE s.id = p_hold_id
    RETURNING * INTO v_session;
  ELSE
    PERFORM app_private.lock_mechanic_time(v_mechanic);   -- no-op without a mechanic (deferred matching)
    PERFORM app_private.require_on_grid(v_mechanic, v_at, v_duration);  -- 422 off_grid (SPEC §4)
    PERFORM app_private.require_slot(v_mechanic, v_customer, v_range, NULL);
    IF v_mechanic IS NULL THEN
      v_meta := v_meta || jsonb_build_object(
        'matching_deferred', true,
        'matching_criteria', jsonb_strip_nulls(jsonb_build_object(
          'requestType', CASE WHEN coalesce(p_is_advice_only, false) THEN 'advice' ELSE 'general' END,
          'extractedKeywords', to_jsonb(tsvector_to_array(to_tsvector('english'::regconfig, p_concern))),
          'vehicleMake', v_make,
          'customerCountry', v_cust.country, 'customerProvince', v_cust.state_province,
          'customerCity', v_cust.city, 'customerPostalCode', v_cust.postal_code)));
    END IF;
    INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, service_mode, vehicle_id, is_advice_only,
                              concern, concern_category, is_urgent, preparation_notes, special_requests, file_refs,
                              scheduled_for, ends_at, status, metadata, matching_will_run_at, created_at)
    VALUES (v_customer, v_mechanic, v_plan, p_type, v_mode, p_vehicle_id, coalesce(p_is_advice_only, false),
            btrim(p_concern), p_concern_category, false, p_preparation_notes, p_special_requests,
            coalesce(p_file_refs, '[]'), v_at, v_at + v_duration, 'scheduled', v_meta,
            CASE WHEN v_mechanic IS NULL THEN v_at - (app_private.booking_settings()).matching_lead END, v_now)
    RETURNING * INTO v_session;
  END IF;

  IF v_mechanic IS NOT NULL THEN
    INSERT INTO app.session_assignments (session_id, mechanic_id, status, priority, offered_at, responded_at)
    VALUES (v_session.id, v_mechanic, 'scheduled', 'high', v_now, v_now);
  END IF;
  -- No EXCEPTION block: it would open a subtransaction on every booking. Two bookings racing for
  -- overlapping time can deadlock inside the exclusion constraints (each has inserted its row and
  -- waits to see whether the other commits); PostgreSQL aborts one with 40P01, and the API answers
  -- that caller 409 slot_unavailable (reasons ['concurrent_booking']: api/errors.py), since for
  -- them the slot went to the other booking.
  RETURN app_private.session_json(v_session);
END
$$;
COMMENT ON FUNCTION api.create_session(text, text, text, text, uuid, boolean, timestamptz, uuid, text, uuid, boolean, text, text, jsonb, jsonb, uuid) IS
'The session factory (immediate when p_scheduled_for is NULL, else scheduled; p_mechanic_id or p_hold_id for a chosen mechanic, else deferred matching). Customers book for themselves, admins pass p_customer_id. Returns the session as JSON. Raises 403 forbidden; 404 customer_not_found/mechanic_not_found/hold_not_found; 422 missing_field/invalid_value/unknown_plan/vehicle_not_yours/past_time/too_short_notice/beyond_horizon/in_person_unavailable/hold_mismatch/off_grid (detail.nearest); 409 duplicate_booking (detail = existing appointment)/slot_unavailable/customer_overlap/hold_expired/mechanic_offline; 23P01 sessions_no_mechanic_overlap/sessions_no_customer_overlap; 40P01 when two racing bookings deadlock inside those constraints (the API answers 409 slot_unavailable).';
GRANT EXECUTE ON FUNCTION api.create_session(text, text, text, text, uuid, boolean, timestamptz, uuid, text, uuid, boolean, text, text, jsonb, jsonb, uuid)
  TO autodoc_customer, autodoc_admin;

-- api.hold_slot(mechanic, starts_at, plan?, service_mode?, customer?, hold_for?): hold a slot
-- for the customer while they pay (default 10 minutes, from the settings). The hold is a session
-- row with status 'held', so it blocks other bookings through the same exclusion constraint.
-- A customer has at most one hold: a new hold releases the previous one. Returns
-- {hold_id, expires_at, mechanic_id, starts_at, ends_at, plan_code, service_mode}.
-- Raises 403 forbidden; 404 customer_not_found/mechanic_not_found; 422 missing_field/unknown_plan/
-- past_time/too_short_notice/beyond_horizon/in_person_unavailable/invalid_value/off_grid;
-- 409 duplicate_booking/slot_unavailable/customer_overlap; 23P01 on a lost race.
CREATE OR REPLACE FUNCTION api.hold_slot(p_mechanic_id uuid, p_starts_at timestamptz,
  p_plan_code text DEFAULT 'standard', p_service_mode text DEFAULT 'online', p_customer_id uuid DEFAULT NULL,
  p_hold_for interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_customer uuid := app_private.caller_customer(p_customer_id);
  v_duration interval;
  v_range tstzrange;
  v_hold_for interval := coalesce(p_hold_for, (app_private.booking_settings()).hold_duration);
  v_existing jsonb;
  v_hold app.sessions;
  v_now constant timestamptz := app_private.now();
BEGIN
  PERFORM 1 FROM app.customers c WHERE c.user_id = v_customer FOR NO KEY UPDATE;
  IF p_mechanic_id IS NULL OR p_starts_at IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'mechanic_id and starts_at are required',
      jsonb_build_object('field', CASE WHEN p_mechanic_id IS NULL THEN 'mechanic_id' ELSE 'starts_at' END));
  END IF;
  IF v_hold_for <= '0'::interval OR v_hold_for > '1 hour'::interval THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'A hold lasts between 1 second and 1 hour',
      jsonb_build_object('field', 'hold_for'));
  END IF;
  v_duration := app_private.plan_duration(coalesce(p_plan_code, 'standard'));
  PERFORM app_private.require_choice(coalesce(p_service_mode, 'online'), 'service_mode', ARRAY['online', 'in_person']);
  PERFORM app_private.require_mechanic(p_mechanic_id);
  IF p_service_mode = 'in_person'
     AND (SELECT m.workshop_id IS NULL FROM app.mechanics m WHERE m.user_id = p_mechanic_id) THEN
    PERFORM app_private.raise_error(422, 'in_person_unavailable', 'This mechanic has no workshop for in-person service',
      jsonb_build_object('field', 'service_mode', 'mechanic_id', p_mechanic_id));
  END IF;
  PERFORM app_private.require_schedule_time(p_starts_at);
  v_existing := app_private.upcoming_appointment(v_customer, NULL);
  IF v_existing IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'duplicate_booking',
      'You already have an upcoming appointment; reschedule it instead', v_existing);
  END IF;
  PERFORM app_private.lock_mechanic_time(p_mechanic_id);   -- before any session row is locked
  -- one hold per customer: a new pick replaces the previous one
  UPDATE app.sessions s SET status = 'cancelled', cancel_reason = 'customer'
  WHERE s.customer_id = v_customer AND s.status = 'held';

  v_range := tstzrange(p_starts_at, p_starts_at + v_duration, '[)');
  PERFORM app_private.require_on_grid(p_mechanic_id, p_starts_at, v_duration, 'starts_at');  -- 422 off_grid
  PERFORM app_private.require_slot(p_mechanic_id, v_customer, v_range, NULL);
  INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, service_mode, scheduled_for, ends_at, status,
                            hold_expires_at, created_at)
  VALUES (v_customer, p_mechanic_id, coalesce(p_plan_code, 'standard'), coalesce(p_service_mode, 'online'),
          p_starts_at, p_starts_at + v_duration, 'held', v_now + v_hold_for, v_now)
  RETURNING * INTO v_hold;
  RETURN jsonb_build_object('hold_id', v_hold.id, 'expires_at', v_hold.hold_expires_at,
                            'mechanic_id', v_hold.mechanic_id, 'starts_at', v_hold.scheduled_for,
                            'ends_at', v_hold.ends_at, 'plan_code', v_hold.plan_code,
                            'service_mode', v_hold.service_mode);
END  -- a deadlock lost inside the exclusion constraints is 40P01 (no EXCEPTION block: see api.create_session)
$$;
COMMENT ON FUNCTION api.hold_slot(uuid, timestamptz, text, text, uuid, interval) IS
'Hold a slot for the calling customer (admins: p_customer_id) for 10 minutes by default; blocks other bookings via sessions_no_mechanic_overlap. One hold per customer (a new hold releases the previous). Returns {hold_id, expires_at, mechanic_id, starts_at, ends_at, plan_code, service_mode}. Raises 403 forbidden, 404 customer_not_found/mechanic_not_found, 422 missing_field/unknown_plan/past_time/too_short_notice/beyond_horizon/in_person_unavailable/invalid_value/off_grid (detail.nearest), 409 duplicate_booking/slot_unavailable/customer_overlap, 23P01 on a lost race (40P01 when it deadlocks; the API answers 409 slot_unavailable).';
GRANT EXECUTE ON FUNCTION api.hold_slot(uuid, timestamptz, text, text, uuid, interval)
  TO autodoc_customer, autodoc_admin;

-- api.release_hold(hold): the customer gives a hold back (cancel_reason 'customer'; 'expired' when
-- it had lapsed already).
-- Returns true when released, false when it had already lapsed/been used. Raises 404 hold_not_found.
CREATE OR REPLACE FUNCTION api.release_hold(p_hold_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_hold app.sessions;
BEGIN
  SELECT * INTO v_hold FROM app.sessions s
  WHERE s.id = p_hold_id AND (s.status = 'held' OR s.hold_expires_at IS NOT NULL)
    AND (s.customer_id = app_private.current_user_id() OR app_private.is_admin())
  FOR UPDATE;
  IF v_hold.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'hold_not_found', 'Slot hold not found', jsonb_build_object('hold_id', p_hold_id));
  END IF;
  IF v_hold.status <> 'held' THEN
    RETURN false;
  END IF;
  UPDATE app.sessions s
  SET status = 'cancelled', cancel_reason = CASE WHEN s.hold_expires_at <= app_private.now() THEN 'expired' ELSE 'customer' END
  WHERE s.id = p_hold_id;
  RETURN true;
END
$$;
COMMENT ON FUNCTION api.release_hold(uuid) IS
'Give back a slot hold (the holding customer or an admin). Returns true when released, false when it was already used or released. Raises 404 hold_not_found.';
GRANT EXECUTE ON FUNCTION api.release_hold(uuid) TO autodoc_customer, autodoc_admin;

-- api.release_expired_holds(): cancel (reason 'expired') every hold that lapsed by now.
-- Safe to run twice, also concurrently: rows another run is releasing are skipped (SKIP LOCKED),
-- and a released hold no longer matches. Returns how many this run released. Who may call it is
-- decided by EXECUTE grants alone (worker, admin; pg_cron runs it as the owner), since it only
-- applies a rule that every booking function applies anyway.
CREATE OR REPLACE FUNCTION api.release_expired_holds() RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_count int;
BEGIN
  WITH due AS (
    SELECT s.id FROM app.sessions s
    WHERE s.status = 'held' AND s.hold_expires_at <= app_private.now()
    FOR UPDATE SKIP LOCKED
  )
  UPDATE app.sessions s SET status = 'cancelled', cancel_reason = 'expired'
  FROM due WHERE s.id = due.id AND s.status = 'held';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.release_expired_holds() IS
'Release (cancel with reason expired) every slot hold whose expires_at <= now (the trusted clock). Idempotent and safe to run concurrently. Returns the number released. pg_cron job autodoc-release-expired-holds (every minute), worker, admin.';
GRANT EXECUTE ON FUNCTION api.release_expired_holds() TO autodoc_worker, autodoc_admin;

-- api.reschedule_session(session, scheduled_for, mechanic?): move a scheduled booking to a new
-- time (and optionally another mechanic) atomically: ONE UPDATE of the session row, so the new slot
-- is claimed (exclusion constraint) in the same statement that frees the old one; when anything
-- fails, nothing changes. The booking's customer or an admin. Returns the session JSON.
-- Raises 404 session_not_found; 409 not_reschedulable (not in status scheduled), slot_unavailable,
-- customer_overlap;
-- 422 missing_field, past_time, too_short_notice, beyond_horizon, in_person_unavailable, off_grid;
-- 23P01 sessions_no_mechanic_overlap / sessions_no_customer_overlap on a lost race.
CREATE OR REPLACE FUNCTION api.reschedule_session(p_session_id uuid, p_scheduled_for timestamptz,
  p_mechanic_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
  v_mechanic uuid;
  v_duration interval;
  v_range tstzrange;
  v_locked uuid[];
  v_now constant timestamptz := app_private.now();
BEGIN
  IF p_session_id IS NULL OR p_scheduled_for IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'session_id and scheduled_for are required',
      jsonb_build_object('field', CASE WHEN p_session_id IS NULL THEN 'session_id' ELSE 'scheduled_for' END));
  END IF;
  -- same lock order as the factory (customer row, then the mechanics' time, then the session) so the
  -- two never deadlock; the old and the new mechanic are locked together, in one global order
  PERFORM 1 FROM app.customers c
  WHERE c.user_id = (SELECT s.customer_id FROM app.sessions s WHERE s.id = p_session_id)
  FOR NO KEY UPDATE;
  v_locked := ARRAY[(SELECT s.mechanic_id FROM app.sessions s WHERE s.id = p_session_id), p_mechanic_id];
  PERFORM app_private.lock_mechanics_time(v_locked);
  SELECT * INTO v_s FROM app.sessions s
  WHERE s.id = p_session_id AND s.type IS NOT NULL
    AND ((app_private.current_app_role() = 'customer' AND s.customer_id = app_private.current_user_id())
         OR app_private.is_admin())
  FOR UPDATE;
  IF v_s.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Appointment not found',
      jsonb_build_object('session_id', p_session_id));
  END IF;
  IF v_s.status <> 'scheduled' OR v_s.scheduled_for IS NULL THEN
    PERFORM app_private.raise_error(409, 'not_reschedulable', format('A session that is %s cannot be rescheduled', v_s.status),
      jsonb_build_object('session_id', v_s.id, 'status', v_s.status));
  END IF;
  PERFORM app_private.require_schedule_time(p_scheduled_for);
  IF v_s.mechanic_id IS NOT NULL AND NOT v_s.mechanic_id = ANY (v_locked) THEN
    PERFORM app_private.lock_mechanic_time(v_s.mechanic_id);   -- matching assigned one meanwhile
  END IF;
  v_mechanic := coalesce(p_mechanic_id, v_s.mechanic_id);
  IF v_mechanic IS NOT NULL THEN
    PERFORM app_private.require_mechanic(v_mechanic);
    IF v_s.service_mode = 'in_person'
       AND (SELECT m.workshop_id IS NULL FROM app.mechanics m WHERE m.user_id = v_mechanic) THEN
      PERFORM app_private.raise_error(422, 'in_person_unavailable', 'This mechanic has no workshop for in-person service',
        jsonb_build_object('field', 'service_mode', 'mechanic_id', v_mechanic));
    END IF;
  END IF;
  v_duration := v_s.ends_at - v_s.scheduled_for;
  v_range := tstzrange(p_scheduled_for, p_scheduled_for + v_duration, '[)');
  PERFORM app_private.require_on_grid(v_mechanic, p_scheduled_for, v_duration);  -- 422 off_grid (SPEC §4)
  PERFORM app_private.require_slot(v_mechanic, v_s.customer_id, v_range, v_s.id);

  PERFORM set_config('autodoc.event_metadata', jsonb_build_object('reason', 'reschedule')::text, true);
  UPDATE app.sessions s
  SET scheduled_for = p_scheduled_for, ends_at = p_scheduled_for + v_duration, mechanic_id = v_mechanic,
      matching_will_run_at = CASE WHEN v_mechanic IS NULL
                                  THEN p_scheduled_for - (app_private.booking_settings()).matching_lead END,
      metadata = s.metadata || jsonb_build_object('reschedule_count', coalesce((s.metadata ->> 'reschedule_count')::int, 0) + 1)
  WHERE s.id = v_s.id
  RETURNING * INTO v_s;
  PERFORM set_config('autodoc.event_metadata', '', true);

  IF v_mechanic IS NOT NULL THEN
    UPDATE app.session_assignments a SET status = 'withdrawn'
    WHERE a.session_id = v_s.id AND a.mechanic_id <> v_mechanic AND a.status = 'scheduled';
    INSERT INTO app.session_assignments (session_id, mechanic_id, status, priority, offered_at, responded_at)
    VALUES (v_s.id, v_mechanic, 'scheduled', 'high', v_now, v_now)
    ON CONFLICT (session_id, mechanic_id) DO UPDATE SET status = 'scheduled', responded_at = excluded.responded_at;
  END IF;
  RETURN app_private.session_json(v_s);
END  -- a deadlock lost inside the exclusion constraints is 40P01 (no EXCEPTION block: see api.create_session)
$$;
COMMENT ON FUNCTION api.reschedule_session(uuid, timestamptz, uuid) IS
'Move a scheduled appointment to p_scheduled_for (optionally to p_mechanic_id) atomically: one UPDATE claims the new slot and frees the old; on any error nothing changes. The booking''s customer or an admin. Returns the session JSON. Raises 404 session_not_found, 409 not_reschedulable/slot_unavailable/customer_overlap, 422 missing_field/past_time/too_short_notice/beyond_horizon/in_person_unavailable/off_grid (detail.nearest), 23P01 on a lost race (40P01 when it deadlocks; the API answers 409 slot_unavailable).';
GRANT EXECUTE ON FUNCTION api.reschedule_session(uuid, timestamptz, uuid) TO autodoc_customer, autodoc_admin;

-- transition_session(session, to, cancel_reason?, event metadata?): THE way functions change a
-- session's status (the lifecycle trigger checks the transition; the audit trigger logs it with
-- the metadata). No caller check: owner only, for other SECURITY DEFINER functions (payments,
-- matching, no-show job). Raises 404 session_not_found, 409 illegal_transition,
-- 422 missing_field (cancel without a reason).
CREATE OR REPLACE FUNCTION app_private.transition_session(p_session_id uuid, p_to_status text,
  p_cancel_reason text DEFAULT NULL, p_event_metadata jsonb DEFAULT '{}')
RETURNS app.sessions
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
BEGIN
  IF p_to_status = 'cancelled' AND p_cancel_reason IS NULL THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'A cancellation needs a reason', '{"field": "cancel_reason"}');
  END IF;
  PERFORM set_config('autodoc.event_metadata', coalesce(p_event_metadata, '{}')::text, true);
  UPDATE app.sessions s
  SET status = p_to_status,
      cancel_reason = CASE WHEN p_to_status = 'cancelled' THEN p_cancel_reason END
  WHERE s.id = p_session_id
  RETURNING * INTO v_s;
  PERFORM set_config('autodoc.event_metadata', '', true);
  IF v_s.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  RETURN v_s;
END
$$;

-- api.set_session_status(session, status, cancel_reason?): admin/DBA tool for a status change
-- through the lifecycle rules. Returns the session JSON. Raises 403 forbidden, 404 session_not_found,
-- 409 illegal_transition, 422 missing_field.
CREATE OR REPLACE FUNCTION api.set_session_status(p_session_id uuid, p_status text, p_cancel_reason text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NOT app_private.is_admin() THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only an admin can set a session status directly');
  END IF;
  RETURN app_private.session_json(app_private.transition_session(p_session_id, p_status, p_cancel_reason,
                                                                 jsonb_build_object('via', 'set_session_status')));
END
$$;
COMMENT ON FUNCTION api.set_session_status(uuid, text, text) IS
'Admin/DBA: change a session''s status through the lifecycle rules (held->scheduled|cancelled, scheduled->pending|cancelled, pending->waiting|active|cancelled, waiting->active|cancelled, active->completed). Money is not touched: cancelling here refunds nothing (a customer cancellation with refunds is not built yet; the money issue will add api.cancel_session). Raises 403 forbidden, 404 session_not_found, 409 illegal_transition, 422 missing_field.';
GRANT EXECUTE ON FUNCTION api.set_session_status(uuid, text, text) TO autodoc_admin;

------------------------------------------------------------------------------------------------
-- Reads (SECURITY INVOKER: row-level security decides what the caller sees)
------------------------------------------------------------------------------------------------

-- appointments(): every appointment row the caller may see (RLS decides), holds excluded, in the
-- shape api.my_appointments and api.get_appointment return. The one definition of that shape. Plain
-- SQL (no SET, invoker, stable) so the planner inlines it into both callers' queries.
CREATE OR REPLACE FUNCTION app_private.appointments()
RETURNS TABLE (id uuid, status text, type text, service_mode text, plan_code text, plan_name text, price_cents int,
               starts_at timestamptz, scheduled_for timestamptz, ends_at timestamptz, is_immediate boolean,
               customer_id uuid, mechanic_id uuid, mechanic_name text, workshop_id uuid, workshop_name text,
               workshop_address text, timezone text, vehicle_id uuid, vehicle jsonb, is_advice_only boolean,
               concern text, concern_category text, is_urgent boolean, preparation_notes text,
               special_requests text, file_refs jsonb, cancel_reason text, metadata jsonb, created_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT s.id, s.status, s.type, s.service_mode, s.plan_code, p.name, p.price_cents,
         lower(s.period), s.scheduled_for, s.ends_at, s.scheduled_for IS NULL,
         s.customer_id, s.mechanic_id, m.display_name, w.id, w.name,
         concat_ws(', ', w.address_line1, w.address_line2, w.city, w.state_province, w.postal_code, w.country),
         coalesce(w.timezone, m.timezone), s.vehicle_id,
         CASE WHEN v.id IS NOT NULL THEN jsonb_build_object('id', v.id, 'year', v.year, 'make', v.make, 'model', v.model,
                                                            'license_plate', v.license_plate) END,
         s.is_advice_only, s.concern, s.concern_category, s.is_urgent, s.preparation_notes, s.special_requests,
         s.file_refs, s.cancel_reason, s.metadata, s.created_at
  FROM app.sessions s
  JOIN app.plans p ON p.code = s.plan_code
  LEFT JOIN app.mechanics m ON m.user_id = s.mechanic_id
  LEFT JOIN app.workshops w ON w.id = m.workshop_id
  LEFT JOIN app.vehicles v ON v.id = s.vehicle_id
  WHERE s.type IS NOT NULL  -- holds (also lapsed ones) are not appointments
$$;
GRANT EXECUTE ON FUNCTION app_private.appointments() TO autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.my_appointments(scope?, limit?): the caller's appointments (customers: theirs,
-- mechanics: the ones booked with them, admins: all), holds excluded. scope 'upcoming' (not over
-- and not cancelled/completed; soonest first), 'past' (latest first) or 'all'.
-- Raises 422 invalid_value.
CREATE OR REPLACE FUNCTION api.my_appointments(p_scope text DEFAULT 'upcoming', p_limit int DEFAULT 100)
RETURNS TABLE (id uuid, status text, type text, service_mode text, plan_code text, plan_name text, price_cents int,
               starts_at timestamptz, scheduled_for timestamptz, ends_at timestamptz, is_immediate boolean,
               customer_id uuid, mechanic_id uuid, mechanic_name text, workshop_id uuid, workshop_name text,
               workshop_address text, timezone text, vehicle_id uuid, vehicle jsonb, is_advice_only boolean,
               concern text, concern_category text, is_urgent boolean, preparation_notes text,
               special_requests text, file_refs jsonb, cancel_reason text, metadata jsonb, created_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  PERFORM app_private.require_choice(p_scope, 'scope', ARRAY['upcoming', 'past', 'all']);
  RETURN QUERY
  SELECT a.* FROM app_private.appointments() a
  WHERE CASE app_private.current_app_role()
          WHEN 'customer' THEN a.customer_id = app_private.current_user_id()
          WHEN 'mechanic' THEN a.mechanic_id = app_private.current_user_id()
          ELSE true END
    AND CASE p_scope
          WHEN 'upcoming' THEN a.status = ANY (app_private.upcoming_statuses()) AND a.ends_at > app_private.now()
          WHEN 'past' THEN a.status = ANY (app_private.final_statuses()) OR a.ends_at <= app_private.now()
          ELSE true END
  ORDER BY CASE WHEN p_scope = 'upcoming' THEN a.starts_at END ASC,
           a.starts_at DESC
  LIMIT greatest(coalesce(p_limit, 100), 0);
END
$$;
COMMENT ON FUNCTION api.my_appointments(text, int) IS
'The caller''s appointments (customer: own; mechanic: booked with them; admin: all), holds excluded; p_scope upcoming (soonest first) | past (latest first) | all. RLS decides visibility. Raises 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.my_appointments(text, int) TO autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.get_appointment(id): one appointment visible to the caller (RLS), same columns as
-- api.my_appointments. Raises 404 session_not_found.
CREATE OR REPLACE FUNCTION api.get_appointment(p_session_id uuid)
RETURNS TABLE (id uuid, status text, type text, service_mode text, plan_code text, plan_name text, price_cents int,
               starts_at timestamptz, scheduled_for timestamptz, ends_at timestamptz, is_immediate boolean,
               customer_id uuid, mechanic_id uuid, mechanic_name text, workshop_id uuid, workshop_name text,
               workshop_address text, timezone text, vehicle_id uuid, vehicle jsonb, is_advice_only boolean,
               concern text, concern_category text, is_urgent boolean, preparation_notes text,
               special_requests text, file_refs jsonb, cancel_reason text, metadata jsonb, created_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  RETURN QUERY SELECT a.* FROM app_private.appointments() a WHERE a.id = p_session_id;
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Appointment not found',
      jsonb_build_object('session_id', p_session_id));
  END IF;
END
$$;
COMMENT ON FUNCTION api.get_appointment(uuid) IS
'One appointment the caller may see (RLS: own as customer, booked with them as mechanic, any as admin); same columns as api.my_appointments. Raises 404 session_not_found.';
GRANT EXECUTE ON FUNCTION api.get_appointment(uuid) TO autodoc_customer, autodoc_mechanic, autodoc_admin;

-- Factories for the side-effect tests (outbox, payments, notifications, reminders). Prefixed `se_`
-- so they never clash with the booking domain's factories. They insert rows directly, as the
-- superuser, so a test can arrange any state without going through the booking functions.

-- se_customer(): a customer (user + customer profile); returns the user id.
CREATE OR REPLACE FUNCTION tests.se_customer(p_email text DEFAULT NULL, p_name text DEFAULT 'Casey Customer')
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid := tests.create_user('customer', p_email, p_name);
BEGIN
  INSERT INTO app.customers (user_id, city, country) VALUES (v_id, 'Toronto', 'CA');
  RETURN v_id;
END
$$;

-- se_mechanic(): a mechanic (user + profile), optionally at a new workshop; returns the user id.
-- Open around the clock (00:00-00:00 every day: the workshop's hours or the mechanic's blocks), so a
-- side-effect test may place a session at any instant: the hours check on sessions
-- (sessions_occupy_mechanic_time) applies to these direct INSERTs too.
CREATE OR REPLACE FUNCTION tests.se_mechanic(p_timezone text DEFAULT 'America/Toronto', p_with_workshop boolean DEFAULT false,
                                             p_email text DEFAULT NULL, p_name text DEFAULT 'Morgan Mechanic')
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid := tests.create_user('mechanic', p_email, p_name);
  v_workshop uuid;
BEGIN
  IF p_with_workshop THEN
    INSERT INTO app.workshops (name, address_line1, city, state_province, postal_code, country, timezone)
    VALUES ('Downtown Auto', '1 King St W', 'Toronto', 'ON', 'M5H 1A1', 'CA', p_timezone) RETURNING id INTO v_workshop;
    INSERT INTO app.workshop_availability (workshop_id, day_of_week, is_open, open_time, close_time)
    SELECT v_workshop, d, true, '00:00', '00:00' FROM generate_series(0, 6) d;
  END IF;
  INSERT INTO app.mechanics (user_id, display_name, workshop_id, timezone, specialties)
  VALUES (v_id, p_name, v_workshop, p_timezone, ARRAY['Honda', 'brakes']);
  IF NOT p_with_workshop THEN
    INSERT INTO app.mechanic_availability_blocks (mechanic_id, day_of_week, start_time, end_time)
    SELECT v_id, d, '00:00', '00:00' FROM generate_series(0, 6) d;
  END IF;
  RETURN v_id;
END
$$;

-- se_session(): a scheduled appointment (or hold) inserted directly; returns its id. The side-effect
-- trigger fires exactly as it does for real bookings, and the booking's event is fanned out as the
-- worker would (tests.fan_out).
CREATE OR REPLACE FUNCTION tests.se_session(p_customer uuid, p_mechanic uuid, p_start timestamptz,
                                            p_mode text DEFAULT 'online', p_status text DEFAULT 'scheduled',
                                            p_plan text DEFAULT 'standard')
RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
BEGIN
  INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, service_mode, is_advice_only, concern,
                            concern_category, scheduled_for, ends_at, status, hold_expires_at)
  SELECT p_customer, p_mechanic, p_plan,
         CASE WHEN p_status = 'held' THEN NULL ELSE 'video' END, p_mode, true,
         CASE WHEN p_status = 'held' THEN NULL ELSE 'Grinding noise when braking' END,
         CASE WHEN p_status = 'held' THEN NULL ELSE 'diagnostic' END,
         p_start, p_start + make_interval(mins => pl.duration_minutes), p_status,
         CASE WHEN p_status = 'held' THEN app_private.now() + interval '10 minutes' END
    FROM app.plans pl WHERE pl.code = p_plan
  RETURNING id INTO v_id;
  PERFORM tests.fan_out(v_id);  -- the worker's part of a booking: its charge, emails and reminders
  RETURN v_id;
END
$$;

-- se_booking(): customer + mechanic + scheduled appointment in one call; returns the session id.
CREATE OR REPLACE FUNCTION tests.se_booking(p_start timestamptz DEFAULT now() + interval '3 days',
                                            p_mode text DEFAULT 'online', p_plan text DEFAULT 'standard')
RETURNS uuid LANGUAGE sql AS $$
  SELECT tests.se_session(tests.se_customer(), tests.se_mechanic('America/Toronto', p_mode = 'in_person'),
                          p_start, p_mode, 'scheduled', p_plan)
$$;

-- se_emails(): the email outbox rows of a session, oldest first: template, recipient role,
-- invite method and sequence, key.
CREATE OR REPLACE FUNCTION tests.se_emails(p_session_id uuid)
RETURNS TABLE (template text, recipient text, method text, seq integer, idempotency_key text)
LANGUAGE sql AS $$
  SELECT payload ->> 'template', payload ->> 'recipient_role', payload -> 'invite' ->> 'method',
         (payload -> 'invite' ->> 'sequence')::integer, idempotency_key
    FROM app.outbox WHERE kind = 'email.send' AND session_id = p_session_id ORDER BY id
$$;

-- se_event(): a Stripe-shaped webhook event.
CREATE OR REPLACE FUNCTION tests.se_event(p_id text, p_type text, p_object jsonb) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT jsonb_build_object('id', p_id, 'object', 'event', 'type', p_type, 'created', 1700000000,
                            'data', jsonb_build_object('object', p_object))
$$;

-- se_charge_done(): play the worker for a charge: complete its outbox row with a PaymentIntent.
CREATE OR REPLACE FUNCTION tests.se_charge_done(p_payment_id uuid, p_status text DEFAULT 'succeeded',
                                                p_intent text DEFAULT NULL) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  v_outbox bigint;
  v_intent text := coalesce(p_intent, 'pi_' || replace(p_payment_id::text, '-', ''));
BEGIN
  SELECT o.id INTO STRICT v_outbox FROM app.outbox o
   WHERE o.kind = 'stripe.charge' AND o.payload ->> 'payment_id' = p_payment_id::text;
  PERFORM api.outbox_complete(v_outbox, 'test-worker',
    jsonb_build_object('payment_intent_id', v_intent, 'client_secret', v_intent || '_secret_x', 'status', p_status));
  RETURN v_intent;
END
$$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA tests TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- as_sent(payload): an outbox payload as the worker gets it when it claims the row: the kind's
-- claim-time facts merged in (a session email's recipient, context and invite, read then:
-- app_private.session_email_facts). Payloads of other kinds and snapshot emails come back as they are.
CREATE OR REPLACE FUNCTION tests.as_sent(p_payload jsonb) RETURNS jsonb
LANGUAGE sql AS $$
  SELECT p_payload || coalesce(app_private.outbox_context('email.send', p_payload) - 'skip', '{}'::jsonb)
$$;

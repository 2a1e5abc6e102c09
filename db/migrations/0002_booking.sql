-- depends: 0001_foundation
-- Booking: plans, settings, workshops and hours, customers, vehicles, favorites, mechanics,
-- availability blocks, time off, sessions (holds included), assignments, the audit log.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- Used by CHECK constraints below, so it lives with the tables (not in db/functions).
-- A zone is valid when it looks like an IANA name and PostgreSQL knows it.
CREATE FUNCTION app_private.is_valid_timezone(p_zone text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
  IF p_zone IS NULL OR p_zone !~ '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$' THEN
    RETURN false;
  END IF;
  PERFORM now() AT TIME ZONE p_zone;
  RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
  RETURN false;
END
$$;
GRANT EXECUTE ON FUNCTION app_private.is_valid_timezone(text)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- Booking policy: ONE row, the single source of truth for notice, horizon, hold length, slot grid,
-- the default opening window and how long before a deferred appointment matching runs.
CREATE TABLE app.booking_settings (
  id                 boolean PRIMARY KEY DEFAULT true,
  min_notice         interval NOT NULL DEFAULT '2 hours',
  booking_horizon    interval NOT NULL DEFAULT '30 days',
  hold_duration      interval NOT NULL DEFAULT '10 minutes',
  slot_step          interval NOT NULL DEFAULT '30 minutes',
  default_open_time  time NOT NULL DEFAULT '09:00',
  default_close_time time NOT NULL DEFAULT '18:00',
  matching_lead      interval NOT NULL DEFAULT '30 minutes',
  calendar_days      int NOT NULL DEFAULT 30,
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT booking_settings_single_row CHECK (id),
  CONSTRAINT booking_settings_positive CHECK (min_notice >= '0'::interval AND booking_horizon > '0'::interval
    AND hold_duration > '0'::interval AND slot_step >= '5 minutes'::interval AND matching_lead >= '0'::interval
    AND calendar_days BETWEEN 1 AND 366)
);
INSERT INTO app.booking_settings DEFAULT VALUES;
ALTER TABLE app.booking_settings ENABLE ROW LEVEL SECURITY;

CREATE TABLE app.plans (
  code             text PRIMARY KEY,
  name             text NOT NULL,
  price_cents      int NOT NULL,
  duration_minutes int NOT NULL,
  description      text,
  is_active        boolean NOT NULL DEFAULT true,
  sort_order       int NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT plans_code_format CHECK (code ~ '^[a-z][a-z0-9_]*$'),
  CONSTRAINT plans_price_not_negative CHECK (price_cents >= 0),
  CONSTRAINT plans_duration_sensible CHECK (duration_minutes BETWEEN 5 AND 480)
);
INSERT INTO app.plans (code, name, price_cents, duration_minutes, sort_order, description) VALUES
  ('standard', 'Standard', 2900, 30, 1, 'A 30-minute consultation'),
  ('extended', 'Extended', 4900, 45, 2, 'A 45-minute consultation'),
  ('premium',  'Premium',  9900, 60, 3, 'A 60-minute consultation');
ALTER TABLE app.plans ENABLE ROW LEVEL SECURITY;

CREATE TABLE app.workshops (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name           text NOT NULL,
  address_line1  text,
  address_line2  text,
  city           text,
  state_province text,
  postal_code    text,
  country        text,
  phone          text,
  timezone       text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT workshops_name_present CHECK (btrim(name) <> ''),
  CONSTRAINT workshops_timezone_valid CHECK (app_private.is_valid_timezone(timezone))
);
ALTER TABLE app.workshops ENABLE ROW LEVEL SECURITY;

-- Opening hours per day of week (0 = Sunday ... 6 = Saturday, like JavaScript's getDay()), local
-- wall-clock times in the workshop's zone. close_time <= open_time means the window ends the next
-- day (close_time = open_time: open 24 hours). A workshop without any row uses the default window.
CREATE TABLE app.workshop_availability (
  workshop_id uuid NOT NULL REFERENCES app.workshops (id) ON DELETE CASCADE,
  day_of_week smallint NOT NULL,
  is_open     boolean NOT NULL DEFAULT true,
  open_time   time,
  close_time  time,
  PRIMARY KEY (workshop_id, day_of_week),
  CONSTRAINT workshop_availability_day_valid CHECK (day_of_week BETWEEN 0 AND 6),
  CONSTRAINT workshop_availability_times_when_open CHECK (NOT is_open OR (open_time IS NOT NULL AND close_time IS NOT NULL))
);
ALTER TABLE app.workshop_availability ENABLE ROW LEVEL SECURITY;

CREATE TABLE app.customers (
  user_id              uuid PRIMARY KEY REFERENCES app.users (id) ON DELETE CASCADE,
  phone                text,
  country              text,
  state_province       text,
  city                 text,
  postal_code          text,
  credit_balance_cents int NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customers_credit_not_negative CHECK (credit_balance_cents >= 0)
);
ALTER TABLE app.customers ENABLE ROW LEVEL SECURITY;

CREATE TABLE app.vehicles (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id   uuid NOT NULL REFERENCES app.customers (user_id) ON DELETE CASCADE,
  year          int,
  make          text NOT NULL,
  model         text NOT NULL,
  vin           text,
  odometer      int,
  license_plate text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT vehicles_year_sensible CHECK (year IS NULL OR year BETWEEN 1900 AND 2100),
  CONSTRAINT vehicles_odometer_not_negative CHECK (odometer IS NULL OR odometer >= 0),
  CONSTRAINT vehicles_make_model_present CHECK (btrim(make) <> '' AND btrim(model) <> ''),
  CONSTRAINT vehicles_vin_format CHECK (vin IS NULL OR vin ~ '^[A-HJ-NPR-Z0-9]{11,17}$')
);
CREATE INDEX vehicles_customer_id_idx ON app.vehicles (customer_id);
ALTER TABLE app.vehicles ENABLE ROW LEVEL SECURITY;

CREATE TABLE app.mechanics (
  user_id                 uuid PRIMARY KEY REFERENCES app.users (id) ON DELETE CASCADE,
  display_name            text NOT NULL,  -- public name (app.users is private to its owner)
  workshop_id             uuid REFERENCES app.workshops (id) ON DELETE SET NULL,
  bio                     text,
  rating                  numeric(3, 2) NOT NULL DEFAULT 0,
  rating_count            int NOT NULL DEFAULT 0,
  specialties             text[] NOT NULL DEFAULT '{}',   -- brands ("Honda") and services ("brakes")
  brand_specialist_brands text[] NOT NULL DEFAULT '{}',   -- brands this mechanic is a specialist for
  years_of_experience     int NOT NULL DEFAULT 0,
  certifications          text[] NOT NULL DEFAULT '{}',
  country                 text,
  state_province          text,
  city                    text,
  postal_code             text,
  timezone                text NOT NULL,   -- independents' zone; workshop mechanics use the workshop's
  currently_on_shift      boolean NOT NULL DEFAULT false,   -- THE online flag
  shift_changed_at        timestamptz,
  is_active               boolean NOT NULL DEFAULT true,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mechanics_rating_range CHECK (rating BETWEEN 0 AND 5),
  CONSTRAINT mechanics_experience_not_negative CHECK (years_of_experience >= 0 AND rating_count >= 0),
  CONSTRAINT mechanics_timezone_valid CHECK (app_private.is_valid_timezone(timezone)),
  CONSTRAINT mechanics_display_name_present CHECK (btrim(display_name) <> '')
);
CREATE INDEX mechanics_workshop_id_idx ON app.mechanics (workshop_id);
CREATE INDEX mechanics_on_shift_idx ON app.mechanics (currently_on_shift) WHERE currently_on_shift;
ALTER TABLE app.mechanics ENABLE ROW LEVEL SECURITY;

CREATE TABLE app.favorites (
  customer_id uuid NOT NULL REFERENCES app.customers (user_id) ON DELETE CASCADE,
  mechanic_id uuid NOT NULL REFERENCES app.mechanics (user_id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, mechanic_id)
);
CREATE INDEX favorites_mechanic_id_idx ON app.favorites (mechanic_id);
ALTER TABLE app.favorites ENABLE ROW LEVEL SECURITY;

-- Independent mechanics' weekly blocks (local wall-clock in the mechanic's zone; end <= start means
-- next day). A mechanic without any block uses the default window. Workshop mechanics use the
-- workshop's hours instead.
CREATE TABLE app.mechanic_availability_blocks (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  mechanic_id uuid NOT NULL REFERENCES app.mechanics (user_id) ON DELETE CASCADE,
  day_of_week smallint NOT NULL,
  start_time  time NOT NULL,
  end_time    time NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mechanic_availability_blocks_day_valid CHECK (day_of_week BETWEEN 0 AND 6),
  CONSTRAINT mechanic_availability_blocks_unique UNIQUE (mechanic_id, day_of_week, start_time)
);
ALTER TABLE app.mechanic_availability_blocks ENABLE ROW LEVEL SECURITY;

-- Time off (the plan's names: start_date/end_date, here instants).
CREATE TABLE app.mechanic_time_off (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  mechanic_id uuid NOT NULL REFERENCES app.mechanics (user_id) ON DELETE CASCADE,
  start_date  timestamptz NOT NULL,
  end_date    timestamptz NOT NULL,
  reason      text,
  period      tstzrange GENERATED ALWAYS AS (tstzrange(start_date, end_date, '[)')) STORED,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT mechanic_time_off_ends_after_start CHECK (end_date > start_date)
);
CREATE INDEX mechanic_time_off_mechanic_id_idx ON app.mechanic_time_off (mechanic_id);
CREATE INDEX mechanic_time_off_mechanic_period_idx ON app.mechanic_time_off USING gist (mechanic_id, period);
ALTER TABLE app.mechanic_time_off ENABLE ROW LEVEL SECURITY;

-- Sessions: every consultation, immediate or scheduled, AND slot holds (status 'held').
-- Holds live in this table on purpose: one exclusion constraint then makes holds and bookings block
-- each other, converting a hold is an UPDATE of the same row (the slot is never free in between),
-- and a reschedule is a single-row UPDATE (new slot claimed and old released in one statement).
-- A hold has no type/concern yet; those become mandatory once it is a real session.
CREATE TABLE app.sessions (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id          uuid NOT NULL REFERENCES app.users (id),
  mechanic_id          uuid REFERENCES app.mechanics (user_id),
  plan_code            text NOT NULL REFERENCES app.plans (code),
  type                 text,
  service_mode         text NOT NULL DEFAULT 'online',
  vehicle_id           uuid REFERENCES app.vehicles (id),
  is_advice_only       boolean NOT NULL DEFAULT false,
  concern              text,
  concern_category     text,
  is_urgent            boolean NOT NULL DEFAULT false,
  preparation_notes    text,
  special_requests     text,
  file_refs            jsonb NOT NULL DEFAULT '[]',
  scheduled_for        timestamptz,           -- NULL = immediate
  ends_at              timestamptz NOT NULL,  -- start + plan duration
  status               text NOT NULL,
  cancel_reason        text,
  hold_expires_at      timestamptz,           -- only for status 'held'
  metadata             jsonb NOT NULL DEFAULT '{}',
  matching_will_run_at timestamptz,           -- deferred matching (scheduled, no mechanic chosen)
  started_at           timestamptz,
  completed_at         timestamptz,
  cancelled_at         timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  -- The time the session occupies; immediate sessions occupy [created_at, ends_at).
  period               tstzrange GENERATED ALWAYS AS (tstzrange(coalesce(scheduled_for, created_at), ends_at, '[)')) STORED,
  CONSTRAINT sessions_type_valid CHECK (type IN ('chat', 'video', 'diagnostic')),
  CONSTRAINT sessions_service_mode_valid CHECK (service_mode IN ('online', 'in_person')),
  CONSTRAINT sessions_concern_category_valid
    CHECK (concern_category IN ('diagnostic', 'repair', 'maintenance', 'inspection', 'consultation')),
  CONSTRAINT sessions_status_valid
    CHECK (status IN ('held', 'pending', 'scheduled', 'waiting', 'active', 'completed', 'cancelled')),
  CONSTRAINT sessions_cancel_reason_valid
    CHECK (cancel_reason IN ('customer', 'mechanic', 'no_show', 'payment_failed', 'expired', 'admin')),
  CONSTRAINT sessions_cancel_reason_iff_cancelled CHECK ((status = 'cancelled') = (cancel_reason IS NOT NULL)),
  -- a hold (type NULL) stays incomplete when it lapses or is given back
  CONSTRAINT sessions_complete_unless_held
    CHECK (status = 'held' OR (status = 'cancelled' AND hold_expires_at IS NOT NULL AND type IS NULL)
           OR (type IS NOT NULL AND concern IS NOT NULL AND concern_category IS NOT NULL)),
  CONSTRAINT sessions_vehicle_unless_advice CHECK (status = 'held' OR is_advice_only OR vehicle_id IS NOT NULL
    OR status IN ('completed', 'cancelled')),
  CONSTRAINT sessions_hold_shape CHECK (status <> 'held'
    OR (hold_expires_at IS NOT NULL AND mechanic_id IS NOT NULL AND scheduled_for IS NOT NULL)),
  CONSTRAINT sessions_urgent_only_immediate CHECK (NOT is_urgent OR scheduled_for IS NULL),
  CONSTRAINT sessions_ends_after_start CHECK (ends_at > coalesce(scheduled_for, created_at)),
  CONSTRAINT sessions_file_refs_array CHECK (jsonb_typeof(file_refs) = 'array'),
  CONSTRAINT sessions_metadata_object CHECK (jsonb_typeof(metadata) = 'object'),
  -- THE guarantee against double booking (holds included). Expired holds still count until they are
  -- released; booking functions release the expired holds in their way first (same transaction).
  CONSTRAINT sessions_no_mechanic_overlap EXCLUDE USING gist (mechanic_id WITH =, period WITH &&)
    WHERE (mechanic_id IS NOT NULL AND status IN ('held', 'scheduled', 'pending', 'waiting', 'active')),
  CONSTRAINT sessions_no_customer_overlap EXCLUDE USING gist (customer_id WITH =, period WITH &&)
    WHERE (status IN ('held', 'scheduled', 'pending', 'waiting', 'active'))
);
CREATE INDEX sessions_customer_id_idx ON app.sessions (customer_id, scheduled_for);
CREATE INDEX sessions_mechanic_id_idx ON app.sessions (mechanic_id, scheduled_for);
CREATE INDEX sessions_vehicle_id_idx ON app.sessions (vehicle_id);
CREATE INDEX sessions_status_scheduled_for_idx ON app.sessions (status, scheduled_for);
CREATE INDEX sessions_held_expiry_idx ON app.sessions (hold_expires_at) WHERE status = 'held';
CREATE INDEX sessions_matching_due_idx ON app.sessions (matching_will_run_at)
  WHERE matching_will_run_at IS NOT NULL AND mechanic_id IS NULL;
ALTER TABLE app.sessions ENABLE ROW LEVEL SECURITY;

-- Which mechanic a session is offered to / booked with. 'scheduled' = targeted booking of a chosen
-- mechanic; 'offered' etc. belong to matching.
CREATE TABLE app.session_assignments (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id    uuid NOT NULL REFERENCES app.sessions (id) ON DELETE CASCADE,
  mechanic_id   uuid NOT NULL REFERENCES app.mechanics (user_id) ON DELETE CASCADE,
  status        text NOT NULL,
  priority      text NOT NULL DEFAULT 'medium',
  match_score   numeric,
  match_reasons jsonb NOT NULL DEFAULT '[]',
  offered_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  responded_at  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT session_assignments_status_valid
    CHECK (status IN ('scheduled', 'offered', 'accepted', 'declined', 'expired', 'withdrawn')),
  CONSTRAINT session_assignments_priority_valid CHECK (priority IN ('high', 'medium', 'low')),
  CONSTRAINT session_assignments_one_per_mechanic UNIQUE (session_id, mechanic_id)
);
CREATE INDEX session_assignments_mechanic_id_idx ON app.session_assignments (mechanic_id, status);
ALTER TABLE app.session_assignments ENABLE ROW LEVEL SECURITY;

-- Append-only audit log (a trigger forbids UPDATE/DELETE/TRUNCATE).
CREATE TABLE app.session_events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES app.sessions (id),
  event_type  text NOT NULL,
  from_status text,
  to_status   text,
  actor_id    uuid,
  actor_role  text,
  metadata    jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX session_events_session_id_idx ON app.session_events (session_id, id);
ALTER TABLE app.session_events ENABLE ROW LEVEL SECURITY;

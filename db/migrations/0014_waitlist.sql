-- depends: 0011_browser_reality
-- The waitlist (band 70): customers who found no mechanic on shift wait in arrival order; a mechanic
-- coming on shift hands out at most their capacity of short "turns" (see docs/waitlist.md).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The waitlist's rules with numbers in them: ONE row, changed by admins (api.set_waitlist_settings).
CREATE TABLE app.waitlist_settings (
  id                     boolean PRIMARY KEY DEFAULT true,
  customers_per_mechanic int NOT NULL DEFAULT 1,                 -- turns one on-shift mechanic offers at once
  turn_duration          interval NOT NULL DEFAULT '10 minutes', -- a notified customer's time to request a session
  max_wait               interval NOT NULL DEFAULT '2 hours',    -- pending entries older than this expire
  updated_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT waitlist_settings_single_row CHECK (id),
  CONSTRAINT waitlist_settings_sensible CHECK (customers_per_mechanic BETWEEN 1 AND 100
    AND turn_duration BETWEEN interval '1 minute' AND interval '1 day'
    AND max_wait BETWEEN interval '5 minutes' AND interval '7 days')
);
INSERT INTO app.waitlist_settings DEFAULT VALUES;
ALTER TABLE app.waitlist_settings ENABLE ROW LEVEL SECURITY;

-- One row per time a customer joined. pending -> notified (their turn, with the mechanic who came
-- on shift) -> fulfilled (they requested an immediate session) | expired (turn lapsed, or waited
-- longer than max_wait) | cancelled (they left). closed_at/close_reason say when and why it ended.
CREATE TABLE app.waitlist_entries (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id          uuid NOT NULL REFERENCES app.customers (user_id) ON DELETE CASCADE,
  concern              text NOT NULL,
  vehicle_id           uuid REFERENCES app.vehicles (id) ON DELETE SET NULL,
  plan_code            text NOT NULL REFERENCES app.plans (code),
  status               text NOT NULL DEFAULT 'pending',
  created_at           timestamptz NOT NULL DEFAULT now(),
  notified_at          timestamptz,
  notified_mechanic_id uuid REFERENCES app.mechanics (user_id) ON DELETE SET NULL,
  turn_expires_at      timestamptz,
  closed_at            timestamptz,
  close_reason         text,
  session_id           uuid REFERENCES app.sessions (id) ON DELETE SET NULL,  -- the session that fulfilled it
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT waitlist_entries_status_valid
    CHECK (status IN ('pending', 'notified', 'expired', 'cancelled', 'fulfilled')),
  CONSTRAINT waitlist_entries_concern_present CHECK (btrim(concern) <> '' AND length(concern) <= 5000),
  CONSTRAINT waitlist_entries_turn_shape
    CHECK (status <> 'notified' OR (notified_at IS NOT NULL AND turn_expires_at IS NOT NULL)),
  CONSTRAINT waitlist_entries_closed_iff_final CHECK ((status IN ('pending', 'notified')) = (closed_at IS NULL)),
  CONSTRAINT waitlist_entries_close_reason_valid CHECK (
    (status IN ('pending', 'notified') AND close_reason IS NULL)
    OR (status = 'expired' AND close_reason IN ('max_wait', 'turn_lapsed'))
    OR (status = 'cancelled' AND close_reason IN ('customer', 'admin'))
    OR (status = 'fulfilled' AND close_reason = 'session'))
);
-- THE rule "one active entry per customer": a constraint, so two joins racing cannot both insert.
CREATE UNIQUE INDEX waitlist_entries_one_active_per_customer ON app.waitlist_entries (customer_id)
  WHERE status IN ('pending', 'notified');
-- The queue in arrival order (id breaks ties): what a mechanic coming on shift reads first.
CREATE INDEX waitlist_entries_queue ON app.waitlist_entries (created_at, id) WHERE status = 'pending';
-- Open turns: per mechanic (capacity) and by end (the lapse job).
CREATE INDEX waitlist_entries_turns_by_mechanic ON app.waitlist_entries (notified_mechanic_id) WHERE status = 'notified';
CREATE INDEX waitlist_entries_turns_by_expiry ON app.waitlist_entries (turn_expires_at) WHERE status = 'notified';
-- The customer's history (my status, RLS) and the foreign keys that cascade.
CREATE INDEX waitlist_entries_customer_idx ON app.waitlist_entries (customer_id, created_at);
CREATE INDEX waitlist_entries_vehicle_idx ON app.waitlist_entries (vehicle_id) WHERE vehicle_id IS NOT NULL;
CREATE INDEX waitlist_entries_session_idx ON app.waitlist_entries (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX waitlist_entries_mechanic_idx ON app.waitlist_entries (notified_mechanic_id)
  WHERE notified_mechanic_id IS NOT NULL;
ALTER TABLE app.waitlist_entries ENABLE ROW LEVEL SECURITY;

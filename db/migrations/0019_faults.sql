-- depends: 0018_waivers
-- Surviving faults (issue 15), the tables' side:
-- * lanes: the outbox kinds' `lane` becomes a row with its own concurrency budget, so each lane
--   (stripe, email, default) runs in its own loop of the worker and a stalled dependency holds only
--   its own lane; the kinds reference their lane;
-- * worker heartbeats carry `alive_until` (heartbeat time + the worker's time to live), so a worker
--   that died stops counting as alive within one heartbeat period;
-- * the claim filters by kind (one lane's kinds), served by a partial index on (kind, run_after, id).
-- The worker functions gain parameters (lanes to claim, heartbeat time to live), so their old
-- signatures are dropped here and the idempotent files create the new ones.
-- squawk-ignore-file ban-drop-function
-- (the dropped functions are old signatures whose only caller, the worker, changes in the same commit)
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE app.outbox_lanes (
  lane        text PRIMARY KEY,
  -- effects of this lane one worker process runs at once (each in its own thread)
  concurrency integer NOT NULL DEFAULT 2,
  description text NOT NULL DEFAULT '',
  CONSTRAINT outbox_lanes_lane_format CHECK (lane ~ '^[a-z_]+$'),
  CONSTRAINT outbox_lanes_concurrency_range CHECK (concurrency BETWEEN 1 AND 64)
);
ALTER TABLE app.outbox_lanes ENABLE ROW LEVEL SECURITY;

INSERT INTO app.outbox_lanes (lane, concurrency, description) VALUES
  ('default', 2, 'Effects that call nothing outside (noop).'),
  ('stripe', 4, 'Calls to Stripe (charges, refunds, intent cancels, state lookups).'),
  ('email', 4, 'Messages to the SMTP server.')
ON CONFLICT (lane) DO NOTHING;
-- Any lane a kind already names (a registry edited by hand) gets a row too, so the key validates.
INSERT INTO app.outbox_lanes (lane) SELECT DISTINCT k.lane FROM app.outbox_kinds k ON CONFLICT (lane) DO NOTHING;

-- The registry is small (one row per kind): validating at once blocks nothing that matters.
ALTER TABLE app.outbox_kinds ADD CONSTRAINT outbox_kinds_lane_exists
  FOREIGN KEY (lane) REFERENCES app.outbox_lanes (lane) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.outbox_kinds VALIDATE CONSTRAINT outbox_kinds_lane_exists;

ALTER TABLE app.worker_heartbeats ADD COLUMN alive_until timestamptz;

-- A lane's claim reads only its kinds' due rows.
CREATE INDEX outbox_pending_kind_due ON app.outbox (kind, run_after, id) WHERE status = 'pending';

DROP FUNCTION IF EXISTS api.outbox_claim(text, integer, integer);
DROP FUNCTION IF EXISTS api.worker_started(text, text, integer, jsonb);
DROP FUNCTION IF EXISTS api.worker_heartbeat(text, jsonb, boolean);
DROP FUNCTION IF EXISTS api.outbox_kinds();

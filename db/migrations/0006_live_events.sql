-- depends: 0005_trusted_clock
-- Live events for the dashboards (SSE): one row per event, written in the same transaction as the
-- change it reports, addressed to the users who may see it. NOTIFY is only a wake-up; the API's one
-- listening connection per process reads rows past its watermark and fans them out, and a client
-- that reconnects with Last-Event-ID is replayed from this table within the retention window.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE app.live_events (
  id          bigserial PRIMARY KEY,
  kind        text NOT NULL,                -- e.g. offer.created, offer.withdrawn, session.status
  audience    uuid[] NOT NULL,              -- the users (app.users.id) who receive it
  session_id  uuid,
  payload     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT live_events_kind_format CHECK (kind ~ '^[a-z_]+(\.[a-z_]+)*$'),
  CONSTRAINT live_events_has_audience CHECK (cardinality(audience) > 0),
  CONSTRAINT live_events_payload_object CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX live_events_audience_idx ON app.live_events USING gin (audience);
CREATE INDEX live_events_created_at_idx ON app.live_events (created_at);
ALTER TABLE app.live_events ENABLE ROW LEVEL SECURITY;

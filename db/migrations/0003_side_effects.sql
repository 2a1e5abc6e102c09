-- depends: 0002_booking
-- Side effects: the durable outbox, worker heartbeats, Stripe payments and refunds, webhook
-- events, calendar-invite sequences and reminders.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The outbox: one row per side effect (charge, refund, email), written in the same transaction
-- as the state change that needs it. The idempotency key says what the effect is *for*
-- (e.g. `charge:<session>:deposit`); the same key is sent to Stripe, so a retried or re-run
-- job never does the effect twice.
CREATE TABLE app.outbox (
  id              bigserial PRIMARY KEY,
  kind            text NOT NULL,
  idempotency_key text NOT NULL,
  payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
  status          text NOT NULL DEFAULT 'pending',
  attempts        integer NOT NULL DEFAULT 0,
  max_attempts    integer NOT NULL DEFAULT 8,
  run_after       timestamptz NOT NULL DEFAULT now(),
  leased_until    timestamptz,
  locked_by       text,
  last_error      text,
  result          jsonb,
  session_id      uuid,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  done_at         timestamptz,
  CONSTRAINT outbox_idempotency_key_unique UNIQUE (idempotency_key),
  CONSTRAINT outbox_kind_is_known CHECK (kind IN ('stripe.charge', 'stripe.refund', 'email.send', 'noop')),
  CONSTRAINT outbox_status_is_known CHECK (status IN ('pending', 'running', 'done', 'dead')),
  CONSTRAINT outbox_attempts_in_range CHECK (attempts >= 0 AND max_attempts >= 1),
  CONSTRAINT outbox_running_has_lease CHECK (status <> 'running' OR (leased_until IS NOT NULL AND locked_by IS NOT NULL)),
  CONSTRAINT outbox_done_has_time CHECK ((status = 'done') = (done_at IS NOT NULL))
);
-- The claim query reads these two partial indexes only; done rows never slow it down.
CREATE INDEX outbox_pending_due ON app.outbox (run_after, id) WHERE status = 'pending';
CREATE INDEX outbox_running_lease ON app.outbox (leased_until) WHERE status = 'running';
CREATE INDEX outbox_dead ON app.outbox (updated_at) WHERE status = 'dead';
CREATE INDEX outbox_done_at ON app.outbox (done_at) WHERE status = 'done';
CREATE INDEX outbox_session ON app.outbox (session_id) WHERE session_id IS NOT NULL;
ALTER TABLE app.outbox ENABLE ROW LEVEL SECURITY;

-- One row per worker process; /health reads the heartbeat.
CREATE TABLE app.worker_heartbeats (
  worker_id    text PRIMARY KEY,
  hostname     text,
  pid          integer,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at   timestamptz,
  info         jsonb NOT NULL DEFAULT '{}'::jsonb
);
ALTER TABLE app.worker_heartbeats ENABLE ROW LEVEL SECURITY;

-- Payments: one row per charge (the plan's scheduled_payments). The idempotency key is the
-- purpose (`charge:<session>:<type>`), so one session has at most one charge of each type.
CREATE TABLE app.scheduled_payments (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id          uuid NOT NULL REFERENCES app.sessions (id) ON DELETE CASCADE,
  customer_id         uuid NOT NULL REFERENCES app.users (id),
  payment_intent_id   text,
  client_secret       text,
  amount_cents        integer NOT NULL,
  currency            text NOT NULL DEFAULT 'usd',
  payment_type        text NOT NULL,
  status              text NOT NULL DEFAULT 'pending',
  -- refunded or in flight (reserved when the refund is requested, released if it fails for good)
  refund_amount_cents integer NOT NULL DEFAULT 0,
  refund_reason       text,
  refunded_at         timestamptz,
  charged_at          timestamptz,
  failed_at           timestamptz,
  failure_message     text,
  idempotency_key     text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT scheduled_payments_idempotency_key_unique UNIQUE (idempotency_key),
  CONSTRAINT scheduled_payments_payment_intent_unique UNIQUE (payment_intent_id),
  CONSTRAINT scheduled_payments_valid_payment_type CHECK (payment_type IN ('full', 'deposit', 'balance')),
  CONSTRAINT scheduled_payments_valid_status CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
  CONSTRAINT scheduled_payments_amount_positive CHECK (amount_cents > 0),
  -- The database guarantee: we never refund (or send a refund for) more than was charged.
  CONSTRAINT scheduled_payments_refund_within_charge CHECK (refund_amount_cents BETWEEN 0 AND amount_cents)
);
CREATE INDEX scheduled_payments_session ON app.scheduled_payments (session_id);
CREATE INDEX scheduled_payments_customer ON app.scheduled_payments (customer_id);
CREATE INDEX scheduled_payments_status ON app.scheduled_payments (status);
ALTER TABLE app.scheduled_payments ENABLE ROW LEVEL SECURITY;

-- Refund ledger: one row per refund purpose (`refund:<session>:<tier>`). A trigger keeps
-- scheduled_payments.refund_amount_cents equal to the sum of live refunds, so the CHECK above
-- rejects any refund that would exceed the charge, even under concurrent requests (the payment
-- row is the lock).
CREATE TABLE app.payment_refunds (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  payment_id       uuid NOT NULL REFERENCES app.scheduled_payments (id) ON DELETE CASCADE,
  amount_cents     integer NOT NULL,
  reason           text NOT NULL,
  status           text NOT NULL DEFAULT 'requested',
  stripe_refund_id text,
  idempotency_key  text NOT NULL,
  requested_at     timestamptz NOT NULL DEFAULT now(),
  succeeded_at     timestamptz,
  failed_at        timestamptz,
  CONSTRAINT payment_refunds_idempotency_key_unique UNIQUE (idempotency_key),
  CONSTRAINT payment_refunds_stripe_refund_unique UNIQUE (stripe_refund_id),
  CONSTRAINT payment_refunds_amount_positive CHECK (amount_cents > 0),
  CONSTRAINT payment_refunds_valid_status CHECK (status IN ('requested', 'succeeded', 'failed'))
);
CREATE INDEX payment_refunds_payment ON app.payment_refunds (payment_id);
ALTER TABLE app.payment_refunds ENABLE ROW LEVEL SECURITY;

-- Stripe webhook events, recorded by event id: a replayed or duplicate event is a no-op.
CREATE TABLE app.stripe_events (
  id           text PRIMARY KEY,
  type         text NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  outcome      text,
  payload      jsonb NOT NULL
);
ALTER TABLE app.stripe_events ENABLE ROW LEVEL SECURITY;

-- Calendar invite state per session: a stable UID and a SEQUENCE bumped on every change, so
-- calendar clients apply reschedules and cancellations in order.
CREATE TABLE app.session_invites (
  session_id   uuid PRIMARY KEY REFERENCES app.sessions (id) ON DELETE CASCADE,
  uid          text NOT NULL,
  sequence     integer NOT NULL DEFAULT 0,
  method       text NOT NULL DEFAULT 'REQUEST',
  resend_count integer NOT NULL DEFAULT 0,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT session_invites_uid_unique UNIQUE (uid),
  CONSTRAINT session_invites_method_is_known CHECK (method IN ('REQUEST', 'CANCEL')),
  CONSTRAINT session_invites_sequence_non_negative CHECK (sequence >= 0)
);
ALTER TABLE app.session_invites ENABLE ROW LEVEL SECURITY;

-- Reminders: one row per session and kind, planned for one start time. A reschedule re-plans
-- the row (new start, sent/skipped cleared); a cancellation marks the unsent rows skipped
-- (app_private.stop_reminders; comment corrected after the fact, the DDL is unchanged).
CREATE TABLE app.session_reminders (
  session_id    uuid NOT NULL REFERENCES app.sessions (id) ON DELETE CASCADE,
  kind          text NOT NULL,
  scheduled_for timestamptz NOT NULL,
  due_at        timestamptz NOT NULL,
  sent_at       timestamptz,
  skipped_at    timestamptz,
  skip_reason   text,
  outbox_id     bigint,
  PRIMARY KEY (session_id, kind),
  CONSTRAINT session_reminders_kind_is_known CHECK (kind IN ('1d', '1h', '15m')),
  CONSTRAINT session_reminders_sent_or_skipped CHECK (sent_at IS NULL OR skipped_at IS NULL)
);
CREATE INDEX session_reminders_due ON app.session_reminders (due_at) WHERE sent_at IS NULL AND skipped_at IS NULL;
ALTER TABLE app.session_reminders ENABLE ROW LEVEL SECURITY;

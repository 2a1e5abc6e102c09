-- depends: 0020_matching
-- Money that is always accounted for (SPEC section 7): the money rules as versioned data
-- (deposit, platform commission, cancellation tiers), the policy version each session was booked
-- under, cancellations with their breakdown, and a double-entry ledger (accounts, transactions,
-- immutable entries). The rules that keep the ledger honest (balanced transactions, append-only
-- entries, trigger-kept balances) live in db/triggers/40_ledger.sql; docs/money.md explains it all.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- One row per version of the money rules. The version in force at an instant is the one with the
-- latest effective_from at or before it; a booking keeps the version in force when it was made.
-- A version is changed by adding a new one (rows of a version in force are immutable: trigger).
CREATE TABLE app.money_policy_versions (
  version        integer PRIMARY KEY,
  effective_from timestamptz NOT NULL,
  currency       text NOT NULL DEFAULT 'usd',
  deposit_cents  integer NOT NULL,             -- in-person deposit charged at booking
  commission_pct numeric(5, 2) NOT NULL,       -- platform's share of a completed session
  note           text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT money_policy_versions_effective_from_unique UNIQUE (effective_from),
  CONSTRAINT money_policy_versions_currency_format CHECK (currency ~ '^[a-z]{3}$'),
  CONSTRAINT money_policy_versions_deposit_not_negative CHECK (deposit_cents >= 0),
  CONSTRAINT money_policy_versions_commission_range CHECK (commission_pct BETWEEN 0 AND 100)
);
ALTER TABLE app.money_policy_versions ENABLE ROW LEVEL SECURITY;

-- Cancellation tiers of a version, per service mode. Lead-time tiers cover [min_lead, max_lead)
-- before the start (NULL = unbounded); reason tiers (no_show, missing_waiver) have no lead band.
-- Percentages apply to what was paid for the booking (card + credit); the fixed fee comes out of
-- the refund; whatever is not refunded, credited or the mechanic's is the platform's.
CREATE TABLE app.cancellation_policies (
  version      integer NOT NULL REFERENCES app.money_policy_versions (version),
  service_mode text NOT NULL,
  tier         text NOT NULL,
  min_lead     interval,
  max_lead     interval,
  refund_pct   numeric(5, 2) NOT NULL DEFAULT 0,
  fee_cents    integer NOT NULL DEFAULT 0,
  credit_pct   numeric(5, 2) NOT NULL DEFAULT 0,
  mechanic_pct numeric(5, 2) NOT NULL DEFAULT 0,
  description  text NOT NULL,
  PRIMARY KEY (version, service_mode, tier),
  CONSTRAINT cancellation_policies_service_mode_valid CHECK (service_mode IN ('online', 'in_person')),
  CONSTRAINT cancellation_policies_tier_format CHECK (tier ~ '^[a-z0-9_]+$'),
  CONSTRAINT cancellation_policies_shares_valid CHECK (refund_pct >= 0 AND credit_pct >= 0 AND mechanic_pct >= 0
    AND refund_pct + credit_pct + mechanic_pct <= 100 AND fee_cents >= 0),
  CONSTRAINT cancellation_policies_reason_tiers_have_no_band
    CHECK (tier NOT IN ('no_show', 'missing_waiver') OR (min_lead IS NULL AND max_lead IS NULL)),
  CONSTRAINT cancellation_policies_band_ordered CHECK (min_lead IS NULL OR max_lead IS NULL OR min_lead < max_lead)
);
ALTER TABLE app.cancellation_policies ENABLE ROW LEVEL SECURITY;

-- Version 1: SPEC section 7. Online: >= 24 h full refund minus a $5 fee; 2-24 h 75% refund, 25% to
-- the mechanic; < 2 h 50% credit, 50% mechanic. In person (the deposit): >= 24 h refunded; < 24 h
-- forfeited to the mechanic. No-show / missing waiver: 50% credit, 50% mechanic (in person: the
-- deposit goes to the mechanic). Commission: 20% of a completed session (plan: the platform fee).
INSERT INTO app.money_policy_versions (version, effective_from, currency, deposit_cents, commission_pct, note)
VALUES (1, '2000-01-01 00:00+00', 'usd', 1500, 20, 'SPEC section 7');
INSERT INTO app.cancellation_policies
  (version, service_mode, tier, min_lead, max_lead, refund_pct, fee_cents, credit_pct, mechanic_pct, description) VALUES
  (1, 'online', 'ge_24h', '24 hours', NULL, 100, 500, 0, 0, 'At least 24 hours before: full refund minus a $5 processing fee'),
  (1, 'online', '2h_24h', '2 hours', '24 hours', 75, 0, 0, 25, '2 to 24 hours before: 75% refund, 25% to the mechanic'),
  (1, 'online', 'lt_2h', NULL, '2 hours', 0, 0, 50, 50, 'Less than 2 hours before: 50% account credit, 50% to the mechanic'),
  (1, 'online', 'no_show', NULL, NULL, 0, 0, 50, 50, 'No-show: 50% account credit, 50% to the mechanic'),
  (1, 'online', 'missing_waiver', NULL, NULL, 0, 0, 50, 50, 'Waiver not signed: 50% account credit, 50% to the mechanic'),
  (1, 'in_person', 'ge_24h', '24 hours', NULL, 100, 0, 0, 0, 'At least 24 hours before: the deposit is refunded in full'),
  (1, 'in_person', 'lt_24h', NULL, '24 hours', 0, 0, 0, 100, 'Less than 24 hours before: the deposit is forfeited to the mechanic'),
  (1, 'in_person', 'no_show', NULL, NULL, 0, 0, 0, 100, 'No-show: the deposit is forfeited to the mechanic'),
  (1, 'in_person', 'missing_waiver', NULL, NULL, 0, 0, 0, 100, 'Waiver not signed: the deposit is forfeited to the mechanic');

-- The version a session was booked under (set by a band-40 trigger on INSERT from the trusted
-- clock; the default only covers rows that existed before this migration). NOT VALID: the
-- existing rows all carry version 1 (the default, inserted above), new and updated rows are checked,
-- and validating would lock the sessions table against reads while it scans.
ALTER TABLE app.sessions ADD COLUMN money_policy_version integer NOT NULL DEFAULT 1;
ALTER TABLE app.sessions ADD CONSTRAINT sessions_money_policy_version_fkey
  FOREIGN KEY (money_policy_version) REFERENCES app.money_policy_versions (version) NOT VALID;

-- The $15 constant is replaced by the policy data (app_private.session_deposit_cents).
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS app_private.payment_deposit_cents();

-- One row per policy cancellation: the breakdown decided at that moment (the receipt). A session
-- is cancelled under a policy at most once (primary key), so cancelling twice refunds once.
CREATE TABLE app.session_cancellations (
  session_id     uuid PRIMARY KEY REFERENCES app.sessions (id),
  policy_version integer NOT NULL,
  service_mode   text NOT NULL,
  tier           text NOT NULL,
  reason         text NOT NULL,                 -- customer | admin | no_show | missing_waiver
  note           text,
  lead_seconds   bigint NOT NULL,               -- scheduled start minus the cancellation instant
  currency       text NOT NULL,
  paid_cents     integer NOT NULL,              -- card + credit paid for the booking
  refund_cents   integer NOT NULL,              -- back to the card
  fee_cents      integer NOT NULL,              -- processing fee kept (part of platform_cents)
  credit_cents   integer NOT NULL,              -- to the customer's account credit
  mechanic_cents integer NOT NULL,
  platform_cents integer NOT NULL,
  cancelled_by   uuid,
  cancelled_at   timestamptz NOT NULL,
  CONSTRAINT session_cancellations_reason_valid CHECK (reason IN ('customer', 'admin', 'no_show', 'missing_waiver')),
  CONSTRAINT session_cancellations_amounts_not_negative CHECK (paid_cents >= 0 AND refund_cents >= 0 AND fee_cents >= 0
    AND credit_cents >= 0 AND mechanic_cents >= 0 AND platform_cents >= 0 AND fee_cents <= platform_cents),
  -- conservation, decided once and kept: every cent paid goes somewhere
  CONSTRAINT session_cancellations_conserved
    CHECK (paid_cents = refund_cents + credit_cents + mechanic_cents + platform_cents),
  CONSTRAINT session_cancellations_policy_fkey FOREIGN KEY (policy_version, service_mode, tier)
    REFERENCES app.cancellation_policies (version, service_mode, tier)
);
ALTER TABLE app.session_cancellations ENABLE ROW LEVEL SECURITY;

-- Ledger accounts. Kinds: customer_card (the customer's card, outside: goes negative by what the
-- card paid in), customer_credit (account credit we owe the customer, never negative), session (money
-- paid for one session and not yet distributed), mechanic_payable (what we owe a mechanic),
-- platform_revenue (fees and commission), stripe_clearing (refunds sent to Stripe and not yet
-- confirmed). owner_id: the customer, session or mechanic; NULL for the two platform accounts.
-- balance_cents and version are kept by the entries trigger (pgledger's design) and checked
-- against the entries by api.reconcile_payments(). Platform accounts are "hot" (every cancellation
-- and completion touches them): they keep no balance row to lock, their balance is the sum.
CREATE TABLE app.ledger_accounts (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind          text NOT NULL,
  owner_id      uuid,
  currency      text NOT NULL,
  balance_cents bigint NOT NULL DEFAULT 0,
  version       bigint NOT NULL DEFAULT 0,      -- entries posted to it (kept accounts)
  keeps_balance boolean NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ledger_accounts_kind_valid CHECK (kind IN ('customer_card', 'customer_credit', 'session', 'mechanic_payable',
                                                        'platform_revenue', 'stripe_clearing')),
  CONSTRAINT ledger_accounts_owner_matches_kind
    CHECK ((owner_id IS NULL) = (kind IN ('platform_revenue', 'stripe_clearing'))),
  CONSTRAINT ledger_accounts_hot_are_platform CHECK (keeps_balance = (kind NOT IN ('platform_revenue', 'stripe_clearing'))),
  CONSTRAINT ledger_accounts_currency_format CHECK (currency ~ '^[a-z]{3}$'),
  -- Only the card (outside money) and a session pot (an external refund after the money was shared
  -- out; reconciliation reports it) can go below zero. Credit can never be overspent.
  CONSTRAINT ledger_accounts_balance_not_negative CHECK (kind IN ('customer_card', 'session') OR balance_cents >= 0),
  CONSTRAINT ledger_accounts_one_per_owner UNIQUE NULLS NOT DISTINCT (kind, owner_id, currency)
);
CREATE INDEX ledger_accounts_owner ON app.ledger_accounts (owner_id);
ALTER TABLE app.ledger_accounts ENABLE ROW LEVEL SECURITY;

-- A money event: one balanced group of entries. The idempotency key says what the event is
-- (`charge:<payment>`, `cancellation:<session>`...): posting the same event twice posts it once.
CREATE TABLE app.ledger_transactions (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL,
  idempotency_key text NOT NULL,
  session_id      uuid,
  payment_id      uuid,
  refund_id       uuid,
  currency        text NOT NULL,
  memo            jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by      uuid,
  created_at      timestamptz NOT NULL,
  CONSTRAINT ledger_transactions_idempotency_key_unique UNIQUE (idempotency_key),
  CONSTRAINT ledger_transactions_kind_valid CHECK (kind IN ('charge_succeeded', 'refund_requested', 'refund_succeeded',
    'refund_failed', 'credit_spent', 'credit_returned', 'credit_adjusted', 'cancellation', 'completion')),
  CONSTRAINT ledger_transactions_memo_object CHECK (jsonb_typeof(memo) = 'object')
);
CREATE INDEX ledger_transactions_session ON app.ledger_transactions (session_id);
CREATE INDEX ledger_transactions_payment ON app.ledger_transactions (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX ledger_transactions_refund ON app.ledger_transactions (refund_id) WHERE refund_id IS NOT NULL;
ALTER TABLE app.ledger_transactions ENABLE ROW LEVEL SECURITY;

-- Immutable entries. amount_cents > 0 adds to the account, < 0 takes from it; a transaction's
-- entries sum to zero (deferred constraint trigger). For kept accounts the trigger records the
-- account's version and balance after the entry, so history and balance-at-a-time are one index
-- read (pgledger's entries); hot platform accounts record NULL there.
CREATE TABLE app.ledger_entries (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id      bigint NOT NULL REFERENCES app.ledger_transactions (id),
  account_id          bigint NOT NULL REFERENCES app.ledger_accounts (id),
  amount_cents        bigint NOT NULL,
  currency            text NOT NULL,
  account_version     bigint,
  balance_after_cents bigint,
  created_at          timestamptz NOT NULL,
  CONSTRAINT ledger_entries_amount_not_zero CHECK (amount_cents <> 0)
);
CREATE INDEX ledger_entries_account ON app.ledger_entries (account_id, id);
CREATE INDEX ledger_entries_transaction ON app.ledger_entries (transaction_id);
ALTER TABLE app.ledger_entries ENABLE ROW LEVEL SECURITY;

-- depends: 0021_money
-- Matching that gives up refunds: a scheduled booking no mechanic took (the last round ended, or
-- its start passed without one) is cancelled under a new reason tier `unmatched` of the money
-- policy (100% back, no fee, no mechanic share): data, like every other tier, so a later policy
-- version says what it refunds. Every existing version gets the tier (full refund).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- reason tiers have no lead band: unmatched is one of them (a widened CHECK: the small policy table
-- is checked at once)
-- squawk-ignore ban-drop-constraint
ALTER TABLE app.cancellation_policies DROP CONSTRAINT cancellation_policies_reason_tiers_have_no_band;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.cancellation_policies ADD CONSTRAINT cancellation_policies_reason_tiers_have_no_band
  CHECK (tier NOT IN ('no_show', 'missing_waiver', 'unmatched') OR (min_lead IS NULL AND max_lead IS NULL));

-- A version in force is immutable (trigger cancellation_policies_10_guard, db/triggers/40_ledger.sql)
-- because bookings were made under its terms. Adding the unmatched tier changes none of those
-- terms (it covers a case no tier covered: the platform failing to find a mechanic), so the guard
-- (and the deferred completeness check, which the new tier cannot break) is set aside for this one
-- insert; on a fresh database neither exists yet.
ALTER TABLE app.cancellation_policies DISABLE TRIGGER USER;
INSERT INTO app.cancellation_policies
  (version, service_mode, tier, min_lead, max_lead, refund_pct, fee_cents, credit_pct, mechanic_pct, description)
SELECT v.version, m.mode, 'unmatched', NULL, NULL, 100, 0, 0, 0,
       'No mechanic took the booking: everything paid is returned (the card refunded, credit given back)'
FROM app.money_policy_versions v CROSS JOIN (VALUES ('online'), ('in_person')) m (mode)
ON CONFLICT DO NOTHING;
ALTER TABLE app.cancellation_policies ENABLE TRIGGER USER;

-- a policy cancellation's reason: unmatched (matching gave up) joins the others (widened)
-- squawk-ignore ban-drop-constraint
ALTER TABLE app.session_cancellations DROP CONSTRAINT session_cancellations_reason_valid;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.session_cancellations ADD CONSTRAINT session_cancellations_reason_valid
  CHECK (reason IN ('customer', 'admin', 'no_show', 'missing_waiver', 'unmatched'));

-- Reverts 0022_matching_unmatched_refund: the unmatched tier and reason, the functions and the
-- trigger the band-60 files added with it (the previous version's idempotent files bring back the
-- functions it replaced). Fails on purpose while a cancellation under the unmatched tier exists
-- (its receipt references the tier): the previous version cannot represent it.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS sessions_50_status_event ON app.sessions;
DROP FUNCTION IF EXISTS app_private.sessions_status_event();
DROP FUNCTION IF EXISTS app_private.refund_unmatched(uuid);
DROP FUNCTION IF EXISTS app_private.unmatched_choices();

ALTER TABLE app.session_cancellations DROP CONSTRAINT session_cancellations_reason_valid;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE app.session_cancellations ADD CONSTRAINT session_cancellations_reason_valid
  CHECK (reason IN ('customer', 'admin', 'no_show', 'missing_waiver'));

ALTER TABLE app.cancellation_policies DISABLE TRIGGER USER;
DELETE FROM app.cancellation_policies WHERE tier = 'unmatched';
ALTER TABLE app.cancellation_policies ENABLE TRIGGER USER;
ALTER TABLE app.cancellation_policies DROP CONSTRAINT cancellation_policies_reason_tiers_have_no_band;
ALTER TABLE app.cancellation_policies ADD CONSTRAINT cancellation_policies_reason_tiers_have_no_band
  CHECK (tier NOT IN ('no_show', 'missing_waiver') OR (min_lead IS NULL AND max_lead IS NULL));

-- Reverts 0012_money: the ledger, cancellations, the policy tables and the sessions' policy column,
-- with every function, trigger and policy the band-40 money files created on them.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS sessions_40_money_policy ON app.sessions;
DROP TRIGGER IF EXISTS sessions_40_money ON app.sessions;
DROP TRIGGER IF EXISTS scheduled_payments_40_ledger ON app.scheduled_payments;
DROP TRIGGER IF EXISTS payment_refunds_40_ledger ON app.payment_refunds;
DROP TABLE app.ledger_entries;
DROP TABLE app.ledger_transactions;
DROP TABLE app.ledger_accounts;
DROP TABLE app.session_cancellations;
ALTER TABLE app.sessions DROP COLUMN money_policy_version;
DROP TABLE app.cancellation_policies;
DROP TABLE app.money_policy_versions;

-- Reverts 0021_money: the ledger, cancellations, the policy tables and the sessions' policy column,
-- with every function, trigger and job the band-40 money files created. The previous version's
-- idempotent files (re-applied after a rollback, docs/migrations.md) bring back what 0021 replaced
-- (the $15 app_private.payment_deposit_cents(), the charge functions without credit).
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
    PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = 'autodoc-reconcile-payments';
  END IF;
END
$$;

DROP TRIGGER IF EXISTS sessions_40_money_policy ON app.sessions;
DROP TRIGGER IF EXISTS sessions_95_money ON app.sessions;
DROP TRIGGER IF EXISTS scheduled_payments_40_ledger ON app.scheduled_payments;
DROP TRIGGER IF EXISTS payment_refunds_40_ledger ON app.payment_refunds;
DROP TRIGGER IF EXISTS customers_40_credit_to_ledger ON app.customers;

DROP FUNCTION IF EXISTS api.reconcile_payments_daily();
DROP FUNCTION IF EXISTS api.reconcile_payments();
DROP FUNCTION IF EXISTS api.cancel_session(uuid, text);
DROP FUNCTION IF EXISTS api.cancellation_quote(uuid);
DROP FUNCTION IF EXISTS api.my_credit(integer);
DROP FUNCTION IF EXISTS api.my_earnings(timestamptz, timestamptz);
DROP FUNCTION IF EXISTS api.money_policy(integer);
DROP FUNCTION IF EXISTS app_private.cancellable_session(uuid);
DROP FUNCTION IF EXISTS app_private.cancel_with_policy(uuid, text, text);
DROP FUNCTION IF EXISTS app_private.cancellation_receipt(uuid);
DROP FUNCTION IF EXISTS app_private.cancellation_breakdown(app.sessions, text, timestamptz);
DROP FUNCTION IF EXISTS app_private.cancellation_tier(app.sessions, text, timestamptz);
DROP FUNCTION IF EXISTS app_private.settle_completed(uuid);
DROP FUNCTION IF EXISTS app_private.credit_adjusted(uuid, bigint);
DROP FUNCTION IF EXISTS app_private.return_session_credit(uuid);
DROP FUNCTION IF EXISTS app_private.session_credit_spent(uuid, text);
DROP FUNCTION IF EXISTS app_private.charge_after_credit(uuid, text, integer);
DROP FUNCTION IF EXISTS app_private.ledger_refund_changed(uuid);
DROP FUNCTION IF EXISTS app_private.ledger_charge_succeeded(uuid);
DROP FUNCTION IF EXISTS app_private.customer_credit_cents(uuid);
DROP FUNCTION IF EXISTS app_private.session_pot_balance(uuid);
DROP FUNCTION IF EXISTS app_private.leg(text, uuid, bigint);
DROP FUNCTION IF EXISTS app_private.ledger_post(text, text, jsonb, uuid, uuid, uuid, jsonb, text);
DROP FUNCTION IF EXISTS app_private.account_balance(bigint);
DROP FUNCTION IF EXISTS app_private.ledger_account(text, uuid, text);
DROP FUNCTION IF EXISTS app_private.money_policy_problems(integer);
DROP FUNCTION IF EXISTS app_private.session_deposit_cents(uuid);
DROP FUNCTION IF EXISTS app_private.session_money_policy(uuid);
DROP FUNCTION IF EXISTS app_private.money_policy_version_at(timestamptz);

-- one statement: the ledger tables' policies refer to each other
DROP TABLE app.ledger_entries, app.ledger_transactions, app.ledger_accounts;
DROP TABLE app.session_cancellations;
ALTER TABLE app.sessions DROP COLUMN money_policy_version;
DROP TABLE app.cancellation_policies;
DROP TABLE app.money_policy_versions;

DROP FUNCTION IF EXISTS app_private.ledger_entries_apply();
DROP FUNCTION IF EXISTS app_private.ledger_transaction_balanced();
DROP FUNCTION IF EXISTS app_private.ledger_append_only();
DROP FUNCTION IF EXISTS app_private.ledger_accounts_guard();
DROP FUNCTION IF EXISTS app_private.money_policy_guard();
DROP FUNCTION IF EXISTS app_private.money_policy_complete();
DROP FUNCTION IF EXISTS app_private.scheduled_payments_ledger();
DROP FUNCTION IF EXISTS app_private.payment_refunds_ledger();
DROP FUNCTION IF EXISTS app_private.customers_credit_to_ledger();
DROP FUNCTION IF EXISTS app_private.sessions_money_policy();
DROP FUNCTION IF EXISTS app_private.sessions_money();

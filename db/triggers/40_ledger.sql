-- Ledger guarantees and the money hooks (band 40). Triggers, so they hold for every writer —
-- functions, the worker, webhooks, a DBA in psql (the owner too):
--   * entries keep their account's balance and version (pgledger's running balance);
--   * a transaction whose entries do not sum to zero is rejected at commit (deferred);
--   * entries and transactions are append-only (UPDATE, DELETE, TRUNCATE refused);
--   * balances change only through entries;
--   * policy versions in force are immutable, and every version is complete at commit;
--   * payments and refunds post their money events; sessions record their policy version, give
--     back credit when they end without a policy cancellation, and split a completed session.

------------------------------------------------------------------------------------------------
-- Entries and balances
------------------------------------------------------------------------------------------------

-- ledger_entries_apply(): BEFORE INSERT on app.ledger_entries. Checks the currency against the
-- account and the transaction, then (kept accounts) adds the amount to the account's balance and
-- version and records both on the entry; a credit account's new balance is mirrored onto
-- app.customers.credit_balance_cents. The account's CHECK refuses a negative credit, payable or
-- clearing balance (SQLSTATE 23514 ledger_accounts_balance_not_negative). Trigger only.
CREATE OR REPLACE FUNCTION app_private.ledger_entries_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_account app.ledger_accounts;
BEGIN
  SELECT * INTO v_account FROM app.ledger_accounts WHERE id = NEW.account_id;
  IF v_account.currency <> NEW.currency
     OR NEW.currency <> (SELECT t.currency FROM app.ledger_transactions t WHERE t.id = NEW.transaction_id) THEN
    RAISE EXCEPTION 'ledger entry currency % does not match its account or transaction', NEW.currency
      USING ERRCODE = '23514';
  END IF;
  IF v_account.keeps_balance THEN
    UPDATE app.ledger_accounts a
       SET balance_cents = a.balance_cents + NEW.amount_cents, version = a.version + 1, updated_at = NEW.created_at
     WHERE a.id = NEW.account_id
    RETURNING a.version, a.balance_cents INTO NEW.account_version, NEW.balance_after_cents;
    IF v_account.kind = 'customer_credit' THEN
      UPDATE app.customers c SET credit_balance_cents = NEW.balance_after_cents
       WHERE c.user_id = v_account.owner_id AND c.credit_balance_cents IS DISTINCT FROM NEW.balance_after_cents;
    END IF;
  ELSE
    NEW.account_version := NULL;
    NEW.balance_after_cents := NULL;
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS ledger_entries_10_apply ON app.ledger_entries;
CREATE TRIGGER ledger_entries_10_apply BEFORE INSERT ON app.ledger_entries
  FOR EACH ROW EXECUTE FUNCTION app_private.ledger_entries_apply();

-- ledger_transaction_balanced(): deferred constraint trigger (AFTER INSERT on app.ledger_entries,
-- checked at commit): the entries of the row's transaction must sum to zero and number at least
-- two. Raises SQLSTATE 23514 'unbalanced ledger transaction' (the whole commit fails). Trigger only.
CREATE OR REPLACE FUNCTION app_private.ledger_transaction_balanced() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_sum numeric;
  v_count bigint;
BEGIN
  SELECT coalesce(sum(e.amount_cents), 0), count(*) INTO v_sum, v_count
    FROM app.ledger_entries e WHERE e.transaction_id = NEW.transaction_id;
  IF v_sum <> 0 OR v_count < 2 THEN
    RAISE EXCEPTION 'unbalanced ledger transaction % (entries sum to %, % entries)', NEW.transaction_id, v_sum, v_count
      USING ERRCODE = '23514', HINT = 'ledger_unbalanced';
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS ledger_entries_20_balanced ON app.ledger_entries;
CREATE CONSTRAINT TRIGGER ledger_entries_20_balanced AFTER INSERT ON app.ledger_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app_private.ledger_transaction_balanced();

-- ledger_append_only(): entries and transactions are never changed or removed, by anyone (the
-- owner included: triggers apply to table owners). Raises 409 append_only. Trigger only.
CREATE OR REPLACE FUNCTION app_private.ledger_append_only() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  PERFORM app_private.raise_error(409, 'append_only', format('%s is append-only', TG_TABLE_NAME),
    jsonb_build_object('table', TG_TABLE_NAME, 'operation', TG_OP));
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS ledger_entries_00_append_only ON app.ledger_entries;
CREATE TRIGGER ledger_entries_00_append_only BEFORE UPDATE OR DELETE ON app.ledger_entries
  FOR EACH ROW EXECUTE FUNCTION app_private.ledger_append_only();
DROP TRIGGER IF EXISTS ledger_entries_00_no_truncate ON app.ledger_entries;
CREATE TRIGGER ledger_entries_00_no_truncate BEFORE TRUNCATE ON app.ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION app_private.ledger_append_only();
DROP TRIGGER IF EXISTS ledger_transactions_00_append_only ON app.ledger_transactions;
CREATE TRIGGER ledger_transactions_00_append_only BEFORE UPDATE OR DELETE ON app.ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION app_private.ledger_append_only();
DROP TRIGGER IF EXISTS ledger_transactions_00_no_truncate ON app.ledger_transactions;
CREATE TRIGGER ledger_transactions_00_no_truncate BEFORE TRUNCATE ON app.ledger_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION app_private.ledger_append_only();

-- ledger_accounts_guard(): BEFORE UPDATE OR DELETE on app.ledger_accounts. An account's identity
-- (kind, owner, currency, kept or hot) never changes, and its balance and version change only from
-- the entries trigger (pg_trigger_depth() > 1), never by a direct UPDATE. Accounts are never
-- deleted (TRUNCATE neither). Raises 409 append_only. Trigger only.
CREATE OR REPLACE FUNCTION app_private.ledger_accounts_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF TG_OP <> 'UPDATE'
     OR (NEW.kind, NEW.owner_id, NEW.currency, NEW.keeps_balance, NEW.created_at)
        IS DISTINCT FROM (OLD.kind, OLD.owner_id, OLD.currency, OLD.keeps_balance, OLD.created_at)
     OR ((NEW.balance_cents, NEW.version) IS DISTINCT FROM (OLD.balance_cents, OLD.version) AND pg_trigger_depth() < 2) THEN
    PERFORM app_private.raise_error(409, 'append_only', 'Ledger balances change only through journal entries',
      jsonb_build_object('table', TG_TABLE_NAME, 'operation', TG_OP));
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS ledger_accounts_00_guard ON app.ledger_accounts;
CREATE TRIGGER ledger_accounts_00_guard BEFORE UPDATE OR DELETE ON app.ledger_accounts
  FOR EACH ROW EXECUTE FUNCTION app_private.ledger_accounts_guard();
DROP TRIGGER IF EXISTS ledger_accounts_00_no_truncate ON app.ledger_accounts;
CREATE TRIGGER ledger_accounts_00_no_truncate BEFORE TRUNCATE ON app.ledger_accounts
  FOR EACH STATEMENT EXECUTE FUNCTION app_private.ledger_append_only();

------------------------------------------------------------------------------------------------
-- Policy versions
------------------------------------------------------------------------------------------------

-- money_policy_guard(): BEFORE INSERT OR UPDATE OR DELETE on app.money_policy_versions and
-- app.cancellation_policies. A version that is in force (effective_from <= now) or was is never
-- changed: bookings were made under it. Its rows may be written before it takes effect, or in the
-- transaction that created it. Raises 409 policy_in_force. Trigger only.
CREATE OR REPLACE FUNCTION app_private.money_policy_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_version integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.version ELSE NEW.version END;
  v_row app.money_policy_versions;
  v_created_here boolean;
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.version IS DISTINCT FROM NEW.version THEN
    v_version := OLD.version;
  END IF;
  SELECT * INTO v_row FROM app.money_policy_versions v WHERE v.version = v_version;
  -- the version row's creating transaction (xmin) is this one: it is still being filled in
  SELECT v.xmin::text::bigint = pg_current_xact_id()::text::bigint % 4294967296 INTO v_created_here
    FROM app.money_policy_versions v WHERE v.version = v_version;
  IF v_row.version IS NOT NULL AND v_row.effective_from <= app_private.now()
     AND NOT (TG_TABLE_NAME = 'money_policy_versions' AND TG_OP = 'INSERT')
     AND NOT v_created_here THEN
    PERFORM app_private.raise_error(409, 'policy_in_force',
      'This policy version is in force: bookings were made under it. Publish a new version instead.',
      jsonb_build_object('version', v_version, 'effective_from', v_row.effective_from));
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- money_policy_complete(): deferred constraint trigger: at commit, a version written in this
-- transaction must be complete (app_private.money_policy_problems). Raises 23514. Trigger only.
CREATE OR REPLACE FUNCTION app_private.money_policy_complete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_version integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.version ELSE NEW.version END;
  v_problems text[];
BEGIN
  IF NOT EXISTS (SELECT FROM app.money_policy_versions v WHERE v.version = v_version) THEN
    RETURN NULL;  -- the version itself is gone (a version not yet in force may be withdrawn)
  END IF;
  v_problems := app_private.money_policy_problems(v_version);
  IF cardinality(v_problems) > 0 THEN
    RAISE EXCEPTION 'money policy version % is incomplete: %', v_version, array_to_string(v_problems, '; ')
      USING ERRCODE = '23514', HINT = 'policy_incomplete';
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS money_policy_versions_10_guard ON app.money_policy_versions;
CREATE TRIGGER money_policy_versions_10_guard BEFORE INSERT OR UPDATE OR DELETE ON app.money_policy_versions
  FOR EACH ROW EXECUTE FUNCTION app_private.money_policy_guard();
DROP TRIGGER IF EXISTS money_policy_versions_20_complete ON app.money_policy_versions;
CREATE CONSTRAINT TRIGGER money_policy_versions_20_complete AFTER INSERT OR UPDATE OR DELETE ON app.money_policy_versions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app_private.money_policy_complete();
DROP TRIGGER IF EXISTS cancellation_policies_10_guard ON app.cancellation_policies;
CREATE TRIGGER cancellation_policies_10_guard BEFORE INSERT OR UPDATE OR DELETE ON app.cancellation_policies
  FOR EACH ROW EXECUTE FUNCTION app_private.money_policy_guard();
DROP TRIGGER IF EXISTS cancellation_policies_20_complete ON app.cancellation_policies;
CREATE CONSTRAINT TRIGGER cancellation_policies_20_complete AFTER INSERT OR UPDATE OR DELETE ON app.cancellation_policies
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION app_private.money_policy_complete();

------------------------------------------------------------------------------------------------
-- Money events from payments, refunds, customers and sessions
------------------------------------------------------------------------------------------------

-- scheduled_payments_ledger(): AFTER INSERT OR UPDATE OF status on app.scheduled_payments: a
-- charge that succeeded (pending/failed -> succeeded or refunded) is posted. The trigger's WHEN
-- clause fires it only for a row that is succeeded or refunded, so the pending charge every booking
-- inserts calls no function. Trigger only.
CREATE OR REPLACE FUNCTION app_private.scheduled_payments_ledger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.status IN ('succeeded', 'refunded') AND (TG_OP = 'INSERT' OR OLD.status IN ('pending', 'failed')) THEN
    PERFORM app_private.ledger_charge_succeeded(NEW.id);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS scheduled_payments_40_ledger ON app.scheduled_payments;
CREATE TRIGGER scheduled_payments_40_ledger AFTER INSERT OR UPDATE OF status ON app.scheduled_payments
  FOR EACH ROW WHEN (NEW.status IN ('succeeded', 'refunded')) EXECUTE FUNCTION app_private.scheduled_payments_ledger();

-- payment_refunds_ledger(): AFTER INSERT OR UPDATE OF status on app.payment_refunds: the refund's
-- money events (ledger_refund_changed). Trigger only.
CREATE OR REPLACE FUNCTION app_private.payment_refunds_ledger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
    PERFORM app_private.ledger_refund_changed(NEW.id);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS payment_refunds_40_ledger ON app.payment_refunds;
CREATE TRIGGER payment_refunds_40_ledger AFTER INSERT OR UPDATE OF status ON app.payment_refunds
  FOR EACH ROW EXECUTE FUNCTION app_private.payment_refunds_ledger();

-- customers_credit_to_ledger(): AFTER INSERT OR UPDATE OF credit_balance_cents on app.customers.
-- The column mirrors the ledger's credit balance; a value written directly (admin goodwill credit,
-- a DBA, a factory) is made true in the ledger by an adjustment (credit_adjusted). When the ledger
-- itself wrote the mirror the two agree and nothing is posted. Trigger only.
CREATE OR REPLACE FUNCTION app_private.customers_credit_to_ledger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.credit_balance_cents IS DISTINCT FROM app_private.customer_credit_cents(NEW.user_id) THEN
    PERFORM app_private.credit_adjusted(NEW.user_id, NEW.credit_balance_cents);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS customers_40_credit_to_ledger ON app.customers;
CREATE TRIGGER customers_40_credit_to_ledger AFTER INSERT OR UPDATE OF credit_balance_cents ON app.customers
  FOR EACH ROW EXECUTE FUNCTION app_private.customers_credit_to_ledger();

-- sessions_money_policy(): BEFORE INSERT OR UPDATE OF money_policy_version on app.sessions. A new
-- booking records the money policy version in force now (the trusted clock); whatever the inserter
-- wrote is overridden, so nobody books under an old or future version. An UPDATE that names another
-- version must name one that exists. This (with money_policy_versions_keep_referenced below) is the
-- foreign key's guarantee without its lock (migration 0028): the key's check took FOR KEY SHARE on
-- the one version in force, a MultiXact per booking under load. The version just read is in force,
-- and money_policy_guard never lets a version in force change or go. Raises 23503 like the key did.
-- Trigger only.
CREATE OR REPLACE FUNCTION app_private.sessions_money_policy() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.money_policy_version := app_private.money_policy_version_at(app_private.now());
  ELSIF NEW.money_policy_version IS DISTINCT FROM OLD.money_policy_version
        AND NOT EXISTS (SELECT FROM app.money_policy_versions v WHERE v.version = NEW.money_policy_version) THEN
    RAISE EXCEPTION 'money policy version % does not exist', NEW.money_policy_version
      USING ERRCODE = 'foreign_key_violation', TABLE = 'sessions', CONSTRAINT = 'sessions_money_policy_version_exists';
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS sessions_40_money_policy ON app.sessions;
CREATE TRIGGER sessions_40_money_policy BEFORE INSERT OR UPDATE OF money_policy_version ON app.sessions
  FOR EACH ROW EXECUTE FUNCTION app_private.sessions_money_policy();

-- money_policy_versions_keep_referenced(): BEFORE DELETE OR UPDATE OF version on
-- app.money_policy_versions (after money_policy_guard, which refuses any change to a version in
-- force). A version that sessions still name is neither deleted nor renumbered: raises 23503 (as the
-- sessions' foreign key did). It first waits for every transaction writing sessions (SHARE lock:
-- a booking in flight that read this version commits first, and is then seen; bookings that come
-- after wait for this one and read the versions as it leaves them). Withdrawing a version is a rare
-- DBA act; bookings pause only for its duration. No index on sessions.money_policy_version: a scan,
-- as the foreign key's own check did. Trigger only.
CREATE OR REPLACE FUNCTION app_private.money_policy_versions_keep_referenced() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
    RETURN NEW;
  END IF;
  LOCK TABLE app.sessions IN SHARE MODE;
  IF EXISTS (SELECT FROM app.sessions s WHERE s.money_policy_version = OLD.version) THEN
    RAISE EXCEPTION 'money policy version % is still named by sessions', OLD.version
      USING ERRCODE = 'foreign_key_violation', TABLE = 'money_policy_versions',
            CONSTRAINT = 'sessions_money_policy_version_exists';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

DROP TRIGGER IF EXISTS money_policy_versions_15_keep_referenced ON app.money_policy_versions;
CREATE TRIGGER money_policy_versions_15_keep_referenced BEFORE DELETE OR UPDATE OF version ON app.money_policy_versions
  FOR EACH ROW EXECUTE FUNCTION app_private.money_policy_versions_keep_referenced();

-- sessions_money(): AFTER UPDATE OF status on app.sessions, named to run after the side-effects
-- trigger (sessions_90_*, which asks for the charges): a session that ended cancelled without a
-- policy cancellation (lapsed or given-back hold, failed payment, an admin's status change) gives
-- back the credit it spent; a completed session's pot is split between mechanic and platform.
-- Trigger only.
CREATE OR REPLACE FUNCTION app_private.sessions_money() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.status = 'cancelled' AND OLD.status <> 'cancelled'
     AND NOT EXISTS (SELECT FROM app.session_cancellations c WHERE c.session_id = NEW.id) THEN
    PERFORM app_private.return_session_credit(NEW.id);
  ELSIF NEW.status = 'completed' AND OLD.status <> 'completed' THEN
    PERFORM app_private.settle_completed(NEW.id);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS sessions_95_money ON app.sessions;
CREATE TRIGGER sessions_95_money AFTER UPDATE OF status ON app.sessions
  FOR EACH ROW EXECUTE FUNCTION app_private.sessions_money();

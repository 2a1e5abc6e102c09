-- Every outbox row names a registered kind, without a foreign key (migration 0031, issue 13). The key
-- app.outbox.kind -> app.outbox_kinds.kind took FOR KEY SHARE on the kind's one row at every outbox
-- INSERT (the booking's session.booked event, every fan-out row), so with clients booking at once
-- most bookings created a MultiXact and wrote a lock record on that row's page. The same guarantee,
-- as in migration 0028 (db/triggers/40_ledger.sql, money_policy_versions_keep_referenced):
--   * a row's kind is checked when it is written (outbox_kind_registered, plain lookup, no lock);
--   * a kind that rows still name is neither deleted, renamed nor truncated away
--     (outbox_kinds_keep_referenced), checked after waiting for the outbox's in-flight writers;
-- both raise SQLSTATE 23503 (foreign_key_violation) as the key did, naming its constraint.

-- outbox_kind_registered(): BEFORE INSERT OR UPDATE OF kind on app.outbox. The row's kind must be a
-- row of app.outbox_kinds. In READ COMMITTED (every writer of the app) the lookup's snapshot is
-- taken after this statement's lock on app.outbox, so a kind being withdrawn either waited for this
-- transaction (and then sees its row) or committed first (and is not seen here). Other isolation
-- levels read an older snapshot: there the check takes the key's own lock (FOR KEY SHARE), which
-- fails with 40001 on a kind deleted since the snapshot. Raises 23503. Trigger only.
CREATE OR REPLACE FUNCTION app_private.outbox_kind_registered() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.kind = OLD.kind THEN
    RETURN NEW;
  END IF;
  IF pg_catalog.current_setting('transaction_isolation') = 'read committed' THEN
    PERFORM FROM app.outbox_kinds k WHERE k.kind = NEW.kind;
  ELSE
    PERFORM FROM app.outbox_kinds k WHERE k.kind = NEW.kind FOR KEY SHARE;
  END IF;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'insert or update on table "outbox" violates foreign key constraint "outbox_kind_registered"'
      USING ERRCODE = 'foreign_key_violation', TABLE = 'outbox', CONSTRAINT = 'outbox_kind_registered',
            DETAIL = format('Key (kind)=(%s) is not present in table "outbox_kinds".', NEW.kind);
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS outbox_05_kind_registered ON app.outbox;
CREATE TRIGGER outbox_05_kind_registered BEFORE INSERT OR UPDATE OF kind ON app.outbox
  FOR EACH ROW EXECUTE FUNCTION app_private.outbox_kind_registered();

-- outbox_kinds_keep_referenced(): BEFORE DELETE OR UPDATE OF kind (per row) and BEFORE TRUNCATE
-- (per statement) on app.outbox_kinds. A kind that outbox rows still name is neither deleted,
-- renamed nor truncated away: raises 23503 (as the key did). It first waits for every transaction
-- writing app.outbox (SHARE lock: a writer in flight that read this kind commits first, and its row
-- is then seen; writers that come after wait for this transaction and read the registry as it
-- leaves it). Withdrawing a kind is a rare owner act; outbox writes pause only for its duration. No
-- index on app.outbox.kind (migration 0027): a scan, as the key's own check did. Trigger only.
CREATE OR REPLACE FUNCTION app_private.outbox_kinds_keep_referenced() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_kind text;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.kind = OLD.kind THEN
    RETURN NEW;
  END IF;
  LOCK TABLE app.outbox IN SHARE MODE;
  IF TG_OP = 'TRUNCATE' THEN
    SELECT o.kind INTO v_kind FROM app.outbox o LIMIT 1;
  ELSE
    SELECT o.kind INTO v_kind FROM app.outbox o WHERE o.kind = OLD.kind LIMIT 1;
  END IF;
  IF v_kind IS NOT NULL THEN
    RAISE EXCEPTION 'update or delete on table "outbox_kinds" violates foreign key constraint "outbox_kind_registered" on table "outbox"'
      USING ERRCODE = 'foreign_key_violation', TABLE = 'outbox_kinds', CONSTRAINT = 'outbox_kind_registered',
            DETAIL = format('Key (kind)=(%s) is still referenced from table "outbox".', v_kind);
  END IF;
  RETURN CASE TG_OP WHEN 'DELETE' THEN OLD WHEN 'UPDATE' THEN NEW END;
END
$$;

DROP TRIGGER IF EXISTS outbox_kinds_15_keep_referenced ON app.outbox_kinds;
CREATE TRIGGER outbox_kinds_15_keep_referenced BEFORE DELETE OR UPDATE OF kind ON app.outbox_kinds
  FOR EACH ROW EXECUTE FUNCTION app_private.outbox_kinds_keep_referenced();
DROP TRIGGER IF EXISTS outbox_kinds_15_no_truncate_referenced ON app.outbox_kinds;
CREATE TRIGGER outbox_kinds_15_no_truncate_referenced BEFORE TRUNCATE ON app.outbox_kinds
  FOR EACH STATEMENT EXECUTE FUNCTION app_private.outbox_kinds_keep_referenced();

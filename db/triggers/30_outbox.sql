-- Outbox wake-ups: a statement-level trigger sends one small NOTIFY per statement on the
-- namespaced, versioned channel `autodoc_outbox_v1`. NOTIFY is delivered only on commit, so a
-- rolled-back enqueue wakes nobody; it is a wake-up only (the worker also polls), never the data.

-- outbox_notify_insert(): after INSERT, if the statement inserted rows (ON CONFLICT DO NOTHING may
-- insert none). Trigger function; raises nothing.
CREATE OR REPLACE FUNCTION app_private.outbox_notify_insert() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_count bigint;
  v_max bigint;
BEGIN
  SELECT count(*), max(id) INTO v_count, v_max FROM new_rows;
  IF v_count > 0 THEN
    PERFORM pg_notify('autodoc_outbox_v1', json_build_object('op', 'insert', 'count', v_count, 'max_id', v_max)::text);
  END IF;
  RETURN NULL;
END
$$;

-- outbox_notify_update(): after UPDATE, when a row became due again right now (an admin retry,
-- a released lease). Backoff re-queues with a future run_after do not wake anyone.
CREATE OR REPLACE FUNCTION app_private.outbox_notify_update() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_count bigint;
BEGIN
  SELECT count(*) INTO v_count FROM new_rows n WHERE n.status = 'pending' AND n.run_after <= app_private.now();
  IF v_count > 0 THEN
    PERFORM pg_notify('autodoc_outbox_v1', json_build_object('op', 'requeue', 'count', v_count)::text);
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS outbox_10_notify_insert ON app.outbox;
CREATE TRIGGER outbox_10_notify_insert AFTER INSERT ON app.outbox
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.outbox_notify_insert();

DROP TRIGGER IF EXISTS outbox_20_notify_update ON app.outbox;
CREATE TRIGGER outbox_20_notify_update AFTER UPDATE ON app.outbox
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION app_private.outbox_notify_update();

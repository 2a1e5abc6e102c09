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
  SELECT count(*) INTO v_count FROM new_rows n WHERE n.status = 'pending' AND n.run_after <= now();
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

-- Sessions -> side effects. Named sessions_90_* so it runs after the booking domain's own triggers.
-- Scheduled appointments only (immediate sessions are charged after the waiver, elsewhere):
--   held/scheduled inserted, or held -> scheduled: the booking charge (full / deposit);
--   booked (inserted as scheduled, or held -> scheduled): confirmation + mechanic notice + reminders;
--   start moved or mechanic changed while upcoming: reschedule invite + re-planned reminders;
--   mechanic assigned later (deferred matching): updated invite + mechanic notice;
--   upcoming -> cancelled: CANCEL invites, reminders stopped;
--   held -> cancelled (lapsed or given back): whatever was charged for the hold is refunded,
--     and a charge still pending has its PaymentIntent cancelled at Stripe;
--   in-person -> completed: the balance charge.
CREATE OR REPLACE FUNCTION app_private.sessions_side_effects() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_upcoming constant text[] := ARRAY['scheduled', 'pending'];
BEGIN
  IF NEW.scheduled_for IS NULL THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NEW.status IN ('held', 'scheduled', 'pending') THEN
      PERFORM app_private.session_booking_charge(NEW.id, now());
    END IF;
    IF NEW.status = ANY (v_upcoming) THEN
      PERFORM app_private.on_session_booked(NEW.id, now());
    END IF;
    RETURN NULL;
  END IF;

  IF OLD.status = 'held' AND NEW.status = ANY (v_upcoming) THEN
    PERFORM app_private.session_booking_charge(NEW.id, now());
    PERFORM app_private.on_session_booked(NEW.id, now());
  ELSIF NEW.status = 'cancelled' AND OLD.status = ANY (v_upcoming) THEN
    PERFORM app_private.on_session_cancelled(NEW.id, now());
  ELSIF NEW.status = 'cancelled' AND OLD.status = 'held' THEN
    PERFORM app_private.refund_unbooked_hold(NEW.id, now());
    PERFORM app_private.cancel_unbooked_hold_intents(NEW.id, now());
  ELSIF NEW.status = ANY (v_upcoming) AND OLD.status = ANY (v_upcoming) THEN
    IF NEW.scheduled_for IS DISTINCT FROM OLD.scheduled_for
       OR (OLD.mechanic_id IS NOT NULL AND NEW.mechanic_id IS DISTINCT FROM OLD.mechanic_id) THEN
      PERFORM app_private.on_session_rescheduled(NEW.id, OLD.scheduled_for, OLD.mechanic_id, now());
    ELSIF OLD.mechanic_id IS NULL AND NEW.mechanic_id IS NOT NULL THEN
      PERFORM app_private.on_mechanic_assigned(NEW.id, now());
    END IF;
  ELSIF NEW.status = 'completed' AND OLD.status <> 'completed' AND NEW.service_mode = 'in_person' THEN
    PERFORM app_private.session_balance_charge(NEW.id, now());
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS sessions_90_side_effects ON app.sessions;
CREATE TRIGGER sessions_90_side_effects AFTER INSERT OR UPDATE OF status, scheduled_for, mechanic_id ON app.sessions
  FOR EACH ROW EXECUTE FUNCTION app_private.sessions_side_effects();

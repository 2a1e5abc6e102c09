-- Notification triggers: sessions -> emails with calendar invites, and reminders.

-- Sessions -> notifications (scheduled appointments only). Named sessions_90_50_* so it runs after
-- the money trigger (sessions_90_40_*).
--   booked (inserted as scheduled/pending, or held -> scheduled/pending): ONE compact outbox event
--     `session.booked` (ids only); the worker fans it out into the charge, the confirmation + mechanic
--     notice and the reminders (db/functions/50_booking_fan_out.sql). A plain INSERT, not
--     outbox_enqueue(): this is the booking's hot path and the key is new by construction;
--   start moved or mechanic changed while upcoming: reschedule invite + re-planned reminders;
--   mechanic assigned later (deferred matching): updated invite + mechanic notice;
--   upcoming -> cancelled: CANCEL invites, reminders stopped.
-- A change that comes before the booking's event ran (the worker picks it up within milliseconds)
-- creates the invite itself, so the event then only charges (see 50_booking_fan_out.sql).
CREATE OR REPLACE FUNCTION app_private.sessions_notification_effects() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_upcoming constant text[] := ARRAY['scheduled', 'pending'];
BEGIN
  IF NEW.scheduled_for IS NULL THEN
    RETURN NULL;
  END IF;
  IF (TG_OP = 'INSERT' AND NEW.status = ANY (v_upcoming))
     OR (TG_OP = 'UPDATE' AND OLD.status = 'held' AND NEW.status = ANY (v_upcoming)) THEN
    INSERT INTO app.outbox (kind, idempotency_key, payload, session_id, run_after, max_attempts)
    VALUES ('session.booked', 'booked:' || NEW.id, jsonb_build_object('session_id', NEW.id), NEW.id,
            least(app_private.now(), pg_catalog.now()), 8)
    ON CONFLICT (idempotency_key) DO NOTHING;
  ELSIF TG_OP = 'INSERT' THEN
    RETURN NULL;
  ELSIF NEW.status = 'cancelled' AND OLD.status = ANY (v_upcoming) THEN
    PERFORM app_private.on_session_cancelled(NEW.id);
  ELSIF NEW.status = ANY (v_upcoming) AND OLD.status = ANY (v_upcoming) THEN
    IF NEW.scheduled_for IS DISTINCT FROM OLD.scheduled_for
       OR (OLD.mechanic_id IS NOT NULL AND NEW.mechanic_id IS DISTINCT FROM OLD.mechanic_id) THEN
      PERFORM app_private.on_session_rescheduled(NEW.id, OLD.scheduled_for, OLD.mechanic_id);
    ELSIF OLD.mechanic_id IS NULL AND NEW.mechanic_id IS NOT NULL THEN
      PERFORM app_private.on_mechanic_assigned(NEW.id);
    END IF;
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS sessions_90_50_notifications ON app.sessions;
CREATE TRIGGER sessions_90_50_notifications AFTER INSERT OR UPDATE OF status, scheduled_for, mechanic_id ON app.sessions
  FOR EACH ROW EXECUTE FUNCTION app_private.sessions_notification_effects();

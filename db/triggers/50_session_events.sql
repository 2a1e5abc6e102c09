-- Live events for the session lifecycle: ONE trigger emits an event for every status change of a
-- session, whatever made it (joining, completion, a policy cancellation, a no-show, a failed
-- payment, an admin, matching), so dashboards follow a session without each function remembering
-- to tell them. Matching's own progress (offered, assigned, unmatched: not status changes) stays
-- with matching (kind session.status, db/functions/60_offers.sql). docs/events.md lists the kinds.

-- sessions_status_event(): AFTER UPDATE OF status on app.sessions when the status changed: a live
-- event `session.<new status>` (session.scheduled, session.pending, session.waiting,
-- session.active, session.completed, session.cancelled) to the session's customer and mechanic
-- (app_private.session_participants), in the same transaction as the change: {session_id, from,
-- status, is_immediate, at} plus cancel_reason (cancelled) or completed_at (completed).
-- SECURITY DEFINER: whoever changes the status may not write live events.
CREATE OR REPLACE FUNCTION app_private.sessions_status_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.emit_live_event('session.' || NEW.status, app_private.session_participants(NEW),
    jsonb_strip_nulls(jsonb_build_object(
      'session_id', NEW.id, 'from', OLD.status, 'status', NEW.status, 'is_immediate', NEW.scheduled_for IS NULL,
      'at', app_private.now(), 'cancel_reason', NEW.cancel_reason,
      'completed_at', CASE WHEN NEW.status = 'completed' THEN NEW.completed_at END)),
    NEW.id);
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS sessions_50_status_event ON app.sessions;
CREATE TRIGGER sessions_50_status_event AFTER UPDATE OF status ON app.sessions
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION app_private.sessions_status_event();

-- Matching triggers: closing a session's offers however it gets a mechanic or is cancelled, and
-- each mechanic's answered-offer numbers (the acceptance-rate criterion).

-- sessions_close_matching(): AFTER UPDATE on app.sessions when the session gets a mechanic or is
-- cancelled. Its open offers (other than the accepted mechanic's) become 'withdrawn' with an
-- offer.withdrawn event to each mechanic, and an open matching record is closed ('assigned' or
-- 'cancelled'). One place for the rule, so an accept, an admin's assignment, a reschedule onto a
-- mechanic, the customer's withdrawal and a cancellation by the money or no-show code all close
-- the offers the same way.
-- SECURITY DEFINER: the updater (an admin doing DML) need not see every assignment.
CREATE OR REPLACE FUNCTION app_private.sessions_close_matching() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_offer record;
  v_reason text := CASE WHEN NEW.status = 'cancelled' THEN 'cancelled' ELSE 'taken' END;
BEGIN
  FOR v_offer IN
    UPDATE app.session_assignments a SET status = 'withdrawn', responded_at = app_private.now()
    WHERE a.session_id = NEW.id AND a.status = 'offered'
      AND (NEW.status = 'cancelled' OR a.mechanic_id IS DISTINCT FROM NEW.mechanic_id)
    RETURNING a.id, a.mechanic_id
  LOOP
    PERFORM app_private.emit_live_event('offer.withdrawn', ARRAY[v_offer.mechanic_id],
      jsonb_build_object('offer_id', v_offer.id, 'session_id', NEW.id, 'reason', v_reason), NEW.id);
  END LOOP;
  -- (the customer hears of a cancellation from the session.cancelled event of
  -- db/triggers/50_session_events.sql: one event per status change)
  UPDATE app.session_matching m
  SET status = CASE WHEN NEW.status = 'cancelled' THEN 'cancelled' ELSE 'assigned' END,
      accepted_mechanic_id = CASE WHEN NEW.status = 'cancelled' THEN NULL ELSE NEW.mechanic_id END,
      closed_at = app_private.now(), updated_at = app_private.now()
  WHERE m.session_id = NEW.id AND m.status = 'offering';
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS sessions_60_close_matching ON app.sessions;
CREATE TRIGGER sessions_60_close_matching AFTER UPDATE OF status, mechanic_id ON app.sessions
  FOR EACH ROW
  WHEN ((NEW.status = 'cancelled' AND OLD.status <> 'cancelled')
        OR (NEW.mechanic_id IS NOT NULL AND NEW.mechanic_id IS DISTINCT FROM OLD.mechanic_id))
  EXECUTE FUNCTION app_private.sessions_close_matching();

-- session_assignments_offer_stats(): AFTER UPDATE on app.session_assignments when an offer is
-- answered (accepted, declined, expired; a withdrawn offer was never the mechanic's to answer):
-- counts it in app.mechanic_offer_stats. SECURITY DEFINER: the answering function's caller has no
-- rights on the stats table.
CREATE OR REPLACE FUNCTION app_private.session_assignments_offer_stats() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO app.mechanic_offer_stats AS st (mechanic_id, accepted, declined, expired, updated_at)
  VALUES (NEW.mechanic_id, (NEW.status = 'accepted')::int, (NEW.status = 'declined')::int,
          (NEW.status = 'expired')::int, app_private.now())
  ON CONFLICT (mechanic_id) DO UPDATE
  SET accepted = st.accepted + excluded.accepted, declined = st.declined + excluded.declined,
      expired = st.expired + excluded.expired, updated_at = excluded.updated_at;
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS session_assignments_60_offer_stats ON app.session_assignments;
CREATE TRIGGER session_assignments_60_offer_stats AFTER UPDATE OF status ON app.session_assignments
  FOR EACH ROW
  WHEN (OLD.status = 'offered' AND NEW.status IN ('accepted', 'declined', 'expired'))
  EXECUTE FUNCTION app_private.session_assignments_offer_stats();

-- One event per booking, fanned out by the worker (issue 13).
--
-- The booking transaction writes its guarantees (the session through both exclusion constraints,
-- the assignment, the audit row) and ONE compact outbox row of kind `session.booked` (ids only:
-- {"session_id"}; key `booked:<session>`), from the sessions trigger
-- (db/triggers/50_notifications.sql) for every writer that books: an insert as scheduled/pending
-- or a hold becoming a booking. The kind runs in the `database` lane: its effect is nothing but
-- rows of this database, so the worker never leases it; api.outbox_apply_due applies it through the
-- registry's apply_fn below and marks it done, in one transaction: the booking charge (key `charge:<session>:<full|deposit>`, account credit first)
-- and the two confirmation emails with calendar invites (keys
-- `email:<session>:<template>:<recipient>:<seq>`) — the same rows with the same deterministic keys
-- the booking transaction used to write itself, so a replayed or doubly completed event changes
-- nothing (app_private.on_session_booked, which the trigger used to call in the booking
-- transaction). Reminders are not rows of a booking: the reminder job reads the sessions.
--
-- A session that changed before its event ran (the worker picks it up within milliseconds):
-- cancelled -> nothing is charged or sent (the cancellation sent its CANCEL invite); rescheduled or
-- given its mechanic -> that change's emails created the calendar invite, so the event charges but
-- sends no confirmation (the first email the customer gets is the update).

-- session_booked_fan_out(session): the effects of a booking, once. Locks the customer row, then the
-- session row (the lock order of every booking function), so it serialises with cancellations,
-- reschedules and credit writers. Charges only a session still upcoming (scheduled/pending); sends
-- the confirmations only when the session has no calendar invite yet (the invite's first SEQUENCE
-- is the confirmation's). Returns whether it sent the confirmations. Owner and the worker's
-- apply function.
CREATE OR REPLACE FUNCTION app_private.session_booked_fan_out(p_session_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_status text;
BEGIN
  PERFORM 1 FROM app.customers c
   WHERE c.user_id = (SELECT s.customer_id FROM app.sessions s WHERE s.id = p_session_id)
     FOR NO KEY UPDATE;
  SELECT s.status INTO v_status FROM app.sessions s
   WHERE s.id = p_session_id AND s.scheduled_for IS NOT NULL FOR NO KEY UPDATE;
  IF v_status IS NULL OR v_status NOT IN ('scheduled', 'pending') THEN
    RETURN false;
  END IF;
  PERFORM app_private.session_booking_charge(p_session_id);
  IF EXISTS (SELECT FROM app.session_invites i WHERE i.session_id = p_session_id) THEN
    RETURN false;
  END IF;
  PERFORM app_private.on_session_booked(p_session_id);  -- invite (SEQUENCE 0) and both emails
  RETURN true;
END
$$;

-- session_booked_apply(outbox id, payload, result): the registry apply_fn of `session.booked`, run
-- in api.outbox_apply_due's transaction (or api.outbox_complete's: tests and admins completing the
-- row by hand); once per row: a row already done is never applied again.
CREATE OR REPLACE FUNCTION app_private.session_booked_apply(p_outbox_id bigint, p_payload jsonb, p_result jsonb)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM app_private.session_booked_fan_out((p_payload ->> 'session_id')::uuid);
END
$$;
GRANT EXECUTE ON FUNCTION app_private.session_booked_apply(bigint, jsonb, jsonb) TO autodoc_worker;

SELECT app_private.outbox_register_kind('session.booked', 20::smallint, 'booking', NULL,
  'app_private.session_booked_apply(bigint, jsonb, jsonb)', 8, 1, 300, 'database',
  'A booking happened (ids only): api.outbox_apply_due fans it out into the booking charge and the two '
  'confirmation emails with calendar invites (same keys as ever) and marks it done, in one transaction.');

-- Notifications: booking / reschedule / cancellation emails with calendar invites, and reminders
-- 1 day, 1 hour and 15 minutes before a scheduled start. Every email is an outbox row enqueued in
-- the same transaction as the state change (db/triggers/50_notifications.sql calls the
-- on_session_* functions below). Every function reads the trusted clock, app_private.now(). The
-- payload is a snapshot of what we tell the recipient at that
-- moment; the worker renders it (api/effects/mail.py) and builds the .ics (api/calendar_invite.py).

-- reminder_offsets(): each reminder kind, how long before the start it is due, and until when it
-- is still meaningful (the next kind's due time: a late "tomorrow" email 10 minutes before the start
-- is never sent; the 15-minute one stays useful until the start). PL/pgSQL: a SQL set-returning
-- function with a SET clause is not inlined, so it was parsed and planned on every call.
CREATE OR REPLACE FUNCTION app_private.reminder_offsets()
RETURNS TABLE (kind text, due_before interval, stale_before interval)
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
  RETURN QUERY
  VALUES ('1d'::text, interval '24 hours', interval '1 hour'),
         ('1h'::text, interval '1 hour', interval '15 minutes'),
         ('15m'::text, interval '15 minutes', interval '0 seconds');
END
$$;

-- place_facts(): where a session happens, as facts: the workshop's name and address parts for an
-- in-person session, NULL for online (the templates say "Online"). The address is formatted once,
-- in Python (api/presentation.py), for emails and calendar invites alike.
CREATE OR REPLACE FUNCTION app_private.place_facts(p_service_mode text, p_workshop app.workshops) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT CASE WHEN p_service_mode = 'in_person' AND p_workshop.id IS NOT NULL THEN
           jsonb_build_object('name', p_workshop.name, 'address_line1', p_workshop.address_line1,
                              'address_line2', p_workshop.address_line2, 'city', p_workshop.city,
                              'state_province', p_workshop.state_province, 'postal_code', p_workshop.postal_code,
                              'country', p_workshop.country) END
$$;

-- session_email_context(): the facts an email about a session is written from — ids, people (each
-- with the zone they read times in: the customer's own, else the appointment's place; the
-- mechanic's place), plan, UTC start and end with the place's zone, the place, links. No prose and no formatting: subjects, sentences, local times and the address are the
-- templates' (api/templates/email/, api/presentation.py). NULL for an unknown session. Definer
-- helper; raises nothing. PL/pgSQL, not SQL: a SQL function that is not inlined (this one has SET
-- and SECURITY DEFINER, and a FROM clause) is parsed and planned again in every transaction,
-- PL/pgSQL keeps its plan for the session (measured ~0.4 ms a call on the booking path).
CREATE OR REPLACE FUNCTION app_private.session_email_context(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT jsonb_build_object(
    'session_id', s.id,
    'status', s.status,
    'cancel_reason', s.cancel_reason,
    'type', s.type,
    'service_mode', s.service_mode,
    'concern', s.concern,
    'plan', jsonb_build_object('code', p.code, 'name', p.name, 'price_cents', p.price_cents,
                               'duration_minutes', p.duration_minutes),
    'starts_at', s.scheduled_for,
    'ends_at', s.ends_at,
    'timezone', z.tz,
    -- Each person's own zone: the worker writes their times in it (api/effects/mail.py).
    'customer', jsonb_build_object('id', cu.id, 'name', cu.full_name, 'email', cu.email,
                                   'timezone', coalesce(c.timezone, z.tz)),
    'mechanic', CASE WHEN m.user_id IS NOT NULL THEN
                  jsonb_build_object('id', m.user_id, 'name', m.display_name, 'email', mu.email, 'timezone', z.tz) END,
    'place', app_private.place_facts(s.service_mode, w),
    'links', jsonb_build_object(
      'appointment', '/customer/appointments/' || s.id,
      'waiver', '/customer/appointments/' || s.id || '/waiver',
      'join', '/customer/sessions/' || s.id,
      'calendar', '/api/appointments/' || s.id || '/calendar.ics',
      'mechanic_schedule', '/mechanic/schedule'))
  INTO v
  FROM app.sessions s
  JOIN app.plans p ON p.code = s.plan_code
  JOIN app.users cu ON cu.id = s.customer_id
  LEFT JOIN app.customers c ON c.user_id = s.customer_id
  LEFT JOIN app.mechanics m ON m.user_id = s.mechanic_id
  LEFT JOIN app.users mu ON mu.id = m.user_id
  LEFT JOIN app.workshops w ON w.id = m.workshop_id
  -- The appointment's place; with no mechanic yet, the platform's default zone (never UTC).
  CROSS JOIN LATERAL (SELECT coalesce(w.timezone, m.timezone,
                                      (SELECT b.default_timezone FROM app.booking_settings b)) AS tz) z
  WHERE s.id = p_session_id;
  RETURN v;
END
$$;

-- session_invite_data(): the calendar invite for one recipient ('customer' or 'mechanic'), as
-- facts: stable UID, the current SEQUENCE and method, UTC instants, who and what (plan, mode,
-- concern, the other side's name, the place) and the links. The invite's SUMMARY, DESCRIPTION and
-- LOCATION are written from them by api/calendar_invite.py (templates in api/templates/calendar/).
-- Only the recipient is an ATTENDEE (the other side's address stays private); the organizer is
-- added by the worker from its settings. NULL when the session has no invite. PL/pgSQL for its
-- cached plan (see session_email_context).
CREATE OR REPLACE FUNCTION app_private.session_invite_data(p_session_id uuid, p_recipient text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT jsonb_build_object(
    'uid', i.uid,
    'sequence', i.sequence,
    'method', i.method,
    'status', CASE WHEN i.method = 'CANCEL' THEN 'CANCELLED' ELSE 'CONFIRMED' END,
    'start', s.scheduled_for,
    'end', s.ends_at,
    'recipient', p_recipient,
    'plan', jsonb_build_object('name', p.name, 'duration_minutes', p.duration_minutes),
    'service_mode', s.service_mode,
    'concern', s.concern,
    'customer_name', cu.full_name,
    'mechanic_name', m.display_name,
    'place', app_private.place_facts(s.service_mode, w),
    'url', CASE WHEN p_recipient = 'mechanic' THEN '/mechanic/schedule' ELSE '/customer/appointments/' || s.id END,
    'waiver_url', CASE WHEN p_recipient = 'customer' THEN '/customer/appointments/' || s.id || '/waiver' END,
    'attendees', jsonb_build_array(CASE WHEN p_recipient = 'mechanic'
                   THEN jsonb_build_object('email', mu.email, 'name', m.display_name)
                   ELSE jsonb_build_object('email', cu.email, 'name', cu.full_name) END))
  INTO v
  FROM app.session_invites i
  JOIN app.sessions s ON s.id = i.session_id
  JOIN app.plans p ON p.code = s.plan_code
  JOIN app.users cu ON cu.id = s.customer_id
  LEFT JOIN app.mechanics m ON m.user_id = s.mechanic_id
  LEFT JOIN app.users mu ON mu.id = m.user_id
  LEFT JOIN app.workshops w ON w.id = m.workshop_id
  WHERE i.session_id = p_session_id;
  RETURN v;
END
$$;

-- invite_bump(): a change the calendar must apply. The first call creates the invite (SEQUENCE 0);
-- every later call increments SEQUENCE, so calendar clients order updates and cancellations.
-- Returns the new SEQUENCE. PL/pgSQL for its cached plan (see session_email_context).
CREATE OR REPLACE FUNCTION app_private.invite_bump(p_session_id uuid, p_method text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_sequence integer;
BEGIN
  INSERT INTO app.session_invites AS i (session_id, uid, sequence, method, updated_at)
  VALUES (p_session_id, p_session_id || '@autodoctor', 0, p_method, app_private.now())
  ON CONFLICT (session_id) DO UPDATE SET sequence = i.sequence + 1, method = excluded.method, updated_at = app_private.now()
  RETURNING i.sequence INTO v_sequence;
  RETURN v_sequence;
END
$$;

-- enqueue_session_email(): one email about a session to its customer or mechanic, with or without
-- the calendar invite, keyed by purpose. Returns the outbox id; NULL when there is no recipient.
CREATE OR REPLACE FUNCTION app_private.enqueue_session_email(
  p_session_id uuid, p_template text, p_recipient text, p_key text, p_with_invite boolean DEFAULT false,
  p_extra jsonb DEFAULT '{}'::jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_context jsonb := app_private.session_email_context(p_session_id);
  v_to jsonb := v_context -> p_recipient;
BEGIN
  IF v_to IS NULL OR jsonb_typeof(v_to) <> 'object' OR v_to ->> 'email' IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN app_private.outbox_enqueue('email.send', p_key,
    jsonb_build_object(
      'template', p_template,
      'recipient_role', p_recipient,
      'to', jsonb_build_object('email', v_to ->> 'email', 'name', v_to ->> 'name', 'timezone', v_to ->> 'timezone'),
      'context', v_context || coalesce(p_extra, '{}'::jsonb),
      'invite', CASE WHEN p_with_invite THEN app_private.session_invite_data(p_session_id, p_recipient) END),
    p_session_id);
END
$$;

-- plan_reminders(): (re)plan the three reminders for a start time. Re-planning for the same start
-- changes nothing (a sent reminder stays sent); a new start clears sent/skipped. Reminders whose due
-- time had already passed when the appointment was booked are skipped ('booked_late').
-- PL/pgSQL for its cached plan (see session_email_context).
CREATE OR REPLACE FUNCTION app_private.plan_reminders(p_session_id uuid, p_scheduled_for timestamptz)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO app.session_reminders AS r (session_id, kind, scheduled_for, due_at, skipped_at, skip_reason)
  SELECT p_session_id, o.kind, p_scheduled_for, p_scheduled_for - o.due_before,
         CASE WHEN p_scheduled_for - o.due_before < app_private.now() THEN app_private.now() END,
         CASE WHEN p_scheduled_for - o.due_before < app_private.now() THEN 'booked_late' END
    FROM app_private.reminder_offsets() o
  ON CONFLICT (session_id, kind) DO UPDATE
    SET scheduled_for = excluded.scheduled_for, due_at = excluded.due_at, sent_at = NULL, outbox_id = NULL,
        skipped_at = excluded.skipped_at, skip_reason = excluded.skip_reason
    WHERE r.scheduled_for IS DISTINCT FROM excluded.scheduled_for;
END
$$;

-- stop_reminders(): a cancelled session gets no more reminders.
CREATE OR REPLACE FUNCTION app_private.stop_reminders(p_session_id uuid, p_reason text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  UPDATE app.session_reminders SET skipped_at = app_private.now(), skip_reason = p_reason
   WHERE session_id = p_session_id AND sent_at IS NULL AND skipped_at IS NULL;
END
$$;

-- enqueue_invite_email(): an email carrying the session's calendar invite at SEQUENCE p_seq, keyed
-- `email:<session>:<template>:<recipient>:<seq>` — one email per purpose and invite version, however
-- often the change that caused it is replayed. The one place that key is spelled.
CREATE OR REPLACE FUNCTION app_private.enqueue_invite_email(
  p_session_id uuid, p_template text, p_recipient text, p_seq integer, p_extra jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN app_private.enqueue_session_email(p_session_id, p_template, p_recipient,
           format('email:%s:%s:%s:%s', p_session_id, p_template, p_recipient, p_seq), true, p_extra);
END
$$;

-- on_session_booked(): a scheduled appointment is confirmed — confirmation with invite to the
-- customer, notice with invite to the mechanic, reminders planned. Called by the fan-out of the
-- booking's session.booked event (50_booking_fan_out.sql), after the booking committed.
CREATE OR REPLACE FUNCTION app_private.on_session_booked(p_session_id uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_seq integer := app_private.invite_bump(p_session_id, 'REQUEST');
  v_start timestamptz;
BEGIN
  SELECT scheduled_for INTO v_start FROM app.sessions WHERE id = p_session_id;
  PERFORM app_private.enqueue_invite_email(p_session_id, 'confirmation', 'customer', v_seq, '{}'::jsonb);
  PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_booking', 'mechanic', v_seq, '{}'::jsonb);
  PERFORM app_private.plan_reminders(p_session_id, v_start);
END
$$;

-- on_session_rescheduled(): the start moved (and maybe the mechanic changed) — updated invite
-- (same UID, next SEQUENCE) to both sides, reminders re-planned. A mechanic who lost the session
-- gets a cancellation of their copy.
CREATE OR REPLACE FUNCTION app_private.on_session_rescheduled(
  p_session_id uuid, p_old_start timestamptz, p_old_mechanic uuid
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_seq integer := app_private.invite_bump(p_session_id, 'REQUEST');
  v_session app.sessions;
  v_extra jsonb;
BEGIN
  SELECT * INTO v_session FROM app.sessions WHERE id = p_session_id;
  v_extra := jsonb_build_object('previous_starts_at', p_old_start);
  PERFORM app_private.enqueue_invite_email(p_session_id, 'reschedule', 'customer', v_seq, v_extra);
  IF p_old_mechanic IS NOT NULL AND p_old_mechanic IS DISTINCT FROM v_session.mechanic_id THEN
    PERFORM app_private.outbox_enqueue('email.send', format('email:%s:mechanic_cancellation:%s:%s', p_session_id, p_old_mechanic, v_seq),
      jsonb_build_object('template', 'mechanic_cancellation', 'recipient_role', 'mechanic',
        'to', (SELECT jsonb_build_object('email', u.email, 'name', m.display_name,
                                         'timezone', coalesce(w.timezone, m.timezone))
                 FROM app.mechanics m JOIN app.users u ON u.id = m.user_id
                 LEFT JOIN app.workshops w ON w.id = m.workshop_id WHERE m.user_id = p_old_mechanic),
        'context', app_private.session_email_context(p_session_id) || v_extra
                   || jsonb_build_object('reassigned', true, 'starts_at', p_old_start,
                                         'ends_at', p_old_start + (v_session.ends_at - v_session.scheduled_for)),
        'invite', (app_private.session_invite_data(p_session_id, 'mechanic')
                   || jsonb_build_object('method', 'CANCEL', 'status', 'CANCELLED', 'start', p_old_start,
                        'end', p_old_start + (v_session.ends_at - v_session.scheduled_for),
                        'attendees', (SELECT jsonb_build_array(jsonb_build_object('email', u.email, 'name', m.display_name))
                                        FROM app.mechanics m JOIN app.users u ON u.id = m.user_id
                                       WHERE m.user_id = p_old_mechanic)))),
      p_session_id);
    PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_booking', 'mechanic', v_seq, v_extra);
  ELSE
    PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_reschedule', 'mechanic', v_seq, v_extra);
  END IF;
  PERFORM app_private.plan_reminders(p_session_id, v_session.scheduled_for);
END
$$;

-- on_mechanic_assigned(): deferred matching (or an admin) gave a booked appointment its mechanic —
-- the customer's invite is updated, the mechanic gets the booking notice.
CREATE OR REPLACE FUNCTION app_private.on_mechanic_assigned(p_session_id uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_seq integer := app_private.invite_bump(p_session_id, 'REQUEST');
BEGIN
  PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_assigned', 'customer', v_seq, '{}'::jsonb);
  PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_booking', 'mechanic', v_seq, '{}'::jsonb);
END
$$;

-- on_session_cancelled(): a booked appointment was cancelled — METHOD:CANCEL invite (next SEQUENCE)
-- to both sides, reminders stopped. A no-show tells the customer so (the no_show email, SPEC
-- section 8's no-show notice) instead of the plain cancellation; so does a booking no mechanic
-- took (the no_mechanic_found email with its full refund, matching's app_private.refund_unmatched). A cancellation under the money
-- policy carries its receipt (refund, credit, the mechanic's share: app_private.cancellation_receipt).
CREATE OR REPLACE FUNCTION app_private.on_session_cancelled(p_session_id uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_seq integer := app_private.invite_bump(p_session_id, 'CANCEL');
  v_reason text := (SELECT s.cancel_reason FROM app.sessions s WHERE s.id = p_session_id);
  v_receipt jsonb := app_private.cancellation_receipt(p_session_id);
BEGIN
  IF v_reason = 'no_show' THEN
    PERFORM app_private.enqueue_invite_email(p_session_id, 'no_show', 'customer', v_seq, v_receipt);
  ELSIF v_receipt -> 'cancellation' ->> 'reason' = 'unmatched' THEN   -- matching gave up: refunded in full
    PERFORM app_private.enqueue_invite_email(p_session_id, 'no_mechanic_found', 'customer', v_seq,
              v_receipt || jsonb_build_object('is_immediate', false, 'choices', app_private.unmatched_choices()));
  ELSE
    PERFORM app_private.enqueue_invite_email(p_session_id, 'cancellation', 'customer', v_seq, v_receipt);
  END IF;
  PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_cancellation', 'mechanic', v_seq, v_receipt);
  PERFORM app_private.stop_reminders(p_session_id, 'cancelled');
END
$$;

-- api.send_due_reminders(): the pg_cron job (every minute). Every reminder due as of now (the trusted clock) is
-- either sent (an email outbox row) or, when it is no longer meaningful — the session is not
-- upcoming any more, or the next reminder's time has come — skipped. Exactly once per session, kind
-- and start time: rows are locked (SKIP LOCKED, so two runs at once share the work) and marked,
-- and the outbox key `email:<session>:reminder_<kind>:<start epoch>` is unique as well.
-- Returns {"sent": n, "skipped": m}. Owner (pg_cron) and admins.
CREATE OR REPLACE FUNCTION api.send_due_reminders()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
  r record;
  v_sent integer := 0;
  v_skipped integer := 0;
  v_outbox bigint;
BEGIN
  FOR r IN
    SELECT rem.session_id, rem.kind, rem.scheduled_for, s.status, s.scheduled_for AS current_start,
           o.stale_before
      FROM app.session_reminders rem
      JOIN app.sessions s ON s.id = rem.session_id
      JOIN app_private.reminder_offsets() o ON o.kind = rem.kind
     WHERE rem.sent_at IS NULL AND rem.skipped_at IS NULL AND rem.due_at <= v_now
     ORDER BY rem.due_at
       FOR UPDATE OF rem SKIP LOCKED
  LOOP
    IF r.status NOT IN ('scheduled', 'pending') OR r.current_start IS DISTINCT FROM r.scheduled_for THEN
      UPDATE app.session_reminders SET skipped_at = v_now, skip_reason = 'not_upcoming'
       WHERE session_id = r.session_id AND kind = r.kind;
      v_skipped := v_skipped + 1;
    ELSIF v_now >= r.scheduled_for - r.stale_before THEN
      UPDATE app.session_reminders SET skipped_at = v_now, skip_reason = 'late'
       WHERE session_id = r.session_id AND kind = r.kind;
      v_skipped := v_skipped + 1;
    ELSE
      v_outbox := app_private.enqueue_session_email(r.session_id, 'reminder_' || r.kind, 'customer',
                    format('email:%s:reminder_%s:%s', r.session_id, r.kind, extract(epoch FROM r.scheduled_for)::bigint),
                    false, jsonb_build_object('reminder', r.kind));
      UPDATE app.session_reminders SET sent_at = v_now, outbox_id = v_outbox
       WHERE session_id = r.session_id AND kind = r.kind;
      v_sent := v_sent + 1;
    END IF;
  END LOOP;
  RETURN jsonb_build_object('sent', v_sent, 'skipped', v_skipped);
END
$$;
COMMENT ON FUNCTION api.send_due_reminders() IS
  'pg_cron job: send every reminder (1d, 1h, 15m) due as of now (trusted clock) exactly once; skip those no longer meaningful. Owner, admin.';
GRANT EXECUTE ON FUNCTION api.send_due_reminders() TO autodoc_admin;

-- api.appointment_invite(): the calendar invite of an appointment for the caller (customer: their
-- copy; the assigned mechanic: theirs; admin: the customer's). Definer with its own check (the
-- caller must be the session's customer as a customer, its mechanic as a mechanic, or an admin;
-- NULLs never match: a session without a mechanic, or a caller without a user id, is nobody's).
-- Raises 404 session_not_found (also when the caller may not see it), 409 no_invite.
CREATE OR REPLACE FUNCTION api.appointment_invite(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_uid uuid := app_private.current_user_id();
  v_role text := app_private.current_app_role();
  v_customer uuid;
  v_mechanic uuid;
  v_invite jsonb;
BEGIN
  SELECT s.customer_id, s.mechanic_id INTO v_customer, v_mechanic FROM app.sessions s WHERE s.id = p_session_id;
  IF NOT FOUND OR NOT (v_role = 'admin'
                       OR (v_role = 'customer' AND v_uid IS NOT NULL AND v_uid = v_customer)
                       OR (v_role = 'mechanic' AND v_uid IS NOT NULL AND v_mechanic IS NOT NULL AND v_uid = v_mechanic)) THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'No such appointment',
                                    jsonb_build_object('session_id', p_session_id));
  END IF;
  v_invite := app_private.session_invite_data(p_session_id,
                CASE WHEN v_role = 'mechanic' THEN 'mechanic' ELSE 'customer' END);
  IF v_invite IS NULL THEN
    PERFORM app_private.raise_error(409, 'no_invite', 'This appointment has no calendar invite',
                                    jsonb_build_object('session_id', p_session_id));
  END IF;
  RETURN v_invite;
END
$$;
COMMENT ON FUNCTION api.appointment_invite(uuid) IS
  'Calendar invite data (UID, SEQUENCE, METHOD, UTC start/end, attendee) of an appointment the caller can see. Customer, mechanic, admin. Raises 404 session_not_found, 409 no_invite.';
GRANT EXECUTE ON FUNCTION api.appointment_invite(uuid) TO autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.resend_confirmation(): send the confirmation (with the current invite) again. The customer of
-- the appointment (as a customer) or an admin; only while it is upcoming. Each call is one more email (a new key).
-- Raises 404 session_not_found (also when not the caller's), 409 appointment_not_upcoming.
CREATE OR REPLACE FUNCTION api.resend_confirmation(p_session_id uuid)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_customer uuid;
  v_status text;
  v_outbox bigint;
BEGIN
  SELECT s.customer_id, s.status INTO v_customer, v_status
    FROM app.sessions s WHERE s.id = p_session_id;
  -- coalesce: a caller without a user id must not slip through a NULL comparison
  IF NOT FOUND OR NOT (app_private.is_admin()
                       OR (app_private.current_app_role() = 'customer'
                           AND coalesce(v_customer = app_private.current_user_id(), false))) THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'No such appointment',
                                    jsonb_build_object('session_id', p_session_id));
  END IF;
  v_outbox := app_private.resend_confirmation(p_session_id);
  IF v_outbox IS NULL THEN
    PERFORM app_private.raise_error(409, 'appointment_not_upcoming', 'Only an upcoming appointment has a confirmation',
                                    jsonb_build_object('session_id', p_session_id, 'status', v_status));
  END IF;
  RETURN jsonb_build_object('outbox_id', v_outbox, 'queued', true);
END
$$;
COMMENT ON FUNCTION api.resend_confirmation(uuid) IS
  'Queue the appointment confirmation (with its current calendar invite) again, at most once per 5 minutes. Customer (own), admin. Raises 404 session_not_found (also when not the caller''s), 409 appointment_not_upcoming, 429 resend_too_soon (detail: retry_after_seconds).';
GRANT EXECUTE ON FUNCTION api.resend_confirmation(uuid) TO autodoc_customer, autodoc_admin;

-- resend_confirmation() (private half): counts the resend and enqueues it; NULL if not upcoming.
CREATE OR REPLACE FUNCTION app_private.resend_confirmation(p_session_id uuid)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_count integer;
  v_last timestamptz;
BEGIN
  -- Asked before the worker fanned the booking's event out (milliseconds after booking): fan it out
  -- now (the confirmation, the charge; idempotent, the worker's run then changes nothing), so the
  -- invite exists to resend. Before the session's row lock: the fan-out locks customer, then session.
  PERFORM app_private.session_booked_fan_out(p_session_id)
    WHERE NOT EXISTS (SELECT FROM app.session_invites i WHERE i.session_id = p_session_id);
  PERFORM 1 FROM app.sessions WHERE id = p_session_id AND status IN ('scheduled', 'pending')
                                AND scheduled_for IS NOT NULL
     FOR UPDATE;  -- one resend decision at a time per session
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  -- A button pressed twice must not mail the customer twice: one resend per 5 minutes.
  SELECT max((o.payload -> 'context' ->> 'resent_at')::timestamptz) INTO v_last FROM app.outbox o
   WHERE o.session_id = p_session_id AND o.idempotency_key LIKE format('email:%s:confirmation_resend:%%', p_session_id);
  IF v_last > app_private.now() - interval '5 minutes' THEN
    PERFORM app_private.raise_error(429, 'resend_too_soon', 'The confirmation was just re-sent; try again in a few minutes',
      jsonb_build_object('retry_after_seconds', ceil(extract(epoch FROM v_last + interval '5 minutes' - app_private.now()))::int));
  END IF;
  UPDATE app.session_invites SET resend_count = resend_count + 1, updated_at = app_private.now()
   WHERE session_id = p_session_id
  RETURNING resend_count INTO v_count;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  RETURN app_private.enqueue_session_email(p_session_id, 'confirmation', 'customer',
           format('email:%s:confirmation_resend:customer:%s', p_session_id, v_count), true,
           jsonb_build_object('resent', true, 'resent_at', app_private.now()));
END
$$;

-- The notifications domain's outbox kind (app.outbox_kinds; see db/functions/30_outbox.sql): the
-- worker renders and sends the email (api/effects/mail.py); nothing is written back.
SELECT app_private.outbox_register_kind('email.send', 50::smallint, 'notifications', NULL, NULL, 8, 5, 3600, 'email',
  'Render an email template with the facts in the payload and send it over SMTP (with a calendar invite when given).');

-- Notifications: booking / reschedule / cancellation emails with calendar invites, and reminders
-- 1 day, 1 hour and 15 minutes before a scheduled start. Every email is an outbox row enqueued in
-- the same transaction as the state change (db/triggers/50_notifications.sql calls the
-- on_session_* functions below; a booking's own emails come from the fan-out of its session.booked
-- event, db/functions/50_booking_fan_out.sql). Reminders are produced set-based by the job from the
-- sessions due in its window (api.send_due_reminders): a booking writes no reminder rows. Every
-- function reads the trusted clock, app_private.now().
--
-- Context read once, when sending: a session email's outbox row carries only ids and facts (template,
-- recipient role and user id, session id, the invite's SEQUENCE and METHOD, the change's own facts);
-- the `email.send` kind's claim-time context_fn (session_email_facts) adds the recipient, the
-- context and the invite in the claim's transaction, so the worker renders (api/effects/mail.py) and
-- builds the .ics (api/calendar_invite.py) from the same payload shape as ever.

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
-- in Python (api/presentation.py), for emails and calendar invites alike. PL/pgSQL: a SQL function
-- with a SET clause is not inlined, so it was planned on every call (twice an email).
CREATE OR REPLACE FUNCTION app_private.place_facts(p_service_mode text, p_workshop app.workshops) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
  RETURN CASE WHEN p_service_mode = 'in_person' AND p_workshop.id IS NOT NULL THEN
           jsonb_build_object('name', p_workshop.name, 'address_line1', p_workshop.address_line1,
                              'address_line2', p_workshop.address_line2, 'city', p_workshop.city,
                              'state_province', p_workshop.state_province, 'postal_code', p_workshop.postal_code,
                              'country', p_workshop.country) END;
END
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

-- invite_facts(context, recipient, uid, sequence, method): the calendar invite for one recipient
-- ('customer' or 'mechanic'), as facts, written from a session's email context
-- (session_email_context): stable UID, SEQUENCE and METHOD, UTC instants, who and what (plan,
-- mode, concern, both sides' names, the place) and the links. The invite's SUMMARY, DESCRIPTION
-- and LOCATION are written from them by api/calendar_invite.py (templates in
-- api/templates/calendar/). Only the recipient is an ATTENDEE (the other side's address stays
-- private); the organizer is added by the worker from its settings. The one place an invite's
-- shape is written (session_invite_data, session_email_facts). Pure.
CREATE OR REPLACE FUNCTION app_private.invite_facts(p_context jsonb, p_recipient text, p_uid text, p_sequence integer,
                                                    p_method text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
BEGIN
  RETURN jsonb_build_object(
    'uid', p_uid,
    'sequence', p_sequence,
    'method', p_method,
    'status', CASE WHEN p_method = 'CANCEL' THEN 'CANCELLED' ELSE 'CONFIRMED' END,
    'start', p_context -> 'starts_at',
    'end', p_context -> 'ends_at',
    'recipient', p_recipient,
    'plan', jsonb_build_object('name', p_context #> '{plan,name}', 'duration_minutes', p_context #> '{plan,duration_minutes}'),
    'service_mode', p_context -> 'service_mode',
    'concern', p_context -> 'concern',
    'customer_name', p_context #> '{customer,name}',
    'mechanic_name', p_context #> '{mechanic,name}',
    'place', p_context -> 'place',
    'url', CASE WHEN p_recipient = 'mechanic' THEN p_context #> '{links,mechanic_schedule}'
                ELSE p_context #> '{links,appointment}' END,
    'waiver_url', CASE WHEN p_recipient = 'customer' THEN p_context #> '{links,waiver}' END,
    'attendees', jsonb_build_array(jsonb_build_object('email', p_context #> ARRAY[p_recipient, 'email'],
                                                      'name', p_context #> ARRAY[p_recipient, 'name'])));
END
$$;

-- session_invite_data(): the session's current calendar invite for one recipient (invite_facts of
-- its email context at the invite's SEQUENCE and METHOD). NULL when the session has no invite.
CREATE OR REPLACE FUNCTION app_private.session_invite_data(p_session_id uuid, p_recipient text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v jsonb;
BEGIN
  SELECT app_private.invite_facts(app_private.session_email_context(p_session_id), p_recipient, i.uid, i.sequence,
                                  i.method)
    INTO v
    FROM app.session_invites i
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
-- the calendar invite, keyed by purpose. The row carries ids and facts only: template, recipient
-- role and user id (the party at enqueue time), session id, p_extra (the change's own facts, e.g.
-- the previous start) as `context`, and with the invite its UID, SEQUENCE and METHOD now as `invite`;
-- session_email_facts() reads the rest when the row is claimed. Returns the outbox id; NULL when the
-- session has no such recipient (no mechanic yet, unknown session).
CREATE OR REPLACE FUNCTION app_private.enqueue_session_email(
  p_session_id uuid, p_template text, p_recipient text, p_key text, p_with_invite boolean DEFAULT false,
  p_extra jsonb DEFAULT '{}'::jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_recipient uuid;
  v_invite jsonb;
BEGIN
  SELECT CASE p_recipient WHEN 'customer' THEN s.customer_id WHEN 'mechanic' THEN s.mechanic_id END
    INTO v_recipient FROM app.sessions s WHERE s.id = p_session_id;
  IF v_recipient IS NULL THEN
    RETURN NULL;
  END IF;
  IF p_with_invite THEN
    SELECT jsonb_build_object('uid', i.uid, 'sequence', i.sequence, 'method', i.method) INTO v_invite
      FROM app.session_invites i WHERE i.session_id = p_session_id;
  END IF;
  RETURN app_private.outbox_enqueue('email.send', p_key,
    jsonb_build_object('template', p_template, 'recipient_role', p_recipient, 'recipient_id', v_recipient,
                       'session_id', p_session_id, 'context', coalesce(p_extra, '{}'::jsonb), 'invite', v_invite),
    p_session_id);
END
$$;

-- session_email_facts(payload): the `email.send` kind's claim-time context_fn — what a session
-- email says, read once, when it is sent (in api.outbox_claim's transaction): `to` (the recipient's
-- address, name and the zone they read times in), `context` (session_email_context() as the session
-- is NOW, plus the row's own facts) and `invite` (session_invite_data() now, with the SEQUENCE and
-- METHOD the row was enqueued for, and the recipient as the one attendee). So an email sent after
-- a later change (a reschedule, a cancellation) describes the session as it is, while its invite
-- keeps its own SEQUENCE (calendar clients apply the highest). Skips (`skip`, the worker completes
-- the row as skipped): `session_gone` (no such session), `recipient_gone` (the user was deleted),
-- `recipient_changed` (the session's customer/mechanic is no longer the row's recipient: the change
-- that replaced them sent its own emails). A row with a `former_party` recipient (the mechanic a
-- reschedule took the session from) is addressed to that user as they are now. NULL for a snapshot
-- email (a payload with `to`: offers, waitlist, applications, reconciliation), sent as written.
CREATE OR REPLACE FUNCTION app_private.session_email_facts(p_payload jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_session uuid;
  v_recipient uuid;
  v_role text := p_payload ->> 'recipient_role';
  v_context jsonb;
  v_to jsonb;
  v_invite jsonb;
BEGIN
  IF p_payload ? 'to' OR NOT p_payload ? 'recipient_id' THEN
    RETURN NULL;
  END IF;
  v_session := (p_payload ->> 'session_id')::uuid;
  v_recipient := (p_payload ->> 'recipient_id')::uuid;
  v_context := app_private.session_email_context(v_session);
  IF v_context IS NULL THEN
    RETURN jsonb_build_object('skip', 'session_gone');
  END IF;
  IF EXISTS (SELECT FROM app.users u WHERE u.id = v_recipient AND u.deleted_at IS NOT NULL) THEN
    RETURN jsonb_build_object('skip', 'recipient_gone');
  END IF;
  IF (p_payload ->> 'former_party')::boolean THEN
    SELECT jsonb_build_object('email', u.email, 'name', m.display_name, 'timezone', coalesce(w.timezone, m.timezone))
      INTO v_to
      FROM app.mechanics m JOIN app.users u ON u.id = m.user_id LEFT JOIN app.workshops w ON w.id = m.workshop_id
     WHERE m.user_id = v_recipient;
  ELSE
    v_to := v_context -> v_role;
    IF jsonb_typeof(v_to) IS DISTINCT FROM 'object' OR v_to ->> 'id' IS DISTINCT FROM v_recipient::text THEN
      RETURN jsonb_build_object('skip', 'recipient_changed');
    END IF;
  END IF;
  IF v_to ->> 'email' IS NULL THEN
    RETURN jsonb_build_object('skip', 'recipient_gone');
  END IF;
  IF jsonb_typeof(p_payload -> 'invite') = 'object' THEN   -- the row's own facts (start/end: a former party's copy)
    v_invite := app_private.invite_facts(v_context, v_role, p_payload #>> '{invite,uid}',
                                         (p_payload #>> '{invite,sequence}')::integer, p_payload #>> '{invite,method}')
                || (p_payload -> 'invite')
                || jsonb_build_object('attendees', jsonb_build_array(jsonb_build_object('email', v_to ->> 'email',
                                                                                        'name', v_to ->> 'name')));
  END IF;
  RETURN jsonb_build_object(
    'to', jsonb_build_object('email', v_to ->> 'email', 'name', v_to ->> 'name', 'timezone', v_to ->> 'timezone'),
    'context', v_context || coalesce(p_payload -> 'context', '{}'::jsonb),
    'invite', v_invite);
END
$$;
GRANT EXECUTE ON FUNCTION app_private.session_email_facts(jsonb) TO autodoc_worker;

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
-- customer, notice with invite to the mechanic. Called by the fan-out of the
-- booking's session.booked event (50_booking_fan_out.sql), after the booking committed.
CREATE OR REPLACE FUNCTION app_private.on_session_booked(p_session_id uuid)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_seq integer := app_private.invite_bump(p_session_id, 'REQUEST');
BEGIN
  PERFORM app_private.enqueue_invite_email(p_session_id, 'confirmation', 'customer', v_seq, '{}'::jsonb);
  PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_booking', 'mechanic', v_seq, '{}'::jsonb);
END
$$;

-- on_session_rescheduled(): the start moved (and maybe the mechanic changed) — updated invite
-- (same UID, next SEQUENCE) to both sides (the reminders follow the new start by themselves: the
-- job reads the sessions, and a reminder's key carries its start). A mechanic who lost the session
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
    -- to the mechanic who lost it (a former party: session_email_facts addresses them as they are),
    -- about their copy: the old start, METHOD:CANCEL
    PERFORM app_private.outbox_enqueue('email.send', format('email:%s:mechanic_cancellation:%s:%s', p_session_id, p_old_mechanic, v_seq),
      jsonb_build_object('template', 'mechanic_cancellation', 'recipient_role', 'mechanic',
        'recipient_id', p_old_mechanic, 'former_party', true, 'session_id', p_session_id,
        'context', v_extra || jsonb_build_object('reassigned', true, 'starts_at', p_old_start,
                                                 'ends_at', p_old_start + (v_session.ends_at - v_session.scheduled_for)),
        'invite', jsonb_build_object('uid', (SELECT i.uid FROM app.session_invites i WHERE i.session_id = p_session_id),
                                     'sequence', v_seq, 'method', 'CANCEL',
                                     'status', 'CANCELLED', 'start', p_old_start,
                                     'end', p_old_start + (v_session.ends_at - v_session.scheduled_for))),
      p_session_id);
    PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_booking', 'mechanic', v_seq, v_extra);
  ELSE
    PERFORM app_private.enqueue_invite_email(p_session_id, 'mechanic_reschedule', 'mechanic', v_seq, v_extra);
  END IF;
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
-- to both sides (no reminder is sent for a session no longer upcoming: the job reads the sessions).
-- A no-show tells the customer so (the no_show email, SPEC section 8's no-show notice) instead of
-- the plain cancellation; so does a booking no mechanic took (the no_mechanic_found email with its
-- full refund, matching's app_private.refund_unmatched). A cancellation under the money
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
END
$$;

-- api.send_due_reminders(): the pg_cron job (every minute), set-based. A reminder of kind k (1d, 1h,
-- 15m) is due at start - k.due_before; it is sent by the run whose window holds that instant, where
-- a run's window is (the previous run's "now" (the watermark app.reminder_watermark), this run's
-- "now"] (the trusted clock; at most 24 hours back, the longest a reminder stays meaningful; the
-- whole 24 hours when the clock is behind the mark, as only a test clock can be). It is sent when the
-- session is still upcoming (scheduled/pending) with that start, the reminder still meaningful
-- (before the next kind's due time; the 15-minute one until the start) and it was not due before the
-- booking was made (created_at); otherwise it is counted as skipped and never sent. Nothing is
-- written per booking: the job reads the sessions (index sessions_status_scheduled_for_idx), so a
-- reschedule moves the reminders (a new start is a new key) and a cancellation stops them.
-- Exactly once per session, kind and start: the outbox key `email:<session>:reminder_<kind>:<start
-- epoch>` is unique, and runs take the watermark row FOR UPDATE, so two runs at once follow each
-- other (the second's window starts at the first's "now") and a run twice, late or concurrent sends
-- nothing twice. Returns {"sent": n, "skipped": m}. Owner (pg_cron) and admins.
CREATE OR REPLACE FUNCTION api.send_due_reminders()
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
  v_mark timestamptz;
  v_from timestamptz;
  r record;
  v_sent integer := 0;
  v_skipped integer := 0;
BEGIN
  SELECT w.watermark INTO v_mark FROM app.reminder_watermark w WHERE w.id FOR UPDATE;
  v_from := CASE WHEN v_mark IS NULL OR v_mark > v_now THEN v_now - interval '24 hours'
                 ELSE greatest(v_mark, v_now - interval '24 hours') END;
  FOR r IN
    SELECT s.id, o.kind, s.scheduled_for,
           v_now < s.scheduled_for - o.stale_before AND s.scheduled_for - o.due_before >= s.created_at AS meaningful,
           EXISTS (SELECT FROM app.outbox x  -- sent by an earlier run (only a clock moved back re-reads a window)
                    WHERE x.idempotency_key = format('email:%s:reminder_%s:%s', s.id, o.kind,
                                                     extract(epoch FROM s.scheduled_for)::bigint)) AS sent_before
      FROM app_private.reminder_offsets() o
      JOIN app.sessions s
        ON s.status IN ('scheduled', 'pending')
       AND s.scheduled_for > v_from + o.due_before AND s.scheduled_for <= v_now + o.due_before
     ORDER BY s.scheduled_for - o.due_before, s.id
  LOOP
    IF r.sent_before THEN
      CONTINUE;
    ELSIF NOT r.meaningful THEN
      v_skipped := v_skipped + 1;
    ELSIF app_private.enqueue_session_email(r.id, 'reminder_' || r.kind, 'customer',
            format('email:%s:reminder_%s:%s', r.id, r.kind, extract(epoch FROM r.scheduled_for)::bigint),
            false, jsonb_build_object('reminder', r.kind)) IS NOT NULL THEN
      v_sent := v_sent + 1;
    END IF;
  END LOOP;
  INSERT INTO app.reminder_watermark AS w (id, watermark) VALUES (true, v_now)
  ON CONFLICT (id) DO UPDATE SET watermark = excluded.watermark;
  RETURN jsonb_build_object('sent', v_sent, 'skipped', v_skipped);
END
$$;
COMMENT ON FUNCTION api.send_due_reminders() IS
  'pg_cron job: send every reminder (1d, 1h, 15m) due in this run''s window (since the previous run, trusted clock) exactly once, set-based from the upcoming sessions; skip those no longer meaningful or due before the booking. Returns {sent, skipped}. Owner, admin.';
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
-- claim adds a session email's recipient, context and invite (session_email_facts), the worker
-- renders and sends the email (api/effects/mail.py); nothing is written back.
SELECT app_private.outbox_register_kind('email.send', 50::smallint, 'notifications',
  'app_private.session_email_facts(jsonb)', NULL, 8, 5, 3600, 'email',
  'Render an email template with the facts in the payload (a session email''s recipient, context and invite read when claimed) and send it over SMTP (with a calendar invite when given).');

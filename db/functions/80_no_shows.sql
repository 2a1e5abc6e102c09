-- Unsigned waivers (band 80): the mechanic's cancellation when the waiver is still missing 10
-- minutes after the start, and the no-show job (pg_cron every 5 minutes) for scheduled sessions
-- still unsigned 15 minutes after the start. Both end in app_private.cancel_unsigned(), the one
-- place that cancels a session for an unsigned waiver. Times come from app.session_rules.

-- cancel_unsigned(session, reason): cancel a locked, unsigned session for `reason` (no_show |
-- waiver_missing) under the money policy's tier for it (app_private.cancel_with_policy: 50% credit /
-- 50% mechanic; in person the deposit to the mechanic) and log it: a session event of that type, a
-- live event session.cancelled (cancel_reason: the reason) to both sides, from the sessions trigger
-- (db/triggers/50_session_events.sql). The cancellation emails come from the notifications trigger (a no-show gets the no_show
-- email). Owner only; the caller holds the session's locks (app_private.lock_session) and has
-- checked the rule. Raises 409 illegal_transition from the lifecycle trigger.
CREATE OR REPLACE FUNCTION app_private.cancel_unsigned(p_session app.sessions, p_reason text) RETURNS jsonb
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
BEGIN
  -- the money policy's no_show / missing_waiver tier (band 40): receipt, shares, refunds, then the
  -- lifecycle transition (audit log, emails with the receipt)
  PERFORM app_private.cancel_with_policy(p_session.id, CASE p_reason WHEN 'waiver_missing' THEN 'missing_waiver' ELSE p_reason END);
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session.id;
  INSERT INTO app.session_events (session_id, event_type, from_status, to_status, actor_id, actor_role, metadata)
  VALUES (v_s.id, p_reason, p_session.status, 'cancelled', app_private.current_user_id(), app_private.current_app_role(),
          jsonb_build_object('scheduled_for', p_session.scheduled_for));
  RETURN jsonb_build_object('session_id', v_s.id, 'status', v_s.status, 'cancel_reason', v_s.cancel_reason,
                            'cancelled_at', v_s.cancelled_at);
END
$$;

-- api.cancel_for_missing_waiver(session, note?): the session's mechanic (or an admin) cancels a
-- session whose waiver is still unsigned, from start + session_rules.waiver_missing_after
-- (10 minutes) on; reason waiver_missing. Returns {session_id, status, cancel_reason, cancelled_at}.
-- Raises 404 session_not_found (also another mechanic's session), 409 not_cancellable (not
-- scheduled/pending/waiting), 409 waiver_already_signed, 409 too_early_to_cancel (detail.allowed_from).
CREATE OR REPLACE FUNCTION api.cancel_for_missing_waiver(p_session_id uuid, p_note text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_s app.sessions := app_private.lock_session(p_session_id);
  v_from timestamptz;
BEGIN
  IF v_s.id IS NULL
     OR NOT ((app_private.current_app_role() = 'mechanic' AND v_s.mechanic_id = app_private.current_user_id())
             OR app_private.is_admin()) THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  IF v_s.status NOT IN ('scheduled', 'pending', 'waiting') OR v_s.mechanic_id IS NULL THEN
    PERFORM app_private.raise_error(409, 'not_cancellable', format('A session that is %s cannot be cancelled', v_s.status),
      jsonb_build_object('session_id', v_s.id, 'status', v_s.status, 'is_immediate', v_s.scheduled_for IS NULL));
  END IF;
  IF EXISTS (SELECT FROM app.waiver_signatures w WHERE w.session_id = v_s.id) THEN
    PERFORM app_private.raise_error(409, 'waiver_already_signed', 'The waiver of this session is signed',
      jsonb_build_object('session_id', v_s.id));
  END IF;
  v_from := lower(v_s.period) + (app_private.session_rules()).waiver_missing_after;
  IF app_private.now() < v_from THEN
    PERFORM app_private.raise_error(409, 'too_early_to_cancel',
      'It is too early to cancel this session for a missing waiver',
      jsonb_build_object('session_id', v_s.id, 'allowed_from', v_from, 'now', app_private.now()));
  END IF;
  RETURN app_private.cancel_unsigned(v_s, 'waiver_missing') || jsonb_strip_nulls(jsonb_build_object('note', left(p_note, 500)));
END
$$;
COMMENT ON FUNCTION api.cancel_for_missing_waiver(uuid, text) IS
'The session''s mechanic (or an admin) cancels a session whose waiver is unsigned, from 10 minutes after its start (session_rules.waiver_missing_after): status cancelled, reason waiver_missing, a waiver_missing session event and a session.cancelled live event. Returns {session_id, status, cancel_reason, cancelled_at}. Raises 404 session_not_found, 409 not_cancellable / waiver_already_signed / too_early_to_cancel (detail.allowed_from).';
GRANT EXECUTE ON FUNCTION api.cancel_for_missing_waiver(uuid, text) TO autodoc_mechanic, autodoc_admin;

-- mark_no_show(session): one session of the job. Takes the session's locks, then checks again
-- under them — still scheduled/pending, still unsigned, the start + no_show_after passed — so a
-- session signed, completed or cancelled meanwhile (or by a run at the same time) is left alone.
-- Returns whether it marked it. Owner only.
CREATE OR REPLACE FUNCTION app_private.mark_no_show(p_session_id uuid) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_s app.sessions := app_private.lock_session(p_session_id);
BEGIN
  IF v_s.id IS NULL OR v_s.status NOT IN ('scheduled', 'pending') OR v_s.scheduled_for IS NULL
     OR v_s.scheduled_for + (app_private.session_rules()).no_show_after > app_private.now()
     OR EXISTS (SELECT FROM app.waiver_signatures w WHERE w.session_id = v_s.id) THEN
    RETURN false;
  END IF;
  PERFORM app_private.cancel_unsigned(v_s, 'no_show');
  RETURN true;
END
$$;

-- api.mark_no_shows(): the no-show job (pg_cron autodoc-no-shows, every 5 minutes). Every scheduled
-- session with a mechanic, still scheduled/pending and unsigned at start + session_rules.no_show_after (as of the
-- trusted clock's now) is cancelled with reason no_show. Idempotent: run twice, late, or twice at
-- once, each session is marked once (mark_no_show re-checks under the session's locks). Returns the
-- number marked by this run. Owner (pg_cron), admins.
CREATE OR REPLACE FUNCTION api.mark_no_shows() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid;
  v_count integer := 0;
BEGIN
  FOR v_id IN
    SELECT s.id FROM app.sessions s
     WHERE s.status IN ('scheduled', 'pending') AND s.scheduled_for IS NOT NULL
       AND s.mechanic_id IS NOT NULL   -- nobody took it: refunded in full by matching (refund_unmatched)
       AND s.scheduled_for <= app_private.now() - (app_private.session_rules()).no_show_after
       AND NOT EXISTS (SELECT FROM app.waiver_signatures w WHERE w.session_id = s.id)
     ORDER BY s.scheduled_for
  LOOP
    IF app_private.mark_no_show(v_id) THEN
      v_count := v_count + 1;
    END IF;
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.mark_no_shows() IS
'The no-show job (pg_cron autodoc-no-shows, every 5 minutes): every scheduled session still scheduled/pending with no signed waiver 15 minutes (session_rules.no_show_after) after its start is cancelled with reason no_show (a no_show session event, a session.cancelled live event with cancel_reason no_show, the no-show email); a session without a mechanic is left to matching, which refunds it in full. Idempotent and safe to run concurrently; a session signed, completed or cancelled meanwhile is left alone. Returns the number marked. pg_cron, admins.';
GRANT EXECUTE ON FUNCTION api.mark_no_shows() TO autodoc_admin;

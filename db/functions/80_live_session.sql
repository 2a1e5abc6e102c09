-- The live session (band 80): the join gate, completion and the customer's rating. The status
-- lifecycle itself (which transitions exist) is the booking domain's trigger
-- (db/triggers/20_sessions.sql); these functions decide WHEN a transition happens and who causes it:
--   immediate  waiting --(customer and mechanic both joined)--> active
--   scheduled  scheduled --(the customer joins: waiver signed, customer ready)--> pending
--              pending --(the mechanic is in as well)--> active
--   both       active --(the mechanic completes, with notes)--> completed
-- docs/session-lifecycle.md draws the whole diagram.

-- api.join_session(session): the caller (the session's customer or its mechanic) joins. The gate:
-- the session must be live (not cancelled, completed, or an immediate request no mechanic has
-- accepted), its waiver signed, the time inside the join window (scheduled: from start -
-- session_rules.join_opens_before until the end; immediate: until the end), and an immediate
-- session paid. Joining records the caller's joined_at (joining again changes nothing) and moves
-- the lifecycle as above; emits session.joined to both sides (the status change's own event,
-- session.pending / session.active, comes from the sessions trigger). Returns
-- app_private.live_session(). Raises 404 session_not_found (also another's session); 409
-- not_joinable (detail.status), waiver_required (detail.signing_window), outside_session_time
-- (detail.window), payment_pending (the immediate charge has not succeeded yet).
CREATE OR REPLACE FUNCTION api.join_session(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_uid uuid := app_private.current_user_id();
  v_role text := app_private.current_app_role();
  v_s app.sessions := app_private.lock_session(p_session_id);
  v_window jsonb;
  v_now timestamptz := app_private.now();
BEGIN
  IF v_s.id IS NULL
     OR NOT ((v_role = 'customer' AND v_s.customer_id = v_uid) OR (v_role = 'mechanic' AND v_s.mechanic_id = v_uid)) THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  IF v_s.status NOT IN ('scheduled', 'pending', 'waiting', 'active') OR v_s.mechanic_id IS NULL THEN
    PERFORM app_private.raise_error(409, 'not_joinable', format('A session that is %s cannot be joined',
        CASE WHEN v_s.mechanic_id IS NULL AND v_s.status = 'pending' THEN 'waiting for a mechanic' ELSE v_s.status END),
      jsonb_build_object('session_id', v_s.id, 'status', v_s.status, 'mechanic_id', v_s.mechanic_id));
  END IF;
  IF NOT EXISTS (SELECT FROM app.waiver_signatures w WHERE w.session_id = v_s.id) THEN
    PERFORM app_private.raise_error(409, 'waiver_required', 'The waiver must be signed before the session can be joined',
      jsonb_build_object('session_id', v_s.id, 'signing_window', app_private.signing_window(v_s),
                         'waiver_page', '/customer/appointments/' || v_s.id || '/waiver'));
  END IF;
  v_window := app_private.join_window(v_s);
  IF NOT (v_window ->> 'is_open')::boolean THEN
    PERFORM app_private.raise_error(409, 'outside_session_time', 'The session cannot be joined at this time',
      jsonb_build_object('session_id', v_s.id, 'now', v_now, 'window', v_window));
  END IF;
  IF NOT app_private.session_paid(v_s) THEN
    PERFORM app_private.raise_error(409, 'payment_pending',
      'The payment for this booking is still being processed; try again in a minute',
      jsonb_build_object('session_id', v_s.id));
  END IF;

  IF (v_role = 'customer' AND v_s.customer_joined_at IS NULL) OR (v_role = 'mechanic' AND v_s.mechanic_joined_at IS NULL) THEN
    UPDATE app.sessions s
       SET customer_joined_at = CASE WHEN v_role = 'customer' THEN v_now ELSE s.customer_joined_at END,
           mechanic_joined_at = CASE WHEN v_role = 'mechanic' THEN v_now ELSE s.mechanic_joined_at END
     WHERE s.id = v_s.id
    RETURNING * INTO v_s;
    PERFORM app_private.emit_live_event('session.joined', app_private.session_participants(v_s),
      jsonb_build_object('session_id', v_s.id, 'who', v_role, 'status', v_s.status, 'joined_at', v_now), v_s.id);
  END IF;

  -- the lifecycle: scheduled -> pending when the customer is ready; -> active when both are in
  IF v_s.status = 'scheduled' AND v_s.customer_joined_at IS NOT NULL THEN
    v_s := app_private.transition_session(v_s.id, 'pending', NULL, jsonb_build_object('via', 'join_session'));
  END IF;
  IF v_s.status IN ('pending', 'waiting') AND v_s.customer_joined_at IS NOT NULL AND v_s.mechanic_joined_at IS NOT NULL THEN
    v_s := app_private.transition_session(v_s.id, 'active', NULL, jsonb_build_object('via', 'join_session'));
  END IF;
  -- the status changes' live events (session.pending, session.active): db/triggers/50_session_events.sql
  RETURN app_private.live_session(v_s.id);
END
$$;
COMMENT ON FUNCTION api.join_session(uuid) IS
'The session''s customer or mechanic joins. Refused unless the session is live (scheduled, pending, waiting or active, with a mechanic), its waiver is signed, the time is inside the join window (scheduled: from start - 15 min until the end; immediate: until the end) and an immediate session is paid. Moves the lifecycle: scheduled -> pending when the customer joins; pending/waiting -> active when both have joined. Joining again changes nothing. Returns the live state {session_id, status, waiver, signing_window, join_window, paid, customer_joined_at, mechanic_joined_at, started_at, ...}. Raises 404 session_not_found, 409 not_joinable / waiver_required (detail.signing_window) / outside_session_time (detail.window) / payment_pending.';
GRANT EXECUTE ON FUNCTION api.join_session(uuid) TO autodoc_customer, autodoc_mechanic;

-- api.complete_session(session, notes?): the session's mechanic (or an admin) completes an active
-- session with notes (at most 10,000 characters). The money triggers do the rest: an in-person
-- session's balance is charged (db/triggers/40_payments.sql). Completing a completed session again
-- returns it unchanged. The sessions trigger emits session.completed to both sides. Returns app_private.live_session()
-- plus completion_notes. Raises 404 session_not_found (also another mechanic's session), 409
-- not_completable (detail.status), 422 invalid_value (notes too long).
CREATE OR REPLACE FUNCTION api.complete_session(p_session_id uuid, p_notes text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_uid uuid := app_private.current_user_id();
  v_s app.sessions := app_private.lock_session(p_session_id);
BEGIN
  IF v_s.id IS NULL
     OR NOT ((app_private.current_app_role() = 'mechanic' AND v_s.mechanic_id = v_uid) OR app_private.is_admin()) THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  IF length(p_notes) > 10000 THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'notes must be at most 10000 characters',
      jsonb_build_object('field', 'notes'));
  END IF;
  IF v_s.status <> 'completed' THEN
    IF v_s.status <> 'active' THEN
      PERFORM app_private.raise_error(409, 'not_completable', format('A session that is %s cannot be completed', v_s.status),
        jsonb_build_object('session_id', v_s.id, 'status', v_s.status));
    END IF;
    UPDATE app.sessions s SET completion_notes = nullif(btrim(p_notes), '') WHERE s.id = v_s.id;
    v_s := app_private.transition_session(v_s.id, 'completed', NULL, jsonb_build_object('via', 'complete_session'));
    -- its live event session.completed: db/triggers/50_session_events.sql
  END IF;
  RETURN app_private.live_session(v_s.id) || jsonb_build_object('completion_notes', v_s.completion_notes);
END
$$;
COMMENT ON FUNCTION api.complete_session(uuid, text) IS
'The session''s mechanic (or an admin) completes an active session with notes (max 10,000 characters): status completed; an in-person session''s balance (plan price - deposit) is charged through the outbox. Completing again returns the completed session unchanged. Returns the live state plus completion_notes. Raises 404 session_not_found, 409 not_completable (detail.status), 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.complete_session(uuid, text) TO autodoc_mechanic, autodoc_admin;

-- api.rate_session(session, rating, comment?): the session's customer rates a completed session
-- once: 1-5 and an optional comment (at most 2,000 characters). The mechanic's rating and
-- rating_count follow by trigger (db/triggers/80_ratings.sql). Returns {session_id, mechanic_id,
-- rating, comment, created_at}. Raises 404 session_not_found (also another customer's session),
-- 409 not_rateable (not completed), 409 already_rated (detail.rating: the first one),
-- 422 invalid_value (rating outside 1-5, comment too long).
CREATE OR REPLACE FUNCTION api.rate_session(p_session_id uuid, p_rating int, p_comment text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_s app.sessions := app_private.lock_session(p_session_id);
  v_r app.session_ratings;
BEGIN
  IF v_s.id IS NULL OR app_private.current_app_role() IS DISTINCT FROM 'customer'
     OR v_s.customer_id IS DISTINCT FROM app_private.current_user_id() THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  SELECT * INTO v_r FROM app.session_ratings r WHERE r.session_id = v_s.id;
  IF v_r.session_id IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'already_rated', 'You have already rated this session',
      jsonb_build_object('session_id', v_s.id, 'rating', v_r.rating, 'created_at', v_r.created_at));
  END IF;
  IF v_s.status <> 'completed' THEN
    PERFORM app_private.raise_error(409, 'not_rateable', 'Only a completed session can be rated',
      jsonb_build_object('session_id', v_s.id, 'status', v_s.status));
  END IF;
  IF p_rating IS NULL OR p_rating NOT BETWEEN 1 AND 5 THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'rating must be a whole number from 1 to 5',
      jsonb_build_object('field', 'rating', 'value', p_rating));
  END IF;
  IF length(p_comment) > 2000 THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'comment must be at most 2000 characters',
      jsonb_build_object('field', 'comment'));
  END IF;
  INSERT INTO app.session_ratings (session_id, customer_id, mechanic_id, rating, comment, created_at)
  VALUES (v_s.id, v_s.customer_id, v_s.mechanic_id, p_rating, nullif(btrim(p_comment), ''), app_private.now())
  RETURNING * INTO v_r;
  RETURN jsonb_build_object('session_id', v_r.session_id, 'mechanic_id', v_r.mechanic_id, 'rating', v_r.rating,
                            'comment', v_r.comment, 'created_at', v_r.created_at);
END
$$;
COMMENT ON FUNCTION api.rate_session(uuid, int, text) IS
'The session''s customer rates a completed session once: p_rating 1-5, optional p_comment (max 2,000 characters). The mechanic''s rating (exact mean, 2 decimals) and rating_count update by trigger. Returns {session_id, mechanic_id, rating, comment, created_at}. Raises 404 session_not_found, 409 not_rateable / already_rated (detail.rating), 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.rate_session(uuid, int, text) TO autodoc_customer;

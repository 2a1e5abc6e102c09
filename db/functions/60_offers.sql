-- Offers: the top candidates of a matching round become targeted offers (session_assignments with
-- status 'offered', priority high/medium/low, an expiry from app.matching_settings). The first
-- mechanic to accept gets the session; the other offers are withdrawn (trigger
-- sessions_60_close_matching, so any other way a session gets a mechanic or is cancelled closes the
-- offers the same way). When every offer of a round is declined or expired, the next round offers
-- the next best mechanics (never one who had an offer before), up to max_rounds; then the session
-- is unmatched and the customer is told (email + live event) that they can schedule or join the
-- waitlist. A chosen mechanic (preferred, immediate) gets one targeted offer and no re-matching.
--
-- Locks, always in this order: the mechanic's time (app_private.lock_mechanic_time, accept only),
-- then the session row, then its assignments and its app.session_matching row. Every function that
-- changes a session's offers locks the session row first, so accept, decline, expiry, the next
-- round and a cancellation of one session run one at a time; sessions never wait for each other.
--
-- Live events (app_private.emit_live_event, same transaction; see docs/events.md):
--   offer.created / offer.withdrawn / offer.expired   to the mechanic of the offer
--   session.status {status: offered | assigned | unmatched | cancelled}   to the session's customer
-- Emails (outbox email.send): mechanic_offer (mechanic), mechanic_found (customer, immediate; a
-- scheduled session's assignment email is the booking domain's mechanic_assigned), no_mechanic_found.

-- offer_json(offer): an offer as the mechanic sees it (the session's facts, no customer identity).
-- Owner only.
CREATE OR REPLACE FUNCTION app_private.offer_json(p_offer_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  RETURN (
    SELECT jsonb_build_object(
      'offer_id', a.id, 'session_id', a.session_id, 'status', a.status, 'priority', a.priority,
      'offered_at', a.offered_at, 'expires_at', a.expires_at, 'match_score', a.match_score,
      'match_reasons', a.match_reasons,
      'session', jsonb_build_object(
        'type', s.type, 'service_mode', s.service_mode, 'plan_code', s.plan_code, 'plan_name', p.name,
        'duration_minutes', p.duration_minutes, 'concern', s.concern, 'concern_category', s.concern_category,
        'is_urgent', s.is_urgent, 'is_immediate', s.scheduled_for IS NULL, 'starts_at', lower(s.period),
        'ends_at', s.ends_at, 'vehicle', CASE WHEN v.id IS NOT NULL THEN
                                            jsonb_build_object('year', v.year, 'make', v.make, 'model', v.model) END))
    FROM app.session_assignments a
    JOIN app.sessions s ON s.id = a.session_id
    JOIN app.plans p ON p.code = s.plan_code
    LEFT JOIN app.vehicles v ON v.id = s.vehicle_id
    WHERE a.id = p_offer_id);
END
$$;

-- matching_session_event(session, status, extra): the customer's live event about matching
-- (kind session.status). Owner only.
CREATE OR REPLACE FUNCTION app_private.matching_session_event(p_session_id uuid, p_status text,
                                                              p_extra jsonb DEFAULT '{}'::jsonb)
RETURNS bigint
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
  v_m app.session_matching;
BEGIN
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id;
  SELECT * INTO v_m FROM app.session_matching m WHERE m.session_id = p_session_id;
  RETURN app_private.emit_live_event('session.status', ARRAY[v_s.customer_id],
    jsonb_build_object('session_id', v_s.id, 'status', p_status, 'session_status', v_s.status,
                       'is_immediate', v_s.scheduled_for IS NULL, 'round', v_m.round,
                       'max_rounds', (app_private.matching_settings()).max_rounds)
      || coalesce(p_extra, '{}'::jsonb),
    v_s.id);
END
$$;

-- enqueue_offer_email(offer): the offer email to its mechanic (template mechanic_offer), once per
-- offer. Owner only.
CREATE OR REPLACE FUNCTION app_private.enqueue_offer_email(p_offer_id uuid) RETURNS bigint
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_a app.session_assignments;
  v_to jsonb;
  v_zone text;
BEGIN
  SELECT * INTO v_a FROM app.session_assignments a WHERE a.id = p_offer_id;
  SELECT jsonb_build_object('id', m.user_id, 'email', u.email, 'name', m.display_name),
         coalesce(w.timezone, m.timezone)
  INTO v_to, v_zone
  FROM app.mechanics m JOIN app.users u ON u.id = m.user_id LEFT JOIN app.workshops w ON w.id = m.workshop_id
  WHERE m.user_id = v_a.mechanic_id;
  IF v_to ->> 'email' IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN app_private.outbox_enqueue('email.send', format('email:%s:mechanic_offer:%s', v_a.session_id, v_a.mechanic_id),
    jsonb_build_object(
      'template', 'mechanic_offer', 'recipient_role', 'mechanic',
      -- the mechanic reads times in their (workshop's) zone: the worker formats local_start in it
      'to', jsonb_build_object('email', v_to ->> 'email', 'name', v_to ->> 'name', 'timezone', v_zone),
      -- the customer's identity is not the mechanic's business until they accept
      'context', (app_private.session_email_context(v_a.session_id) - 'customer' - 'mechanic')
                 || jsonb_build_object(
                      'offered_mechanic', v_to - 'email',
                      'offer', jsonb_build_object(
                        'id', v_a.id, 'priority', v_a.priority, 'expires_at', v_a.expires_at,
                        'match_score', v_a.match_score, 'match_reasons', v_a.match_reasons),
                      'links', jsonb_build_object('offers', '/mechanic/offers'))),
    v_a.session_id);
END
$$;

-- open_offer(session, mechanic, priority, score, reasons): one offer, expiring now + the setting's
-- time to answer (never after a scheduled start), with its live event and email. Returns its id.
-- Owner only.
CREATE OR REPLACE FUNCTION app_private.open_offer(p_session app.sessions, p_mechanic_id uuid, p_priority text,
                                                  p_score numeric, p_reasons jsonb) RETURNS uuid
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_set app.matching_settings := app_private.matching_settings();
  v_now timestamptz := app_private.now();
  v_expires timestamptz;
  v_offer uuid;
BEGIN
  v_expires := v_now + CASE WHEN p_session.scheduled_for IS NULL THEN v_set.offer_ttl_immediate
                            ELSE v_set.offer_ttl_scheduled END;
  IF p_session.scheduled_for IS NOT NULL THEN
    v_expires := least(v_expires, p_session.scheduled_for);
  END IF;
  INSERT INTO app.session_assignments (session_id, mechanic_id, status, priority, match_score, match_reasons,
                                       offered_at, expires_at)
  VALUES (p_session.id, p_mechanic_id, 'offered', p_priority, p_score, coalesce(p_reasons, '[]'::jsonb), v_now, v_expires)
  RETURNING id INTO v_offer;
  PERFORM app_private.emit_live_event('offer.created', ARRAY[p_mechanic_id], app_private.offer_json(v_offer),
                                      p_session.id);
  PERFORM app_private.enqueue_offer_email(v_offer);
  RETURN v_offer;
END
$$;

-- open_offers(session): the next round's offers: the best candidates not offered before, priority by
-- rank (1 high, 2 medium, the rest low). The first round of an immediate request of a customer whose
-- waitlist turn brought a mechanic on shift (app_private.waitlist_preferred_mechanic, band 70) offers
-- that mechanic alone first, when free; declined or unanswered, the next round is ordinary matching.
-- Returns how many offers. Owner only.
CREATE OR REPLACE FUNCTION app_private.open_offers(p_session app.sessions, p_round integer) RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_count integer := 0;
  v_turn uuid;
  c record;
BEGIN
  IF p_round = 0 AND p_session.scheduled_for IS NULL THEN
    v_turn := app_private.waitlist_preferred_mechanic(p_session.customer_id);
    IF v_turn IS NOT NULL AND v_turn IS DISTINCT FROM p_session.mechanic_id
       AND cardinality(app_private.mechanic_unavailable_reasons(v_turn, p_session)) = 0 THEN
      PERFORM app_private.open_offer(p_session, v_turn, 'high', NULL,
        jsonb_build_array(jsonb_build_object('criterion', 'waitlist_turn', 'points', 0,
          'reason', 'Came on shift during the customer''s waitlist turn: offered first')));
      RETURN 1;
    END IF;
  END IF;
  FOR c IN SELECT * FROM app_private.match_candidates(p_session.id, (app_private.matching_settings()).offers_per_round,
                                                      true) LOOP
    PERFORM app_private.open_offer(p_session, c.mechanic_id, CASE c.rank WHEN 1 THEN 'high' WHEN 2 THEN 'medium' ELSE 'low' END,
                                   c.match_score, c.match_reasons);
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;

-- finish_unmatched(session): nobody took the session. The matching record becomes 'unmatched'.
-- An immediate request is cancelled (reason expired; nothing was charged: immediate sessions are
-- paid after the waiver); the customer gets the no_mechanic_found email and a session.status
-- 'unmatched' event, both with the choices (schedule, waitlist). A scheduled booking was paid: it
-- is cancelled and refunded in full (app_private.refund_unmatched, which also tells the customer);
-- when that cannot happen right now (a charge still processing, the customer row busy), the
-- deferred-matching job's next run does it. Owner only; the caller holds the session row lock.
CREATE OR REPLACE FUNCTION app_private.finish_unmatched(p_session_id uuid) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
BEGIN
  UPDATE app.session_matching m SET status = 'unmatched', closed_at = app_private.now(), updated_at = app_private.now()
  WHERE m.session_id = p_session_id AND m.status = 'offering';
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id;
  IF v_s.scheduled_for IS NOT NULL THEN
    PERFORM app_private.refund_unmatched(p_session_id);
    RETURN;
  END IF;
  IF v_s.status = 'pending' THEN
    PERFORM app_private.transition_session(p_session_id, 'cancelled', 'expired',
                                           jsonb_build_object('via', 'matching', 'outcome', 'unmatched'));
  END IF;
  PERFORM app_private.matching_session_event(p_session_id, 'unmatched',
                                             jsonb_build_object('choices', app_private.unmatched_choices()));
  PERFORM app_private.enqueue_session_email(p_session_id, 'no_mechanic_found', 'customer',
            format('email:%s:no_mechanic_found:customer', p_session_id), false,
            jsonb_build_object('is_immediate', true, 'choices', app_private.unmatched_choices()));
END
$$;

-- unmatched_choices(): what a customer nobody took can do next (frontend paths): schedule, or join
-- the waitlist. Owner only.
CREATE OR REPLACE FUNCTION app_private.unmatched_choices() RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT jsonb_build_object('schedule', '/customer/book?mode=schedule', 'waitlist', '/customer/waitlist')
$$;

-- refund_unmatched(session): a scheduled booking no mechanic took (matching gave up, or its start
-- passed without a mechanic) is cancelled under the money policy's `unmatched` tier — everything
-- paid comes back: the card refunded through the refund path, credit spent on it given back
-- (app_private.cancel_with_policy, reason unmatched; the session's cancel_reason is expired). The
-- matching record ends 'unmatched' (created so if matching never ran). The customer gets a
-- session.status 'unmatched' event with the receipt, and the notifications trigger sends the
-- no_mechanic_found email with the receipt and the calendar CANCEL (instead of the plain
-- cancellation email). Exactly once: cancel_with_policy records one receipt per session, and
-- the checks below run under its locks. Never waits for a lock: the customer's row and the
-- session's are taken SKIP LOCKED (callers may hold the session row already: the customer row is
-- then taken out of the usual order, so it must not wait); a booking whose charge is still being
-- processed is left alone too. Returns true when it cancelled now; false leaves it to the next
-- run of api.run_deferred_matching. Owner only.
CREATE OR REPLACE FUNCTION app_private.refund_unmatched(p_session_id uuid) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
  v_receipt jsonb;
BEGIN
  PERFORM 1 FROM app.customers c
  WHERE c.user_id = (SELECT s.customer_id FROM app.sessions s WHERE s.id = p_session_id)
  FOR NO KEY UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id FOR UPDATE SKIP LOCKED;
  IF v_s.id IS NULL OR v_s.scheduled_for IS NULL OR v_s.mechanic_id IS NOT NULL
     OR v_s.status NOT IN ('scheduled', 'pending')
     OR (app_private.cancellation_breakdown(v_s, 'unmatched', app_private.now()) ->> 'payment_pending')::boolean THEN
    RETURN false;
  END IF;
  -- before the cancellation: the close trigger then finds no open matching record to call cancelled
  INSERT INTO app.session_matching AS m (session_id, customer_id, status, closed_at, created_at, updated_at)
  VALUES (v_s.id, v_s.customer_id, 'unmatched', app_private.now(), app_private.now(), app_private.now())
  ON CONFLICT (session_id) DO UPDATE SET status = 'unmatched', closed_at = excluded.closed_at,
                                         updated_at = excluded.updated_at
  WHERE m.status = 'offering';
  v_receipt := app_private.cancel_with_policy(v_s.id, 'unmatched', 'No mechanic took the booking');
  PERFORM app_private.matching_session_event(v_s.id, 'unmatched',
    jsonb_build_object('choices', app_private.unmatched_choices(),
                       'refund', v_receipt - 'already_cancelled' - 'reason'));
  RETURN true;
END
$$;

-- next_matching_round(session): called whenever a round may be over (matching starts, an offer is
-- declined or expires). Does nothing unless the session is still being matched and has no open
-- offer; then offers the next round, or, after the last round (or a targeted request, or when nobody
-- is left, or a scheduled start has come), finishes unmatched. Returns the number of new offers.
-- Owner only; the caller holds the session row lock (see the header).
CREATE OR REPLACE FUNCTION app_private.next_matching_round(p_session_id uuid) RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_m app.session_matching;
  v_s app.sessions;
  v_count integer;
BEGIN
  SELECT * INTO v_m FROM app.session_matching m WHERE m.session_id = p_session_id FOR UPDATE;
  IF v_m.status IS DISTINCT FROM 'offering'
     OR EXISTS (SELECT FROM app.session_assignments a WHERE a.session_id = p_session_id AND a.status = 'offered') THEN
    RETURN 0;
  END IF;
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id;
  IF v_s.mechanic_id IS NOT NULL OR v_s.status NOT IN ('pending', 'scheduled') THEN
    -- taken or over by other means (the close trigger normally got here first)
    UPDATE app.session_matching m SET status = CASE WHEN v_s.mechanic_id IS NOT NULL THEN 'assigned' ELSE 'cancelled' END,
                                      closed_at = app_private.now(), updated_at = app_private.now()
    WHERE m.session_id = p_session_id;
    RETURN 0;
  END IF;
  -- the last round is over, or a scheduled start came without a mechanic (its offers expire then)
  IF v_m.targeted OR v_m.round >= (app_private.matching_settings()).max_rounds
     OR (v_s.scheduled_for IS NOT NULL AND v_s.scheduled_for <= app_private.now()) THEN
    PERFORM app_private.finish_unmatched(p_session_id);
    RETURN 0;
  END IF;
  v_count := app_private.open_offers(v_s, v_m.round);
  IF v_count = 0 THEN
    PERFORM app_private.finish_unmatched(p_session_id);
    RETURN 0;
  END IF;
  UPDATE app.session_matching m SET round = m.round + 1, round_started_at = app_private.now(), updated_at = app_private.now()
  WHERE m.session_id = p_session_id;
  PERFORM app_private.matching_session_event(p_session_id, 'offered', jsonb_build_object('offers', v_count));
  RETURN v_count;
END
$$;

-- start_matching(session): begin matching a session without a mechanic (immediate at creation,
-- scheduled by the deferred job). Idempotent: the session_matching row is created once, so a second
-- call (a job run twice, or late) changes nothing and returns false. Owner only.
CREATE OR REPLACE FUNCTION app_private.start_matching(p_session_id uuid) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
BEGIN
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id FOR NO KEY UPDATE;
  IF v_s.id IS NULL OR v_s.mechanic_id IS NOT NULL OR v_s.status NOT IN ('pending', 'scheduled') THEN
    RETURN false;
  END IF;
  INSERT INTO app.session_matching (session_id, customer_id, created_at, updated_at)
  VALUES (p_session_id, v_s.customer_id, app_private.now(), app_private.now())
  ON CONFLICT (session_id) DO NOTHING;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM app_private.next_matching_round(p_session_id);
  RETURN true;
END
$$;

-- start_immediate_matching(session): the immediate branch of api.create_session calls this once the
-- session (and, for a chosen mechanic, its targeted offer) exists. A chosen mechanic: no matching;
-- the targeted offer gets the immediate expiry, its live event and email. Otherwise: matching starts.
-- Owner only.
CREATE OR REPLACE FUNCTION app_private.start_immediate_matching(p_session_id uuid) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_offer app.session_assignments;
  v_customer uuid;
BEGIN
  SELECT * INTO v_offer FROM app.session_assignments a WHERE a.session_id = p_session_id AND a.status = 'offered';
  IF v_offer.id IS NULL THEN
    PERFORM app_private.start_matching(p_session_id);
    RETURN;
  END IF;
  SELECT s.customer_id INTO v_customer FROM app.sessions s WHERE s.id = p_session_id;
  INSERT INTO app.session_matching (session_id, customer_id, targeted, round, round_started_at, created_at, updated_at)
  VALUES (p_session_id, v_customer, true, 1, app_private.now(), app_private.now(), app_private.now());
  UPDATE app.session_assignments a
  SET expires_at = app_private.now() + (app_private.matching_settings()).offer_ttl_immediate, offered_at = app_private.now()
  WHERE a.id = v_offer.id;
  PERFORM app_private.emit_live_event('offer.created', ARRAY[v_offer.mechanic_id], app_private.offer_json(v_offer.id),
                                      p_session_id);
  PERFORM app_private.enqueue_offer_email(v_offer.id);
  PERFORM app_private.matching_session_event(p_session_id, 'offered', jsonb_build_object('offers', 1));
END
$$;

------------------------------------------------------------------------------------------------
-- Public interface
------------------------------------------------------------------------------------------------

-- api.accept_offer(offer): the calling mechanic takes the session. First accept wins: the
-- mechanic's time lock (app_private.lock_mechanic_time) first, then the session row, then the
-- checks: the offer must still be open and unexpired, the session still without a mechanic, the
-- mechanic free for its time (band 10's rules). The session gets the mechanic (an immediate one
-- becomes 'waiting'); the exclusion constraint sessions_no_mechanic_overlap still decides. The
-- other offers are withdrawn (trigger). Returns the offer JSON (status accepted).
-- Raises 403 forbidden (not a mechanic), 404 offer_not_found (also another mechanic's offer),
-- 409 offer_closed (withdrawn, declined, expired or the session was taken), 409 offer_expired,
-- 409 slot_unavailable (detail: reasons), 23P01 sessions_no_mechanic_overlap.
CREATE OR REPLACE FUNCTION api.accept_offer(p_offer_id uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_uid uuid := app_private.current_user_id();
  v_now timestamptz := app_private.now();
  v_a app.session_assignments;
  v_s app.sessions;
  v_reasons text[];
BEGIN
  IF app_private.current_app_role() IS DISTINCT FROM 'mechanic' OR v_uid IS NULL THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only a mechanic can accept an offer');
  END IF;
  SELECT * INTO v_a FROM app.session_assignments a WHERE a.id = p_offer_id AND a.mechanic_id = v_uid;
  IF v_a.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'offer_not_found', 'Offer not found', jsonb_build_object('offer_id', p_offer_id));
  END IF;
  PERFORM app_private.lock_mechanic_time(v_uid);
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = v_a.session_id FOR UPDATE;
  SELECT * INTO v_a FROM app.session_assignments a WHERE a.id = p_offer_id FOR UPDATE;
  IF v_a.status <> 'offered' OR v_s.mechanic_id IS NOT NULL OR v_s.status NOT IN ('pending', 'scheduled') THEN
    PERFORM app_private.raise_error(409, 'offer_closed', 'This offer is no longer open',
      jsonb_build_object('offer_id', v_a.id, 'status', v_a.status, 'session_status', v_s.status));
  END IF;
  IF v_a.expires_at IS NOT NULL AND v_a.expires_at <= v_now THEN
    PERFORM app_private.raise_error(409, 'offer_expired', 'This offer has expired',
      jsonb_build_object('offer_id', v_a.id, 'expired_at', v_a.expires_at));
  END IF;
  v_reasons := app_private.mechanic_unavailable_reasons(v_uid, v_s);
  IF cardinality(v_reasons) > 0 THEN
    PERFORM app_private.raise_error(409, 'slot_unavailable', 'That time slot is not available',
      jsonb_build_object('offer_id', v_a.id, 'starts_at', lower(v_s.period), 'ends_at', v_s.ends_at,
                         'reasons', to_jsonb(v_reasons)));
  END IF;
  UPDATE app.session_assignments a SET status = 'accepted', responded_at = v_now WHERE a.id = v_a.id;
  UPDATE app.sessions s
  SET mechanic_id = v_uid, status = CASE WHEN s.scheduled_for IS NULL THEN 'waiting' ELSE s.status END
  WHERE s.id = v_s.id;   -- the close trigger withdraws the other offers and closes the matching record

  PERFORM app_private.emit_live_event('offer.accepted', ARRAY[v_uid], app_private.offer_json(v_a.id), v_s.id);
  PERFORM app_private.matching_session_event(v_s.id, 'assigned',
    (SELECT jsonb_build_object('mechanic', jsonb_build_object('id', m.user_id, 'name', m.display_name))
     FROM app.mechanics m WHERE m.user_id = v_uid));
  IF v_s.scheduled_for IS NULL THEN   -- scheduled: the booking domain's mechanic_assigned email (trigger)
    PERFORM app_private.enqueue_session_email(v_s.id, 'mechanic_found', 'customer',
              format('email:%s:mechanic_found:customer', v_s.id));
  END IF;
  RETURN app_private.offer_json(v_a.id);
END
$$;
COMMENT ON FUNCTION api.accept_offer(uuid) IS
'The calling mechanic accepts an open offer: first accept wins (mechanic time lock, then the session row). The session gets the mechanic (immediate: status waiting), the other offers are withdrawn, the customer gets a session.status assigned event and (immediate) the mechanic_found email. Returns the offer. Mechanic. Raises 403 forbidden, 404 offer_not_found, 409 offer_closed/offer_expired/slot_unavailable (detail.reasons), 23P01 sessions_no_mechanic_overlap.';
GRANT EXECUTE ON FUNCTION api.accept_offer(uuid) TO autodoc_mechanic;

-- api.decline_offer(offer, reason?): the calling mechanic declines an open offer (reason optional,
-- at most 500 characters). When it was the round's last open offer, the next round starts (or the
-- session ends unmatched). Returns the offer JSON (status declined).
-- Raises 403 forbidden, 404 offer_not_found, 409 offer_closed, 422 invalid_value (reason too long).
CREATE OR REPLACE FUNCTION api.decline_offer(p_offer_id uuid, p_reason text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_uid uuid := app_private.current_user_id();
  v_a app.session_assignments;
BEGIN
  IF app_private.current_app_role() IS DISTINCT FROM 'mechanic' OR v_uid IS NULL THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only a mechanic can decline an offer');
  END IF;
  IF char_length(p_reason) > 500 THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'reason must be at most 500 characters',
      jsonb_build_object('field', 'reason'));
  END IF;
  SELECT * INTO v_a FROM app.session_assignments a WHERE a.id = p_offer_id AND a.mechanic_id = v_uid;
  IF v_a.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'offer_not_found', 'Offer not found', jsonb_build_object('offer_id', p_offer_id));
  END IF;
  PERFORM 1 FROM app.sessions s WHERE s.id = v_a.session_id FOR NO KEY UPDATE;
  UPDATE app.session_assignments a
  SET status = 'declined', responded_at = app_private.now(), decline_reason = nullif(btrim(p_reason), '')
  WHERE a.id = p_offer_id AND a.status = 'offered';
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(409, 'offer_closed', 'This offer is no longer open',
      jsonb_build_object('offer_id', p_offer_id,
                         'status', (SELECT a.status FROM app.session_assignments a WHERE a.id = p_offer_id)));
  END IF;
  PERFORM app_private.next_matching_round(v_a.session_id);
  RETURN app_private.offer_json(p_offer_id);
END
$$;
COMMENT ON FUNCTION api.decline_offer(uuid, text) IS
'The calling mechanic declines an open offer (optional reason, max 500 characters). The last open offer of a round declined starts the next round (or ends unmatched). Returns the offer. Mechanic. Raises 403 forbidden, 404 offer_not_found, 409 offer_closed, 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.decline_offer(uuid, text) TO autodoc_mechanic;

-- api.my_offers(open_only?): the calling mechanic's offers, newest first; open_only (default) = the
-- offers they can still accept (status offered, not expired). SECURITY INVOKER: row-level security
-- shows a mechanic only their own assignments and the sessions offered to them.
CREATE OR REPLACE FUNCTION api.my_offers(p_open_only boolean DEFAULT true)
RETURNS TABLE (offer_id uuid, session_id uuid, status text, priority text, offered_at timestamptz,
               expires_at timestamptz, responded_at timestamptz, match_score numeric, match_reasons jsonb,
               decline_reason text, type text, service_mode text, plan_code text, plan_name text,
               duration_minutes integer, concern text, concern_category text, is_urgent boolean,
               is_immediate boolean, starts_at timestamptz, ends_at timestamptz, vehicle jsonb)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT a.id, a.session_id, a.status, a.priority, a.offered_at, a.expires_at, a.responded_at, a.match_score,
         a.match_reasons, a.decline_reason, s.type, s.service_mode, s.plan_code, p.name, p.duration_minutes,
         s.concern, s.concern_category, s.is_urgent, s.scheduled_for IS NULL, lower(s.period), s.ends_at,
         CASE WHEN v.id IS NOT NULL THEN jsonb_build_object('year', v.year, 'make', v.make, 'model', v.model) END
  FROM app.session_assignments a
  LEFT JOIN app.sessions s ON s.id = a.session_id
  LEFT JOIN app.plans p ON p.code = s.plan_code
  LEFT JOIN app.vehicles v ON v.id = s.vehicle_id
  WHERE a.mechanic_id = app_private.current_user_id()
    AND a.status IN ('offered', 'accepted', 'declined', 'expired', 'withdrawn')
    AND (NOT coalesce(p_open_only, true)
         OR (a.status = 'offered' AND (a.expires_at IS NULL OR a.expires_at > app_private.now())))
  ORDER BY a.offered_at DESC, a.id
  LIMIT 200
$$;
COMMENT ON FUNCTION api.my_offers(boolean) IS
'The calling mechanic''s offers, newest first (at most 200): p_open_only (default true) = still open and unexpired; false = also accepted/declined/expired/withdrawn. Each with priority, expiry, match_score/match_reasons and the session''s facts (no customer identity). RLS: own assignments only. Mechanic.';
GRANT EXECUTE ON FUNCTION api.my_offers(boolean) TO autodoc_mechanic;

-- api.session_matching(session): where matching of a session stands: {session_id, status (offering,
-- assigned, unmatched, cancelled; null when the session was never matched), targeted, round,
-- max_rounds, open_offers, offers_expire_at, mechanic}. The session's customer or an admin.
-- Raises 404 session_not_found (also another customer's session).
CREATE OR REPLACE FUNCTION api.session_matching(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
  v_m app.session_matching;
BEGIN
  SELECT * INTO v_s FROM app.sessions s
  WHERE s.id = p_session_id AND s.type IS NOT NULL
    AND (app_private.is_admin() OR (app_private.current_app_role() = 'customer'
                                    AND s.customer_id = app_private.current_user_id()));
  IF v_s.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found',
      jsonb_build_object('session_id', p_session_id));
  END IF;
  SELECT * INTO v_m FROM app.session_matching m WHERE m.session_id = p_session_id;
  RETURN jsonb_build_object(
    'session_id', v_s.id, 'session_status', v_s.status, 'status', v_m.status, 'targeted', v_m.targeted,
    'round', coalesce(v_m.round, 0), 'max_rounds', (app_private.matching_settings()).max_rounds,
    'open_offers', (SELECT count(*) FROM app.session_assignments a WHERE a.session_id = v_s.id AND a.status = 'offered'),
    'offers_expire_at', (SELECT max(a.expires_at) FROM app.session_assignments a
                          WHERE a.session_id = v_s.id AND a.status = 'offered'),
    'mechanic', (SELECT jsonb_build_object('id', m.user_id, 'name', m.display_name)
                 FROM app.mechanics m WHERE m.user_id = v_s.mechanic_id));
END
$$;
COMMENT ON FUNCTION api.session_matching(uuid) IS
'Where matching of a session stands: {session_id, session_status, status (offering|assigned|unmatched|cancelled|null), targeted, round, max_rounds, open_offers, offers_expire_at, mechanic}. The session''s customer or an admin. Raises 404 session_not_found.';
GRANT EXECUTE ON FUNCTION api.session_matching(uuid) TO autodoc_customer, autodoc_admin;

-- api.cancel_request(session): the customer withdraws an immediate request that no mechanic has
-- accepted yet (status pending, no mechanic): the session is cancelled (reason customer), the open
-- offers are withdrawn, nothing is charged (immediate sessions are paid after the waiver).
-- The session's customer or an admin. Returns the session JSON.
-- Raises 404 session_not_found, 409 not_cancellable (already accepted, scheduled, or over).
CREATE OR REPLACE FUNCTION api.cancel_request(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
BEGIN
  SELECT * INTO v_s FROM app.sessions s
  WHERE s.id = p_session_id AND s.type IS NOT NULL
    AND (app_private.is_admin() OR (app_private.current_app_role() = 'customer'
                                    AND s.customer_id = app_private.current_user_id()))
  FOR UPDATE;
  IF v_s.id IS NULL THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found',
      jsonb_build_object('session_id', p_session_id));
  END IF;
  IF v_s.scheduled_for IS NOT NULL OR v_s.status <> 'pending' OR v_s.mechanic_id IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'not_cancellable',
      'Only an immediate request no mechanic has accepted yet can be withdrawn here',
      jsonb_build_object('session_id', v_s.id, 'status', v_s.status, 'is_immediate', v_s.scheduled_for IS NULL,
                         'mechanic_id', v_s.mechanic_id));
  END IF;
  RETURN app_private.session_json(app_private.transition_session(v_s.id, 'cancelled', 'customer',
                                                                 jsonb_build_object('via', 'cancel_request')));
END
$$;
COMMENT ON FUNCTION api.cancel_request(uuid) IS
'Withdraw an immediate request no mechanic has accepted yet: the session is cancelled (reason customer), open offers are withdrawn (offer.withdrawn events), nothing is charged. The session''s customer or an admin. Returns the session. Raises 404 session_not_found, 409 not_cancellable.';
GRANT EXECUTE ON FUNCTION api.cancel_request(uuid) TO autodoc_customer, autodoc_admin;

------------------------------------------------------------------------------------------------
-- Jobs (pg_cron, every minute; db/jobs/60_matching.sql)
------------------------------------------------------------------------------------------------

-- api.expire_offers(): every open offer whose expiry passed becomes 'expired' (offer.expired event to
-- its mechanic); a session left without open offers moves to its next round. Sessions another run
-- (or an accept) is working on are skipped (SKIP LOCKED) and caught by the next run; running it
-- twice changes nothing the second time. Returns how many offers expired. Owner (pg_cron), admin.
CREATE OR REPLACE FUNCTION api.expire_offers() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
  v_session uuid;
  v_offer record;
  v_count integer := 0;
BEGIN
  FOR v_session IN
    SELECT DISTINCT a.session_id FROM app.session_assignments a WHERE a.status = 'offered' AND a.expires_at <= v_now
  LOOP
    PERFORM 1 FROM app.sessions s WHERE s.id = v_session FOR NO KEY UPDATE SKIP LOCKED;
    CONTINUE WHEN NOT FOUND;
    FOR v_offer IN
      UPDATE app.session_assignments a SET status = 'expired', responded_at = v_now
      WHERE a.session_id = v_session AND a.status = 'offered' AND a.expires_at <= v_now
      RETURNING a.id, a.mechanic_id
    LOOP
      PERFORM app_private.emit_live_event('offer.expired', ARRAY[v_offer.mechanic_id],
        jsonb_build_object('offer_id', v_offer.id, 'session_id', v_session), v_session);
      v_count := v_count + 1;
    END LOOP;
    PERFORM app_private.next_matching_round(v_session);
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.expire_offers() IS
'pg_cron job autodoc-expire-offers (every minute): expire every open offer past its expires_at (offer.expired event) and start the next matching round of sessions left without open offers (or end them unmatched). Idempotent, safe to run concurrently (SKIP LOCKED). Returns the number expired. Admin.';
GRANT EXECUTE ON FUNCTION api.expire_offers() TO autodoc_admin;

-- api.run_deferred_matching(): match every scheduled booking without a mechanic whose
-- matching_will_run_at (start - matching_lead) has come and whose start is still ahead — also those
-- missed while the database was down. Each session is matched once (its app.session_matching row is
-- the proof; SKIP LOCKED lets two runs share the work). Then refund every scheduled booking still
-- without a mechanic whose matching gave up or whose start has passed
-- (app_private.refund_unmatched: once per session, whatever runs twice, late or at once). A session
-- whose matching or refund fails is logged (WARNING) and retried on the next run without stopping
-- the others. Returns how many sessions started matching. Owner (pg_cron), admin.
CREATE OR REPLACE FUNCTION api.run_deferred_matching() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
  v_session uuid;
  v_count integer := 0;
BEGIN
  FOR v_session IN
    SELECT s.id FROM app.sessions s
    WHERE s.matching_will_run_at <= v_now AND s.mechanic_id IS NULL AND s.status = 'scheduled'
      AND s.scheduled_for > v_now
      AND NOT EXISTS (SELECT FROM app.session_matching m WHERE m.session_id = s.id)
    ORDER BY s.scheduled_for
    FOR NO KEY UPDATE OF s SKIP LOCKED
  LOOP
    BEGIN
      IF app_private.start_matching(v_session) THEN
        v_count := v_count + 1;
      END IF;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'deferred matching of session % failed: % (%)', v_session, SQLERRM, SQLSTATE;
    END;
  END LOOP;
  -- Paid for, and nobody will take it: the start passed without a mechanic (matching never ran,
  -- or its last offers expired at the start), or matching gave up and the refund had to wait. A
  -- session still being offered before its start is matching's business. No row lock here:
  -- refund_unmatched takes the customer's, then the session's (SKIP LOCKED), and checks again.
  FOR v_session IN
    SELECT s.id FROM app.sessions s
    LEFT JOIN app.session_matching m ON m.session_id = s.id
    WHERE s.matching_will_run_at <= v_now AND s.mechanic_id IS NULL AND s.status IN ('scheduled', 'pending')
      AND s.scheduled_for IS NOT NULL
      AND (m.status = 'unmatched' OR (s.scheduled_for <= v_now AND m.status IS DISTINCT FROM 'offering'))
    ORDER BY s.scheduled_for
  LOOP
    BEGIN
      PERFORM app_private.refund_unmatched(v_session);
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'refunding unmatched session % failed: % (%)', v_session, SQLERRM, SQLSTATE;
    END;
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.run_deferred_matching() IS
'pg_cron job autodoc-run-deferred-matching (every minute): start matching every scheduled booking without a mechanic whose matching time (start - matching_lead) has come and whose start is still ahead, including those missed while down; then cancel and refund in full (money policy tier unmatched) every scheduled booking still without a mechanic whose matching gave up or whose start has passed. Once per session (idempotent, SKIP LOCKED). Returns how many started matching. Admin.';
GRANT EXECUTE ON FUNCTION api.run_deferred_matching() TO autodoc_admin;

-- Waivers (band 80): versioned texts, the signing windows of SPEC section 7, the signature itself
-- (a validated data:image/png;base64 URL) and the one read that shows its image.
--
-- Signing windows (app_private.signing_window), all read from the trusted clock:
--   immediate            after a mechanic accepted (status waiting) and before payment (signing is
--                        what triggers the charge), until the session's end;
--   scheduled online     from start - session_rules.sign_opens_before (15 min) ...
--   scheduled in person  ... the same times, on arrival: the customer signs on the mechanic's device
--                        (the mechanic submits it) or on their own phone; mode in_person;
--   both scheduled modes close at start + session_rules.no_show_after (15 min): from then on an
--   unsigned session is a no-show (db/functions/80_no_shows.sql), so the job and a late signature
--   can never both win.

-- session_rules(): the one settings row. Owner only.
CREATE OR REPLACE FUNCTION app_private.session_rules() RETURNS app.session_rules
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v app.session_rules;
BEGIN
  SELECT * INTO v FROM app.session_rules r WHERE r.id;
  RETURN v;
END
$$;

-- lock_session(session): lock a session for a lifecycle change in the booking functions' order —
-- the customer's row first (FOR NO KEY UPDATE), then the session (FOR UPDATE) — so signing,
-- joining, completing, cancelling and the no-show job serialise per session and never deadlock
-- with the booking and cancellation paths. Returns the locked row (NULL fields when not found).
-- Owner only; raises nothing.
CREATE OR REPLACE FUNCTION app_private.lock_session(p_session_id uuid) RETURNS app.sessions
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v app.sessions;
BEGIN
  PERFORM 1 FROM app.customers c
   WHERE c.user_id = (SELECT s.customer_id FROM app.sessions s WHERE s.id = p_session_id)
     FOR NO KEY UPDATE;
  SELECT * INTO v FROM app.sessions s WHERE s.id = p_session_id AND s.type IS NOT NULL FOR UPDATE;
  RETURN v;
END
$$;

-- waiver_version_json(version): {version, title, body, published_at}; NULL when unknown. Owner only.
CREATE OR REPLACE FUNCTION app_private.waiver_version_json(p_version int) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  RETURN (SELECT jsonb_build_object('version', w.version, 'title', w.title, 'body', w.body,
                                    'published_at', w.published_at)
            FROM app.waiver_versions w WHERE w.version = p_version);
END
$$;

-- signing_window(session): when the session's waiver may be signed, as
-- {kind: immediate|scheduled, mode, opens_at, closes_at, is_open, opens_when?}. opens_at is NULL
-- for an immediate session (it opens when a mechanic accepts: opens_when = mechanic_accepted).
-- Owner only; raises nothing.
CREATE OR REPLACE FUNCTION app_private.signing_window(p_session app.sessions) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_rules app.session_rules := app_private.session_rules();
  v_now timestamptz := app_private.now();
  v_opens timestamptz;
  v_closes timestamptz;
BEGIN
  IF p_session.scheduled_for IS NULL THEN
    RETURN jsonb_build_object('kind', 'immediate', 'mode', p_session.service_mode, 'opens_at', NULL,
                              'opens_when', 'mechanic_accepted', 'closes_at', p_session.ends_at,
                              'is_open', p_session.status = 'waiting' AND v_now < p_session.ends_at);
  END IF;
  v_opens := p_session.scheduled_for - v_rules.sign_opens_before;
  v_closes := p_session.scheduled_for + v_rules.no_show_after;
  RETURN jsonb_build_object('kind', 'scheduled', 'mode', p_session.service_mode, 'opens_at', v_opens,
                            'closes_at', v_closes,
                            'is_open', p_session.status IN ('scheduled', 'pending') AND v_now >= v_opens AND v_now < v_closes);
END
$$;

-- signature_bytes(data_url): the decoded size of a signature image when it is a real PNG in a
-- data:image/png;base64 URL no larger than session_rules.signature_max_bytes. Raises 422
-- invalid_signature with detail.reason: empty | not_data_url | not_base64 | too_large | not_png
-- (and max_bytes). Owner only.
CREATE OR REPLACE FUNCTION app_private.signature_bytes(p_data_url text) RETURNS int
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  c_prefix constant text := 'data:image/png;base64,';
  v_max int := (app_private.session_rules()).signature_max_bytes;
  v_b64 text;
  v_png bytea;
  v_reason text;
BEGIN
  IF p_data_url IS NULL OR btrim(p_data_url) = '' THEN
    v_reason := 'empty';
  ELSIF left(p_data_url, length(c_prefix)) <> c_prefix THEN
    v_reason := 'not_data_url';
  ELSE
    v_b64 := substr(p_data_url, length(c_prefix) + 1);
    IF v_b64 = '' THEN
      v_reason := 'empty';
    ELSIF length(v_b64) > (v_max + 2) / 3 * 4 THEN  -- checked before decoding anything large
      v_reason := 'too_large';
    ELSIF v_b64 !~ '^[A-Za-z0-9+/]+={0,2}$' OR length(v_b64) % 4 <> 0 THEN
      v_reason := 'not_base64';
    ELSE
      BEGIN
        v_png := decode(v_b64, 'base64');
      EXCEPTION WHEN invalid_parameter_value THEN
        v_reason := 'not_base64';
      END;
      IF v_reason IS NOT NULL THEN
        NULL;
      ELSIF length(v_png) > v_max THEN
        v_reason := 'too_large';
      -- the 8-byte PNG signature, then the IHDR chunk (length 13) that must come first
      ELSIF length(v_png) < 33 OR substr(v_png, 1, 16) <> '\x89504e470d0a1a0a0000000d49484452'::bytea THEN
        v_reason := 'not_png';
      END IF;
    END IF;
  END IF;
  IF v_reason IS NOT NULL THEN
    PERFORM app_private.raise_error(422, 'invalid_signature',
      CASE v_reason
        WHEN 'empty' THEN 'The signature is empty'
        WHEN 'not_data_url' THEN 'The signature must be a data:image/png;base64 URL'
        WHEN 'not_base64' THEN 'The signature is not valid base64'
        WHEN 'too_large' THEN format('The signature image is larger than %s bytes', v_max)
        ELSE 'The signature is not a PNG image' END,
      jsonb_build_object('field', 'signature', 'reason', v_reason, 'max_bytes', v_max));
  END IF;
  RETURN length(v_png);
END
$$;

-- session_paid(session): whether the session's price is paid where the join gate needs it: what
-- an immediate session's pot holds (the card charge once it succeeded, plus account credit spent on
-- it: band 40's ledger) covers the plan price, so a session paid wholly with credit, or a free
-- plan, is paid without any card charge. Scheduled sessions were charged at booking (a failed
-- charge cancelled them). Owner only.
CREATE OR REPLACE FUNCTION app_private.session_paid(p_session app.sessions) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  IF p_session.scheduled_for IS NOT NULL THEN
    RETURN true;
  END IF;
  RETURN app_private.session_pot_balance(p_session.id)
         >= (SELECT p.price_cents FROM app.plans p WHERE p.code = p_session.plan_code);
END
$$;

-- join_window(session): when the session may be joined, as {opens_at, closes_at, is_open}:
-- scheduled [start - session_rules.join_opens_before, end); immediate from the mechanic's accept
-- (status waiting) until the end. Owner only; raises nothing.
CREATE OR REPLACE FUNCTION app_private.join_window(p_session app.sessions) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
  v_opens timestamptz;
BEGIN
  IF p_session.scheduled_for IS NULL THEN
    RETURN jsonb_build_object('opens_at', NULL, 'opens_when', 'mechanic_accepted', 'closes_at', p_session.ends_at,
                              'is_open', p_session.status IN ('waiting', 'active') AND v_now < p_session.ends_at);
  END IF;
  v_opens := p_session.scheduled_for - (app_private.session_rules()).join_opens_before;
  RETURN jsonb_build_object('opens_at', v_opens, 'closes_at', p_session.ends_at,
                            'is_open', p_session.status IN ('scheduled', 'pending', 'active')
                                       AND v_now >= v_opens AND v_now < p_session.ends_at);
END
$$;

-- live_session(session): where a session stands in its live part, for the waiver page, the join
-- gate and the dashboards: {session_id, status, cancel_reason, is_immediate, service_mode,
-- starts_at, ends_at, customer_id, mechanic_id, waiver: {signed, version, mode, signed_at},
-- signing_window, join_window, paid, customer_joined_at, mechanic_joined_at, started_at,
-- completed_at, rated}. Never the signature image. Owner only (callers check access).
CREATE OR REPLACE FUNCTION app_private.live_session(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_s app.sessions;
  v_w app.waiver_signatures;
BEGIN
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id;
  IF v_s.id IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT * INTO v_w FROM app.waiver_signatures w WHERE w.session_id = p_session_id;
  RETURN jsonb_build_object(
    'session_id', v_s.id, 'status', v_s.status, 'cancel_reason', v_s.cancel_reason,
    'is_immediate', v_s.scheduled_for IS NULL, 'service_mode', v_s.service_mode,
    'starts_at', lower(v_s.period), 'ends_at', v_s.ends_at, 'customer_id', v_s.customer_id,
    'mechanic_id', v_s.mechanic_id,
    'waiver', jsonb_build_object('signed', v_w.id IS NOT NULL, 'version', v_w.waiver_version, 'mode', v_w.mode,
                                 'signed_at', v_w.signed_at),
    'signing_window', app_private.signing_window(v_s),
    'join_window', app_private.join_window(v_s),
    'paid', app_private.session_paid(v_s),
    'customer_joined_at', v_s.customer_joined_at, 'mechanic_joined_at', v_s.mechanic_joined_at,
    'started_at', v_s.started_at, 'completed_at', v_s.completed_at,
    'rated', EXISTS (SELECT FROM app.session_ratings r WHERE r.session_id = v_s.id));
END
$$;

-- session_participants(session): the customer and the mechanic (the live events' audience).
CREATE OR REPLACE FUNCTION app_private.session_participants(p_session app.sessions) RETURNS uuid[]
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT ARRAY[p_session.customer_id, p_session.mechanic_id]
$$;

------------------------------------------------------------------------------------------------
-- Waiver texts
------------------------------------------------------------------------------------------------

-- api.current_waiver(): the waiver version in force (the latest published), as
-- {version, title, body, published_at}. Customers, mechanics, admins.
CREATE OR REPLACE FUNCTION api.current_waiver() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN app_private.waiver_version_json((SELECT max(w.version) FROM app.waiver_versions w));
END
$$;
COMMENT ON FUNCTION api.current_waiver() IS
'The waiver text in force (the latest published version): {version, title, body, published_at}. Customers, mechanics, admins.';
GRANT EXECUTE ON FUNCTION api.current_waiver() TO autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.publish_waiver(title, body): an admin publishes a new waiver version (the next number); it is
-- in force from now for every signature still to come; existing signatures keep their version.
-- Returns the new version. Raises 403 forbidden, 422 missing_field.
CREATE OR REPLACE FUNCTION api.publish_waiver(p_title text, p_body text) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_version int;
BEGIN
  IF NOT app_private.is_admin() THEN
    PERFORM app_private.raise_error(403, 'forbidden', 'Only an admin can publish a waiver');
  END IF;
  IF p_title IS NULL OR btrim(p_title) = '' OR p_body IS NULL OR btrim(p_body) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'A waiver needs a title and a body',
      jsonb_build_object('field', CASE WHEN p_title IS NULL OR btrim(p_title) = '' THEN 'title' ELSE 'body' END));
  END IF;
  -- versions are numbered in order: two admins publishing at once queue here
  LOCK TABLE app.waiver_versions IN SHARE ROW EXCLUSIVE MODE;
  INSERT INTO app.waiver_versions (version, title, body, published_at, published_by)
  SELECT coalesce(max(w.version), 0) + 1, btrim(p_title), p_body, app_private.now(), app_private.current_user_id()
    FROM app.waiver_versions w
  RETURNING version INTO v_version;
  RETURN app_private.waiver_version_json(v_version);
END
$$;
COMMENT ON FUNCTION api.publish_waiver(text, text) IS
'Admin: publish a new waiver version (numbered next); signatures from now on sign it, existing signatures keep theirs. Returns {version, title, body, published_at}. Raises 403 forbidden, 422 missing_field.';
GRANT EXECUTE ON FUNCTION api.publish_waiver(text, text) TO autodoc_admin;

------------------------------------------------------------------------------------------------
-- Signing
------------------------------------------------------------------------------------------------

-- api.sign_waiver(session, signature, agreed, mode?, ip?, user_agent?): sign the session's waiver
-- (the version in force). Who: the session's customer; for an in-person session also its mechanic
-- (the customer signs on the mechanic's device). p_ip_address / p_user_agent are the HTTP
-- request's (the API fills them in; a body never does). p_mode, when given, must be the session's
-- service mode. Signing twice returns the first signature (already_signed = true) and stores
-- nothing. An immediate session's signature asks for its charge (full plan price, outbox). Emits
-- waiver.signed to both sides and logs a waiver_signed session event. Returns {signature:
-- {id, session_id, waiver_version, mode, signed_at, signed_by, ip_address, user_agent,
-- signature_bytes}, already_signed, session: app_private.live_session()}.
-- Raises 404 session_not_found (also another customer's session); 409 outside_signing_window
-- (detail.window); 422 agreement_required, invalid_signature (detail.reason), invalid_value (mode).
CREATE OR REPLACE FUNCTION api.sign_waiver(p_session_id uuid, p_signature text, p_agreed boolean,
  p_mode text DEFAULT NULL, p_ip_address inet DEFAULT NULL, p_user_agent text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_uid uuid := app_private.current_user_id();
  v_role text := app_private.current_app_role();
  v_s app.sessions := app_private.lock_session(p_session_id);
  v_w app.waiver_signatures;
  v_window jsonb;
  v_bytes int;
  v_already boolean := false;
BEGIN
  IF v_s.id IS NULL
     OR NOT ((v_role = 'customer' AND v_s.customer_id = v_uid)
             OR (v_role = 'mechanic' AND v_s.mechanic_id = v_uid AND v_s.service_mode = 'in_person')) THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  SELECT * INTO v_w FROM app.waiver_signatures w WHERE w.session_id = v_s.id;
  IF v_w.id IS NOT NULL THEN
    v_already := true;
  ELSE
    v_window := app_private.signing_window(v_s);
    IF NOT (v_window ->> 'is_open')::boolean THEN
      PERFORM app_private.raise_error(409, 'outside_signing_window', 'The waiver cannot be signed now',
        jsonb_build_object('session_id', v_s.id, 'status', v_s.status, 'now', app_private.now(), 'window', v_window));
    END IF;
    IF p_mode IS NOT NULL THEN
      PERFORM app_private.require_choice(p_mode, 'mode', ARRAY[v_s.service_mode]);
    END IF;
    IF p_agreed IS DISTINCT FROM true THEN
      PERFORM app_private.raise_error(422, 'agreement_required', 'You must agree to the waiver to sign it',
        jsonb_build_object('field', 'agreed'));
    END IF;
    v_bytes := app_private.signature_bytes(p_signature);
    INSERT INTO app.waiver_signatures (session_id, customer_id, waiver_version, mode, signature_data_url, signature_bytes,
                                       agreed, ip_address, user_agent, signed_by, signed_at)
    VALUES (v_s.id, v_s.customer_id, (SELECT max(w.version) FROM app.waiver_versions w), v_s.service_mode, p_signature,
            v_bytes, true, p_ip_address, left(p_user_agent, 1000), v_uid, app_private.now())
    RETURNING * INTO v_w;
    INSERT INTO app.session_events (session_id, event_type, from_status, to_status, actor_id, actor_role, metadata)
    VALUES (v_s.id, 'waiver_signed', v_s.status, v_s.status, v_uid, v_role,
            jsonb_build_object('waiver_version', v_w.waiver_version, 'mode', v_w.mode, 'signature_id', v_w.id));
    IF v_s.scheduled_for IS NULL THEN  -- SPEC section 7: an immediate session is charged after its waiver
      PERFORM app_private.session_immediate_charge(v_s.id);
    END IF;
    PERFORM app_private.emit_live_event('waiver.signed', app_private.session_participants(v_s),
      jsonb_build_object('session_id', v_s.id, 'waiver_version', v_w.waiver_version, 'mode', v_w.mode,
                         'signed_at', v_w.signed_at), v_s.id);
  END IF;
  RETURN jsonb_build_object(
    'signature', jsonb_build_object('id', v_w.id, 'session_id', v_w.session_id, 'waiver_version', v_w.waiver_version,
                                    'mode', v_w.mode, 'signed_at', v_w.signed_at, 'signed_by', v_w.signed_by,
                                    'ip_address', v_w.ip_address, 'user_agent', v_w.user_agent,
                                    'signature_bytes', v_w.signature_bytes, 'agreed', v_w.agreed),
    'already_signed', v_already,
    'session', app_private.live_session(v_s.id));
END
$$;
COMMENT ON FUNCTION api.sign_waiver(uuid, text, boolean, text, inet, text) IS
'Sign a session''s waiver (the version in force) with a data:image/png;base64 signature image (a real PNG, at most session_rules.signature_max_bytes decoded) and p_agreed = true. The session''s customer; for an in-person session also its mechanic (the customer signs on the mechanic''s device). Windows (SPEC section 7): immediate after a mechanic accepted (status waiting), before payment; scheduled from start - 15 min until start + 15 min. p_ip_address/p_user_agent: the HTTP request''s. Signing twice returns the first signature (already_signed = true). An immediate session''s signature queues its full-price charge. Returns {signature: {id, session_id, waiver_version, mode, signed_at, signed_by, ip_address, user_agent, signature_bytes, agreed}, already_signed, session}. Raises 404 session_not_found, 409 outside_signing_window (detail.window: opens_at, closes_at, is_open), 422 agreement_required / invalid_signature (detail.reason: empty, not_data_url, not_base64, too_large, not_png) / invalid_value (mode).';
GRANT EXECUTE ON FUNCTION api.sign_waiver(uuid, text, boolean, text, inet, text) TO autodoc_customer, autodoc_mechanic;

-- api.session_waiver(session): the waiver page's read: {session: live_session, waiver: the text to
-- sign (the version in force) or the one signed, signature: NULL or {id, waiver_version, mode,
-- signed_at, signed_by, ip_address, user_agent, signature_bytes, agreed, signature (the image)}}.
-- The only read that returns the signature image. The session's customer, its mechanic, admins.
-- Raises 404 session_not_found (also a session the caller may not see).
CREATE OR REPLACE FUNCTION api.session_waiver(p_session_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_uid uuid := app_private.current_user_id();
  v_role text := app_private.current_app_role();
  v_s app.sessions;
  v_w app.waiver_signatures;
BEGIN
  SELECT * INTO v_s FROM app.sessions s WHERE s.id = p_session_id AND s.type IS NOT NULL;
  IF v_s.id IS NULL
     OR NOT ((v_role = 'customer' AND v_s.customer_id = v_uid) OR (v_role = 'mechanic' AND v_s.mechanic_id = v_uid)
             OR app_private.is_admin()) THEN
    PERFORM app_private.raise_error(404, 'session_not_found', 'Session not found', jsonb_build_object('session_id', p_session_id));
  END IF;
  SELECT * INTO v_w FROM app.waiver_signatures w WHERE w.session_id = v_s.id;
  RETURN jsonb_build_object(
    'session', app_private.live_session(v_s.id),
    'waiver', app_private.waiver_version_json(coalesce(v_w.waiver_version, (SELECT max(w.version) FROM app.waiver_versions w))),
    'signature', CASE WHEN v_w.id IS NOT NULL THEN
      jsonb_build_object('id', v_w.id, 'waiver_version', v_w.waiver_version, 'mode', v_w.mode, 'signed_at', v_w.signed_at,
                         'signed_by', v_w.signed_by, 'ip_address', v_w.ip_address, 'user_agent', v_w.user_agent,
                         'signature_bytes', v_w.signature_bytes, 'agreed', v_w.agreed,
                         'signature', v_w.signature_data_url) END);
END
$$;
COMMENT ON FUNCTION api.session_waiver(uuid) IS
'The waiver page of one session: {session (status, waiver state, signing_window, join_window, paid, joins), waiver (the text to sign, or the version signed), signature (NULL, or the signature with its image, IP, user agent, mode, version, time)}. The only read that returns the signature image. The session''s customer, its mechanic, admins. Raises 404 session_not_found.';
GRANT EXECUTE ON FUNCTION api.session_waiver(uuid) TO autodoc_customer, autodoc_mechanic, autodoc_admin;

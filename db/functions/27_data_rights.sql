-- Data rights: a person downloads everything we hold about them (GET /api/me/export) and deletes
-- their account (DELETE /api/me). Deletion erases personal fields and keeps the rows money and
-- audit need (sessions, payments, refunds, events) with an opaque id, amounts and dates only.
-- Upcoming bookings are NOT cancelled implicitly: deletion is refused with their list (409
-- upcoming_bookings), because a cancellation is a money decision (fees, refunds, credit under the
-- policy in force) the customer should take knowingly, and its refund and emails need the very
-- address we are about to erase. See docs/identity.md.

-- redact_jsonb(value, needles): the value with every string that contains one of the needles
-- (case-insensitive) replaced by "[erased]"; keys and other values unchanged. Used on the JSON
-- that snapshots people (email payloads, live events, Stripe events).
CREATE OR REPLACE FUNCTION app_private.redact_jsonb(p_value jsonb, p_needles text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = '' AS $$
DECLARE
  v_out jsonb;
  v_text text;
  v_needle text;
BEGIN
  CASE jsonb_typeof(p_value)
    WHEN 'object' THEN
      SELECT coalesce(jsonb_object_agg(e.key, app_private.redact_jsonb(e.value, p_needles)), '{}'::jsonb)
        INTO v_out FROM jsonb_each(p_value) e;
      RETURN v_out;
    WHEN 'array' THEN
      SELECT coalesce(jsonb_agg(app_private.redact_jsonb(e.value, p_needles) ORDER BY e.ord), '[]'::jsonb)
        INTO v_out FROM jsonb_array_elements(p_value) WITH ORDINALITY e(value, ord);
      RETURN v_out;
    WHEN 'string' THEN
      v_text := lower(p_value #>> '{}');
      FOREACH v_needle IN ARRAY p_needles LOOP
        IF v_needle IS NOT NULL AND length(btrim(v_needle)) >= 3 AND strpos(v_text, lower(btrim(v_needle))) > 0 THEN
          RETURN to_jsonb('[erased]'::text);
        END IF;
      END LOOP;
      RETURN p_value;
    ELSE
      RETURN p_value;
  END CASE;
END
$$;

-- api.export_my_data(): everything held about the caller, as one JSON document: account, customer
-- profile (with credit balance), vehicles, favorites, sessions with their audit events, payments
-- with refunds, waitlist entries, waiver signatures (with the image), ratings, mechanic
-- applications. A customer or a signed-in person without a profile.
-- Raises 401 unauthorized, 409 account_role_conflict (mechanics and admins ask an admin).
CREATE OR REPLACE FUNCTION api.export_my_data() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.signed_in_user();
  v_user app.users;
BEGIN
  SELECT u.* INTO v_user FROM app.users u WHERE u.id = v_id;
  IF v_user.role IS NOT NULL AND v_user.role <> 'customer' THEN
    PERFORM app_private.raise_error(409, 'account_role_conflict',
      format('A %s''s data is exported by an admin', v_user.role), jsonb_build_object('role', v_user.role));
  END IF;
  RETURN jsonb_build_object(
    'format', 'autodoc-export-1',
    'exported_at', app_private.now(),
    'user_id', v_id,
    'account', CASE WHEN v_user.id IS NOT NULL THEN jsonb_build_object(
                 'email', v_user.email, 'full_name', v_user.full_name, 'role', v_user.role,
                 'created_at', v_user.created_at) END,
    'customer', app_private.customer_profile(v_id),
    'vehicles', coalesce((SELECT jsonb_agg(to_jsonb(v) ORDER BY v.created_at, v.id)
                            FROM app.vehicles v WHERE v.customer_id = v_id), '[]'::jsonb),
    'favorites', coalesce((SELECT jsonb_agg(jsonb_build_object('mechanic_id', f.mechanic_id, 'name', m.display_name,
                                                               'created_at', f.created_at) ORDER BY f.created_at)
                             FROM app.favorites f JOIN app.mechanics m ON m.user_id = f.mechanic_id
                            WHERE f.customer_id = v_id), '[]'::jsonb),
    'sessions', coalesce((SELECT jsonb_agg(to_jsonb(s) - 'period' || jsonb_build_object(
                                   'events', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id)
                                                        FROM app.session_events e WHERE e.session_id = s.id), '[]'::jsonb))
                                   ORDER BY s.created_at, s.id)
                            FROM app.sessions s WHERE s.customer_id = v_id), '[]'::jsonb),
    'payments', coalesce((SELECT jsonb_agg(to_jsonb(p) - 'client_secret' || jsonb_build_object(
                                   'refunds', coalesce((SELECT jsonb_agg(to_jsonb(r) ORDER BY r.requested_at, r.id)
                                                         FROM app.payment_refunds r WHERE r.payment_id = p.id), '[]'::jsonb))
                                   ORDER BY p.created_at, p.id)
                            FROM app.scheduled_payments p WHERE p.customer_id = v_id), '[]'::jsonb),
    'credit', jsonb_build_object('balance_cents',
                (SELECT c.credit_balance_cents FROM app.customers c WHERE c.user_id = v_id)),
    'waitlist', coalesce((SELECT jsonb_agg(to_jsonb(w) ORDER BY w.created_at, w.id)
                            FROM app.waitlist_entries w WHERE w.customer_id = v_id), '[]'::jsonb),
    'waivers', coalesce((SELECT jsonb_agg(to_jsonb(ws) ORDER BY ws.signed_at, ws.id)
                           FROM app.waiver_signatures ws WHERE ws.customer_id = v_id), '[]'::jsonb),
    'ratings', coalesce((SELECT jsonb_agg(to_jsonb(r) ORDER BY r.created_at, r.session_id)
                           FROM app.session_ratings r WHERE r.customer_id = v_id), '[]'::jsonb),
    'mechanic_applications', coalesce((SELECT jsonb_agg(app_private.mechanic_application_json(a) ORDER BY a.created_at)
                                         FROM app.mechanic_applications a WHERE a.user_id = v_id), '[]'::jsonb));
END
$$;
COMMENT ON FUNCTION api.export_my_data() IS
'Everything held about the caller as JSON (GET /api/me/export): account, customer profile and credit balance, vehicles, favorites, sessions with their audit events, payments with refunds, waitlist entries, waiver signatures (with the image), ratings, mechanic applications. A customer or a signed-in person without a profile. Raises 401 unauthorized, 409 account_role_conflict (mechanics, admins).';
GRANT EXECUTE ON FUNCTION api.export_my_data() TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

-- api.delete_my_account(): erase the calling customer (or signed-in person without a profile).
-- Refused while anything is upcoming (held, scheduled, pending, waiting or active sessions): 409
-- upcoming_bookings with their list; the customer cancels them (seeing the refund quote) first.
-- Then: vehicles no session refers to, favorites, waitlist entries and mechanic applications are deleted; the user
-- row keeps only its id (email deleted+<id>@deleted.invalid, name "Deleted customer",
-- deleted_at), the customer row keeps the credit balance only; sessions lose their concern, notes
-- (the completion notes too), files; waiver signatures lose the image, IP and user agent; ratings
-- their comment; vehicles that sessions refer to lose VIN, plate and odometer; unsent emails to the person
-- are skipped; every email payload, live event and Stripe event that names the person has those
-- strings replaced by "[erased]". The audit log (session_events) is append-only and holds ids,
-- times and reasons only, so it stays as it is (tests/sql/27-data-rights.sql scans every column). Tokens for the account are refused from then on
-- (403 account_deleted). Returns {user_id, deleted: true}. Raises 401 unauthorized, 409
-- account_role_conflict (mechanics and admins are closed by an admin), 409 upcoming_bookings.
CREATE OR REPLACE FUNCTION api.delete_my_account() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id uuid := app_private.signed_in_user();
  v_user app.users;
  v_cust app.customers;
  v_upcoming jsonb;
  v_needles text[];
  v_sessions uuid[];
  v_intents text[];
  v_app_keys text[];
BEGIN
  SELECT u.* INTO v_user FROM app.users u WHERE u.id = v_id FOR UPDATE;
  IF v_user.role IS NOT NULL AND v_user.role <> 'customer' THEN
    PERFORM app_private.raise_error(409, 'account_role_conflict',
      format('A %s account is closed by an admin', v_user.role), jsonb_build_object('role', v_user.role));
  END IF;
  -- The booking paths lock this row (FOR NO KEY UPDATE): no booking can slip in between the check and the erasure.
  SELECT c.* INTO v_cust FROM app.customers c WHERE c.user_id = v_id FOR UPDATE;
  SELECT jsonb_agg(jsonb_build_object('id', s.id, 'status', s.status, 'scheduled_for', s.scheduled_for,
                                      'ends_at', s.ends_at, 'mechanic_id', s.mechanic_id) ORDER BY s.scheduled_for, s.id)
    INTO v_upcoming
    FROM app.sessions s
   WHERE s.customer_id = v_id AND s.status = ANY (app_private.blocking_statuses());
  IF v_upcoming IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'upcoming_bookings',
      'Cancel your upcoming appointments before deleting your account', jsonb_build_object('appointments', v_upcoming));
  END IF;

  v_needles := array_remove(ARRAY[v_user.email, v_user.full_name, v_cust.phone], NULL)
               || coalesce((SELECT array_agg(x) FROM app.mechanic_applications a,
                                   unnest(ARRAY[a.email, a.full_name, a.phone]) x
                             WHERE a.user_id = v_id AND x IS NOT NULL), '{}');
  v_sessions := coalesce((SELECT array_agg(s.id) FROM app.sessions s WHERE s.customer_id = v_id), '{}');
  v_intents := coalesce((SELECT array_agg(p.payment_intent_id) FROM app.scheduled_payments p
                          WHERE p.customer_id = v_id AND p.payment_intent_id IS NOT NULL), '{}');
  v_app_keys := coalesce((SELECT array_agg('email:mechanic_application:' || a.id || ':%')
                            FROM app.mechanic_applications a WHERE a.user_id = v_id), '{}');

  -- Emails not sent yet to the person are never sent (their address is going).
  UPDATE app.outbox o SET status = 'done', done_at = app_private.now(), updated_at = app_private.now(),
                          leased_until = NULL, locked_by = NULL, result = '{"skipped": "account_deleted"}'
   WHERE o.kind = 'email.send' AND o.status = 'pending'
     AND (o.payload ->> 'recipient_id' = v_id::text  -- a session email (ids only: its facts are read when sent)
          OR lower(o.payload #>> '{to,email}') = ANY (SELECT lower(x) FROM unnest(v_needles) x));
  -- Snapshots that name the person: their sessions' emails and events, application emails.
  UPDATE app.outbox o SET payload = app_private.redact_jsonb(o.payload, v_needles),
                          result = app_private.redact_jsonb(o.result, v_needles)
   WHERE o.session_id = ANY (v_sessions) OR o.idempotency_key LIKE ANY (v_app_keys)
      OR lower(o.payload #>> '{to,email}') = ANY (SELECT lower(x) FROM unnest(v_needles) x);
  UPDATE app.live_events l SET payload = app_private.redact_jsonb(l.payload, v_needles)
   WHERE v_id = ANY (l.audience) OR l.session_id = ANY (v_sessions);
  UPDATE app.stripe_events x SET payload = app_private.redact_jsonb(x.payload, v_needles)
   WHERE x.payload #>> '{data,object,id}' = ANY (v_intents)
      OR x.payload #>> '{data,object,payment_intent}' = ANY (v_intents);

  -- The sessions stay (money and audit refer to them) without what the customer wrote (or the
  -- mechanic wrote about them); the waivers keep what was agreed and when, without the signature
  -- image, IP and user agent; ratings keep the number (the mechanic's average includes it).
  UPDATE app.sessions s SET concern = CASE WHEN s.concern IS NOT NULL THEN '[erased]' END,
                            preparation_notes = NULL, special_requests = NULL, file_refs = '[]'::jsonb,
                            completion_notes = NULL,
                            metadata = app_private.redact_jsonb(s.metadata, v_needles)
   WHERE s.id = ANY (v_sessions);
  UPDATE app.vehicles v SET vin = NULL, license_plate = NULL, odometer = NULL
   WHERE v.customer_id = v_id AND EXISTS (SELECT FROM app.sessions s WHERE s.vehicle_id = v.id);
  DELETE FROM app.vehicles v
   WHERE v.customer_id = v_id AND NOT EXISTS (SELECT FROM app.sessions s WHERE s.vehicle_id = v.id);
  DELETE FROM app.favorites f WHERE f.customer_id = v_id;
  DELETE FROM app.waitlist_entries w WHERE w.customer_id = v_id;  -- no money or audit hangs on them
  UPDATE app.waiver_signatures ws SET signature_data_url = NULL, ip_address = NULL, user_agent = NULL
   WHERE ws.customer_id = v_id;
  UPDATE app.session_ratings r SET comment = NULL WHERE r.customer_id = v_id;
  DELETE FROM app.mechanic_applications a WHERE a.user_id = v_id;
  UPDATE app.customers c SET phone = NULL, country = NULL, state_province = NULL, city = NULL, postal_code = NULL,
                             timezone = NULL, updated_at = app_private.now()
   WHERE c.user_id = v_id;
  UPDATE app.users u SET email = 'deleted+' || u.id || '@deleted.invalid', full_name = 'Deleted customer',
                         deleted_at = app_private.now()
   WHERE u.id = v_id;
  RETURN jsonb_build_object('user_id', v_id, 'deleted', true);
END
$$;
COMMENT ON FUNCTION api.delete_my_account() IS
'Delete the caller''s account (DELETE /api/me): personal fields erased or anonymised, money and audit rows kept with the opaque id, amounts and dates; later tokens for the account get 403 account_deleted. Refused with 409 upcoming_bookings (detail.appointments) while any session is held, scheduled, pending, waiting or active. A customer or a signed-in person without a profile. Returns {user_id, deleted}. Raises 401 unauthorized, 409 account_role_conflict/upcoming_bookings.';
GRANT EXECUTE ON FUNCTION api.delete_my_account() TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin;

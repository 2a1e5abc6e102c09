-- The waitlist (SPEC §6, docs/waitlist.md): customers who found no mechanic on shift wait in arrival
-- order. A mechanic coming on shift (the trigger in db/triggers/70_waitlist.sql, so a DBA's direct
-- UPDATE counts as much as api.set_shift) gives "turns" to the oldest pending entries, at most as many
-- as they can serve (waitlist_settings.customers_per_mechanic minus the turns they already gave that
-- are still open). A turn is short (turn_duration); a lapsed turn expires and the job hands the
-- capacity to the next in line. Pending entries older than max_wait expire.
--
-- Locks (why no customer is ever notified twice, and no capacity handed out twice):
--   * entries are claimed with FOR UPDATE SKIP LOCKED in queue order, so two mechanics coming online
--     at the same instant take different customers (the two oldest), never the same one;
--   * every hand-out for one mechanic takes the advisory lock (70, hashtext(mechanic)) first, so the
--     capacity count and the claim happen for one mechanic at a time (trigger, job and leave alike);
--   * the join "gate", single-key advisory lock 70: api.join_waitlist takes it exclusively around its
--     "is anyone on shift?" check and insert, the on-shift trigger takes it shared. A join therefore
--     either sees the mechanic on shift (409 mechanics_available) or its entry is committed before the
--     trigger reads the queue; no entry is left waiting behind a mechanic who came online unseen.
--     Shift changes never wait for each other on it (shared), only for a join in progress.

-- waitlist_settings(): the one settings row. Definer helper for the functions below; raises nothing.
CREATE OR REPLACE FUNCTION app_private.waitlist_settings() RETURNS app.waitlist_settings
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v app.waitlist_settings;
BEGIN
  SELECT * INTO v FROM app.waitlist_settings s WHERE s.id;
  RETURN v;
END
$$;

-- waitlist_entry_json(entry): the public shape of an entry: its fields, the mechanic (id, name) of a
-- turn, `position` in the queue (1 = next) and `expires_at` while pending, `is_active`. NULL for a
-- NULL entry. Definer (the position counts other customers' entries); owner only.
CREATE OR REPLACE FUNCTION app_private.waitlist_entry_json(p_entry app.waitlist_entries) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
  v_settings app.waitlist_settings := app_private.waitlist_settings();
  v_position int;
  v_mechanic jsonb;
BEGIN
  IF p_entry.id IS NULL THEN
    RETURN NULL;
  END IF;
  IF p_entry.status = 'pending' THEN
    SELECT (count(*) + 1)::int INTO v_position
    FROM app.waitlist_entries e
    WHERE e.status = 'pending' AND e.created_at > v_now - v_settings.max_wait
      AND (e.created_at, e.id) < (p_entry.created_at, p_entry.id);
  END IF;
  SELECT jsonb_build_object('id', m.user_id, 'name', m.display_name, 'currently_on_shift', m.currently_on_shift)
    INTO v_mechanic
    FROM app.mechanics m WHERE m.user_id = p_entry.notified_mechanic_id;
  RETURN jsonb_build_object(
    'id', p_entry.id, 'customer_id', p_entry.customer_id, 'status', p_entry.status,
    'is_active', p_entry.status IN ('pending', 'notified'),
    'concern', p_entry.concern, 'vehicle_id', p_entry.vehicle_id, 'plan_code', p_entry.plan_code,
    'created_at', p_entry.created_at,
    'position', v_position,
    'expires_at', CASE WHEN p_entry.status = 'pending' THEN p_entry.created_at + v_settings.max_wait END,
    'notified_at', p_entry.notified_at, 'mechanic', v_mechanic, 'turn_expires_at', p_entry.turn_expires_at,
    'closed_at', p_entry.closed_at, 'close_reason', p_entry.close_reason, 'session_id', p_entry.session_id);
END
$$;

-- waitlist_tell(entry, what): what the customer hears about a change of their entry, in the caller's
-- transaction: an email through the outbox (template waitlist_<what>, key
-- `email:waitlist:<entry>:<what>`, so a replay mails once) and, except for 'joined', a live event
-- `waitlist.<what>` on the customer's stream. p_what: 'joined' | 'notified' | 'expired'. Times are
-- told as durations ("within 10 minutes"), never as wall-clock times, so no time zone is needed.
-- Owner only; raises nothing of its own.
CREATE OR REPLACE FUNCTION app_private.waitlist_tell(p_entry app.waitlist_entries, p_what text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_settings app.waitlist_settings := app_private.waitlist_settings();
  v_email text;
  v_name text;
  v_mechanic jsonb;
  v_plan jsonb;
  v_context jsonb;
BEGIN
  SELECT u.email, u.full_name, (SELECT jsonb_build_object('id', m.user_id, 'name', m.display_name)
                 FROM app.mechanics m WHERE m.user_id = p_entry.notified_mechanic_id),
         (SELECT jsonb_build_object('code', p.code, 'name', p.name, 'price_cents', p.price_cents)
            FROM app.plans p WHERE p.code = p_entry.plan_code)
    INTO v_email, v_name, v_mechanic, v_plan
    FROM app.users u WHERE u.id = p_entry.customer_id;
  v_context := jsonb_build_object(
    'entry_id', p_entry.id,
    'status', p_entry.status,
    'close_reason', p_entry.close_reason,
    'customer', jsonb_build_object('id', p_entry.customer_id, 'name', v_name),
    'concern', p_entry.concern,
    'plan', v_plan,
    'mechanic', v_mechanic,
    'turn_minutes', CASE WHEN p_entry.turn_expires_at IS NOT NULL
                         THEN round(extract(epoch FROM p_entry.turn_expires_at - p_entry.notified_at) / 60) END,
    'max_wait_minutes', round(extract(epoch FROM v_settings.max_wait) / 60),
    'links', jsonb_build_object('request', '/customer/request-now?waitlist=' || p_entry.id,
                                'waitlist', '/customer/waitlist',
                                'schedule', '/customer/schedule'));
  PERFORM app_private.outbox_enqueue('email.send', format('email:waitlist:%s:%s', p_entry.id, p_what),
    jsonb_build_object('template', 'waitlist_' || p_what, 'recipient_role', 'customer',
                       'to', jsonb_build_object('email', v_email, 'name', v_name),
                       'context', v_context));
  IF p_what <> 'joined' THEN
    PERFORM app_private.emit_live_event('waitlist.' || p_what, ARRAY[p_entry.customer_id],
      jsonb_build_object('entry_id', p_entry.id, 'status', p_entry.status, 'mechanic', v_mechanic,
                         'turn_expires_at', p_entry.turn_expires_at, 'close_reason', p_entry.close_reason));
  END IF;
END
$$;

-- waitlist_give_turns(mechanic): THE hand-out. Under the mechanic's waitlist lock: the mechanic's
-- free turns are 0 unless they are on shift, active and free (no session of theirs in progress now,
-- no offer waiting for their answer), else customers_per_mechanic minus their turns still open.
-- Those go to the oldest pending entries younger than max_wait (arrival order, id breaks ties),
-- skipping entries another hand-out is claiming right now (SKIP LOCKED: it takes them, we take the
-- next ones). Each becomes 'notified' with the mechanic and its turn end, and its customer gets the
-- email and the live event, in this transaction. Returns how many were notified. Called by the
-- on-shift trigger, api.advance_waitlist() and api.leave_waitlist(); owner only.
CREATE OR REPLACE FUNCTION app_private.waitlist_give_turns(p_mechanic_id uuid) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
  v_settings app.waitlist_settings := app_private.waitlist_settings();
  v_free int;
  v_entry app.waitlist_entries;
  v_count int := 0;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(70, pg_catalog.hashtext(p_mechanic_id::text));
  IF NOT EXISTS (SELECT FROM app.mechanics m WHERE m.user_id = p_mechanic_id AND m.currently_on_shift AND m.is_active)
     -- blocking_statuses() folds to the exclusion constraint's list, so its GiST index (mechanic_id, period) answers this
     OR EXISTS (SELECT FROM app.sessions s
                 WHERE s.mechanic_id = p_mechanic_id AND s.period @> v_now
                   AND s.status = ANY (app_private.blocking_statuses()))
     OR EXISTS (SELECT FROM app.session_assignments a JOIN app.sessions s ON s.id = a.session_id
                 WHERE a.mechanic_id = p_mechanic_id AND a.status = 'offered' AND s.status = 'pending'
                   AND (a.expires_at IS NULL OR a.expires_at > v_now)) THEN
    RETURN 0;
  END IF;
  SELECT (v_settings.customers_per_mechanic - count(*))::int INTO v_free
    FROM app.waitlist_entries e
   WHERE e.status = 'notified' AND e.notified_mechanic_id = p_mechanic_id;
  IF v_free <= 0 THEN
    RETURN 0;
  END IF;
  -- `id = ANY (ARRAY(...))`, not a join with the claimed rows: the cached generic plan cannot know
  -- LIMIT v_free is small and hash-joined the whole table (a seq scan of every entry, measured 1.5 ms
  -- with 10,000 waiting); this is two index probes whatever the queue's length.
  FOR v_entry IN
    UPDATE app.waitlist_entries e
       SET status = 'notified', notified_at = v_now, notified_mechanic_id = p_mechanic_id,
           turn_expires_at = v_now + v_settings.turn_duration, updated_at = v_now
     WHERE e.id = ANY (ARRAY(
             SELECT q.id FROM app.waitlist_entries q
              WHERE q.status = 'pending' AND q.created_at > v_now - v_settings.max_wait
              ORDER BY q.created_at, q.id
              LIMIT v_free
              FOR UPDATE SKIP LOCKED))
    RETURNING e.*
  LOOP
    PERFORM app_private.waitlist_tell(v_entry, 'notified');
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;

-- mechanics_waitlist_on_shift(): AFTER UPDATE OF currently_on_shift trigger on app.mechanics (only
-- false -> true, by its WHEN clause): the mechanic's free turns go to the queue, in the same
-- transaction as the shift change. Definer, so an admin's or a DBA's direct UPDATE works exactly
-- like api.set_shift. Trigger only.
CREATE OR REPLACE FUNCTION app_private.mechanics_waitlist_on_shift() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(70);  -- the join gate (see the top of this file)
  PERFORM app_private.waitlist_give_turns(NEW.user_id);
  RETURN NULL;
END
$$;

-- sessions_fulfil_waitlist(): AFTER INSERT trigger on app.sessions for immediate requests (WHEN
-- clause): the customer got what they waited for, so their active entry (pending or notified) becomes
-- 'fulfilled' with the session. The mechanic of a turn stays on the entry: matching routes the first
-- offer to them (app_private.waitlist_preferred_mechanic). Trigger only.
CREATE OR REPLACE FUNCTION app_private.sessions_fulfil_waitlist() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
BEGIN
  UPDATE app.waitlist_entries e
     SET status = 'fulfilled', close_reason = 'session', closed_at = v_now, session_id = NEW.id, updated_at = v_now
   WHERE e.customer_id = NEW.customer_id AND e.status IN ('pending', 'notified');
  RETURN NULL;
END
$$;

-- waitlist_preferred_mechanic(customer): the mechanic an immediate request of this customer should be
-- offered to first: the mechanic whose coming on shift gave them their turn, while that turn is open
-- (or was just used by the customer's still unassigned immediate session), and only while that
-- mechanic is on shift. NULL otherwise. For matching (band 60), which may call it before or after the
-- session row is inserted. Owner only; raises nothing.
CREATE OR REPLACE FUNCTION app_private.waitlist_preferred_mechanic(p_customer_id uuid) RETURNS uuid
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN (
    SELECT e.notified_mechanic_id
      FROM app.waitlist_entries e
      JOIN app.mechanics m ON m.user_id = e.notified_mechanic_id AND m.currently_on_shift AND m.is_active
     WHERE e.customer_id = p_customer_id
       AND ((e.status = 'notified' AND e.turn_expires_at > app_private.now())
            OR (e.status = 'fulfilled'
                AND EXISTS (SELECT FROM app.sessions s
                             WHERE s.id = e.session_id AND s.status = 'pending' AND s.mechanic_id IS NULL)))
     ORDER BY e.created_at DESC
     LIMIT 1);
END
$$;

-- on_shift_mechanics(): the mechanics on shift now, as the 409 mechanics_available detail lists them.
CREATE OR REPLACE FUNCTION app_private.on_shift_mechanics() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN (SELECT jsonb_agg(jsonb_build_object('mechanic_id', m.user_id, 'display_name', m.display_name,
                                              'rating', m.rating, 'specialties', m.specialties,
                                              'workshop_id', m.workshop_id)
                           ORDER BY m.rating DESC, m.display_name, m.user_id)
            FROM app.mechanics m WHERE m.currently_on_shift AND m.is_active);
END
$$;

-- api.join_waitlist(concern, vehicle?, plan?, customer?): join the waitlist when no mechanic is on
-- shift. Customers join for themselves, admins name p_customer_id. Sends the confirmation email.
-- Returns the entry (position 1 = next in line). Raises 403 forbidden; 404 customer_not_found;
-- 422 missing_field, unknown_plan, vehicle_not_yours; 409 already_on_waitlist (detail: the entry),
-- 409 mechanics_available (detail.mechanics: who is on shift — request a session instead).
CREATE OR REPLACE FUNCTION api.join_waitlist(p_concern text, p_vehicle_id uuid DEFAULT NULL,
                                             p_plan_code text DEFAULT NULL, p_customer_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_customer uuid := app_private.caller_customer(p_customer_id);
  v_plan text := coalesce(nullif(btrim(p_plan_code), ''), 'standard');
  v_entry app.waitlist_entries;
  v_on_shift jsonb;
BEGIN
  IF p_concern IS NULL OR btrim(p_concern) = '' THEN
    PERFORM app_private.raise_error(422, 'missing_field', 'concern is required', '{"field": "concern"}');
  END IF;
  PERFORM app_private.plan_duration(v_plan);  -- 422 unknown_plan
  IF p_vehicle_id IS NOT NULL
     AND NOT EXISTS (SELECT FROM app.vehicles v WHERE v.id = p_vehicle_id AND v.customer_id = v_customer) THEN
    PERFORM app_private.raise_error(422, 'vehicle_not_yours', 'That vehicle is not one of yours',
      jsonb_build_object('field', 'vehicle_id', 'vehicle_id', p_vehicle_id));
  END IF;

  -- One join per customer at a time, for a friendly answer; the partial unique index is the guarantee.
  PERFORM 1 FROM app.customers c WHERE c.user_id = v_customer FOR NO KEY UPDATE;
  SELECT * INTO v_entry FROM app.waitlist_entries e
   WHERE e.customer_id = v_customer AND e.status IN ('pending', 'notified');
  IF FOUND THEN
    PERFORM app_private.raise_error(409, 'already_on_waitlist', 'You are already on the waitlist',
      app_private.waitlist_entry_json(v_entry));
  END IF;

  PERFORM pg_catalog.pg_advisory_xact_lock(70);  -- the join gate (see the top of this file)
  v_on_shift := app_private.on_shift_mechanics();
  IF v_on_shift IS NOT NULL THEN
    PERFORM app_private.raise_error(409, 'mechanics_available',
      'Mechanics are on shift now: request a session instead of waiting', jsonb_build_object('mechanics', v_on_shift));
  END IF;

  INSERT INTO app.waitlist_entries (customer_id, concern, vehicle_id, plan_code, created_at, updated_at)
  VALUES (v_customer, btrim(p_concern), p_vehicle_id, v_plan, app_private.now(), app_private.now())
  RETURNING * INTO v_entry;
  PERFORM app_private.waitlist_tell(v_entry, 'joined');
  RETURN app_private.waitlist_entry_json(v_entry);
EXCEPTION WHEN unique_violation THEN
  PERFORM app_private.raise_error(409, 'already_on_waitlist', 'You are already on the waitlist',
    jsonb_build_object('constraint', 'waitlist_entries_one_active_per_customer'));
END
$$;
COMMENT ON FUNCTION api.join_waitlist(text, uuid, text, uuid) IS
'Join the waitlist (only while no mechanic is on shift): p_concern, optional p_vehicle_id and p_plan_code (default standard). Customers for themselves, admins pass p_customer_id. Emails a confirmation. Returns the entry {id, status pending, position, expires_at, ...}. Raises 403 forbidden; 404 customer_not_found; 422 missing_field/unknown_plan/vehicle_not_yours; 409 already_on_waitlist (detail = the entry), 409 mechanics_available (detail.mechanics = on-shift mechanics).';
GRANT EXECUTE ON FUNCTION api.join_waitlist(text, uuid, text, uuid) TO autodoc_customer, autodoc_admin;

-- api.leave_waitlist(customer?): leave the waitlist: the active entry (pending, or notified with an
-- open turn) becomes 'cancelled'. A turn given back goes to the next in line at once. Returns the
-- entry. Customers for themselves, admins pass p_customer_id. Raises 403 forbidden,
-- 404 customer_not_found, 404 not_on_waitlist.
CREATE OR REPLACE FUNCTION api.leave_waitlist(p_customer_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_customer uuid := app_private.caller_customer(p_customer_id);
  v_now timestamptz := app_private.now();
  v_entry app.waitlist_entries;
BEGIN
  UPDATE app.waitlist_entries e
     SET status = 'cancelled', closed_at = v_now, updated_at = v_now,
         close_reason = CASE WHEN app_private.is_admin() THEN 'admin' ELSE 'customer' END
   WHERE e.customer_id = v_customer AND e.status IN ('pending', 'notified')
  RETURNING * INTO v_entry;
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'not_on_waitlist', 'You are not on the waitlist',
      jsonb_build_object('customer_id', v_customer));
  END IF;
  IF v_entry.notified_mechanic_id IS NOT NULL THEN
    PERFORM app_private.waitlist_give_turns(v_entry.notified_mechanic_id);
  END IF;
  RETURN app_private.waitlist_entry_json(v_entry);
END
$$;
COMMENT ON FUNCTION api.leave_waitlist(uuid) IS
'Leave the waitlist: the active entry becomes cancelled (a turn given back goes to the next in line at once). Customers for themselves, admins pass p_customer_id. Returns the entry. Raises 403 forbidden, 404 customer_not_found, 404 not_on_waitlist.';
GRANT EXECUTE ON FUNCTION api.leave_waitlist(uuid) TO autodoc_customer, autodoc_admin;

-- api.my_waitlist(customer?): the customer's waitlist status: their active entry, else their latest
-- one (expired, cancelled, fulfilled), NULL when they never joined. Customers for themselves, admins
-- pass p_customer_id. Raises 403 forbidden, 422 missing_field (admin without a customer).
CREATE OR REPLACE FUNCTION api.my_waitlist(p_customer_id uuid DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_customer uuid := app_private.acting_as('customer', p_customer_id);
  v_entry app.waitlist_entries;
BEGIN
  SELECT * INTO v_entry FROM app.waitlist_entries e
   WHERE e.customer_id = v_customer
   ORDER BY e.status IN ('pending', 'notified') DESC, e.created_at DESC, e.id DESC
   LIMIT 1;
  RETURN app_private.waitlist_entry_json(v_entry);
END
$$;
COMMENT ON FUNCTION api.my_waitlist(uuid) IS
'The caller''s waitlist status: the active entry, else the latest one, else NULL. Fields: id, status (pending|notified|expired|cancelled|fulfilled), is_active, position (pending: 1 = next), expires_at (pending), mechanic {id, name, currently_on_shift} and turn_expires_at (notified), closed_at, close_reason, session_id. Customers; admins pass p_customer_id. Raises 403 forbidden, 422 missing_field.';
GRANT EXECUTE ON FUNCTION api.my_waitlist(uuid) TO autodoc_customer, autodoc_admin;

-- api.list_waitlist(status?, limit?, offset?): waitlist entries for admins, in queue order (oldest
-- first). p_status: NULL = all, 'active' = pending and notified, or one status. SECURITY INVOKER:
-- RLS (admins see all). Raises 422 invalid_value.
CREATE OR REPLACE FUNCTION api.list_waitlist(p_status text DEFAULT 'active', p_limit int DEFAULT 100,
                                             p_offset int DEFAULT 0)
RETURNS TABLE (id uuid, customer_id uuid, customer_name text, customer_email text, status text, concern text,
               vehicle_id uuid, plan_code text, created_at timestamptz, notified_at timestamptz,
               notified_mechanic_id uuid, mechanic_name text, turn_expires_at timestamptz,
               closed_at timestamptz, close_reason text, session_id uuid)
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
BEGIN
  IF p_status IS NOT NULL THEN
    PERFORM app_private.require_choice(p_status, 'status',
      ARRAY['active', 'pending', 'notified', 'expired', 'cancelled', 'fulfilled']);
  END IF;
  RETURN QUERY
  SELECT e.id, e.customer_id, u.full_name, u.email, e.status, e.concern, e.vehicle_id, e.plan_code, e.created_at,
         e.notified_at, e.notified_mechanic_id, m.display_name, e.turn_expires_at, e.closed_at, e.close_reason,
         e.session_id
    FROM app.waitlist_entries e
    JOIN app.users u ON u.id = e.customer_id
    LEFT JOIN app.mechanics m ON m.user_id = e.notified_mechanic_id
   WHERE p_status IS NULL
      OR (p_status = 'active' AND e.status IN ('pending', 'notified'))
      OR e.status = p_status
   ORDER BY e.created_at, e.id
   LIMIT greatest(coalesce(p_limit, 100), 0) OFFSET greatest(coalesce(p_offset, 0), 0);
END
$$;
COMMENT ON FUNCTION api.list_waitlist(text, int, int) IS
'Waitlist entries in queue order (oldest first): p_status active (default: pending + notified) | pending | notified | expired | cancelled | fulfilled | NULL (all). Admins (RLS). Raises 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.list_waitlist(text, int, int) TO autodoc_admin;

-- api.waitlist_queue(): the queue at a glance, for admins (the mechanic directory shows it):
-- {pending (waiting, younger than max_wait), notified (open turns), oldest_pending_at, settings}.
-- SECURITY INVOKER: RLS (admins see all).
CREATE OR REPLACE FUNCTION api.waitlist_queue() RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = '' AS $$
DECLARE
  v_settings app.waitlist_settings;
  v jsonb;
BEGIN
  SELECT * INTO v_settings FROM app.waitlist_settings s WHERE s.id;
  SELECT jsonb_build_object(
           'pending', count(*) FILTER (WHERE e.status = 'pending' AND e.created_at > app_private.now() - v_settings.max_wait),
           'notified', count(*) FILTER (WHERE e.status = 'notified'),
           'oldest_pending_at', min(e.created_at) FILTER (WHERE e.status = 'pending'
                                                           AND e.created_at > app_private.now() - v_settings.max_wait),
           'settings', jsonb_build_object('customers_per_mechanic', v_settings.customers_per_mechanic,
                                          'turn_minutes', round(extract(epoch FROM v_settings.turn_duration) / 60),
                                          'max_wait_minutes', round(extract(epoch FROM v_settings.max_wait) / 60)))
    INTO v
    FROM app.waitlist_entries e
   WHERE e.status IN ('pending', 'notified');
  RETURN v;
END
$$;
COMMENT ON FUNCTION api.waitlist_queue() IS
'The waitlist at a glance: {pending (younger than max_wait), notified (open turns), oldest_pending_at, settings {customers_per_mechanic, turn_minutes, max_wait_minutes}}. Admins.';
GRANT EXECUTE ON FUNCTION api.waitlist_queue() TO autodoc_admin;

-- api.set_waitlist_settings(customers_per_mechanic?, turn_duration?, max_wait?): change the waitlist
-- rules (NULL keeps a value). Applies to turns given from now on. Admins. Returns the settings.
-- Raises 403 forbidden, 422 invalid_value (outside 1-100 customers, 1 minute-1 day turns, 5 minutes-
-- 7 days wait).
CREATE OR REPLACE FUNCTION api.set_waitlist_settings(p_customers_per_mechanic int DEFAULT NULL,
  p_turn_duration interval DEFAULT NULL, p_max_wait interval DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v app.waitlist_settings;
BEGIN
  PERFORM app_private.require_role('admin');
  UPDATE app.waitlist_settings s
     SET customers_per_mechanic = coalesce(p_customers_per_mechanic, s.customers_per_mechanic),
         turn_duration = coalesce(p_turn_duration, s.turn_duration),
         max_wait = coalesce(p_max_wait, s.max_wait),
         updated_at = app_private.now()
   WHERE s.id
  RETURNING * INTO v;
  RETURN jsonb_build_object('customers_per_mechanic', v.customers_per_mechanic,
                            'turn_minutes', round(extract(epoch FROM v.turn_duration) / 60),
                            'max_wait_minutes', round(extract(epoch FROM v.max_wait) / 60),
                            'updated_at', v.updated_at);
EXCEPTION WHEN check_violation THEN
  PERFORM app_private.raise_error(422, 'invalid_value',
    'customers_per_mechanic must be 1-100, turn_duration 1 minute to 1 day, max_wait 5 minutes to 7 days',
    jsonb_build_object('customers_per_mechanic', p_customers_per_mechanic, 'turn_duration', p_turn_duration,
                       'max_wait', p_max_wait));
END
$$;
COMMENT ON FUNCTION api.set_waitlist_settings(int, interval, interval) IS
'Change the waitlist rules (NULL keeps a value): customers per mechanic coming on shift (1-100, default 1), turn_duration (1 minute-1 day, default 10 minutes), max_wait (5 minutes-7 days, default 2 hours). Admins. Returns {customers_per_mechanic, turn_minutes, max_wait_minutes, updated_at}. Raises 403 forbidden, 422 invalid_value.';
GRANT EXECUTE ON FUNCTION api.set_waitlist_settings(int, interval, interval) TO autodoc_admin;

-- api.advance_waitlist(): pg_cron job autodoc-waitlist-advance, every minute. (1) Turns that lapsed
-- by now expire (close_reason turn_lapsed; email + live event). (2) Every on-shift mechanic with free
-- turns (free: see waitlist_give_turns) gives them to the queue, while anyone waits. Safe to run twice,
-- also at once (SKIP LOCKED, per-mechanic locks, state checks); everything due as of now, so a late
-- run catches up. Returns {turns_lapsed, notified}. Owner (pg_cron), admin.
CREATE OR REPLACE FUNCTION api.advance_waitlist() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
  v_settings app.waitlist_settings := app_private.waitlist_settings();
  v_entry app.waitlist_entries;
  v_mechanic uuid;
  v_lapsed int := 0;
  v_notified int := 0;
BEGIN
  FOR v_entry IN
    WITH due AS (
      SELECT e.id FROM app.waitlist_entries e
       WHERE e.status = 'notified' AND e.turn_expires_at <= v_now
       ORDER BY e.turn_expires_at, e.id
       FOR UPDATE SKIP LOCKED)
    UPDATE app.waitlist_entries e
       SET status = 'expired', close_reason = 'turn_lapsed', closed_at = v_now, updated_at = v_now
      FROM due WHERE e.id = due.id
    RETURNING e.*
  LOOP
    PERFORM app_private.waitlist_tell(v_entry, 'expired');
    v_lapsed := v_lapsed + 1;
  END LOOP;

  -- In one order (user_id), so two runs take the per-mechanic locks in the same order.
  FOR v_mechanic IN SELECT m.user_id FROM app.mechanics m WHERE m.currently_on_shift AND m.is_active ORDER BY m.user_id LOOP
    EXIT WHEN NOT EXISTS (SELECT FROM app.waitlist_entries e
                           WHERE e.status = 'pending' AND e.created_at > v_now - v_settings.max_wait);
    v_notified := v_notified + app_private.waitlist_give_turns(v_mechanic);
  END LOOP;
  RETURN jsonb_build_object('turns_lapsed', v_lapsed, 'notified', v_notified);
END
$$;
COMMENT ON FUNCTION api.advance_waitlist() IS
'pg_cron job autodoc-waitlist-advance (every minute): lapsed turns expire (email + live event), then every on-shift, free mechanic''s free turns go to the oldest pending entries. Idempotent, safe concurrently. Returns {turns_lapsed, notified}. Admin.';
GRANT EXECUTE ON FUNCTION api.advance_waitlist() TO autodoc_admin;

-- api.expire_waitlist(): pg_cron job autodoc-waitlist-expire, every 5 minutes: pending entries that
-- waited max_wait (default 2 hours) or longer expire (close_reason max_wait) with an email and a live
-- event. An open turn is not cut short (it ends by its own lapse). Safe to run twice, also at once
-- (SKIP LOCKED; an expired entry no longer matches). Returns how many this run expired. Owner, admin.
CREATE OR REPLACE FUNCTION api.expire_waitlist() RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_now timestamptz := app_private.now();
  v_settings app.waitlist_settings := app_private.waitlist_settings();
  v_entry app.waitlist_entries;
  v_count int := 0;
BEGIN
  FOR v_entry IN
    WITH due AS (
      SELECT e.id FROM app.waitlist_entries e
       WHERE e.status = 'pending' AND e.created_at <= v_now - v_settings.max_wait
       ORDER BY e.created_at, e.id
       FOR UPDATE SKIP LOCKED)
    UPDATE app.waitlist_entries e
       SET status = 'expired', close_reason = 'max_wait', closed_at = v_now, updated_at = v_now
      FROM due WHERE e.id = due.id
    RETURNING e.*
  LOOP
    PERFORM app_private.waitlist_tell(v_entry, 'expired');
    v_count := v_count + 1;
  END LOOP;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.expire_waitlist() IS
'pg_cron job autodoc-waitlist-expire (every 5 minutes): pending entries that waited max_wait (default 2 hours) expire, with an email and a live event. Idempotent, safe concurrently. Returns how many it expired. Admin.';
GRANT EXECUTE ON FUNCTION api.expire_waitlist() TO autodoc_admin;

-- The durable outbox: enqueue (from state-changing functions), claim / complete / fail (the
-- worker), dead letters and retry (admins), health (the /health endpoint) and cleanup (pg_cron).
--
-- Worker-facing functions are SECURITY INVOKER: the worker runs them as autodoc_worker and RLS
-- policies (db/policies/30_side_effects.sql) let that role work every outbox row. Write-backs that
-- touch other domains go through app_private definer helpers granted to the worker only.

-- outbox_enqueue(): record a side effect in the caller's transaction. The idempotency key says what
-- the effect is for; enqueueing the same key twice is a no-op (a job run twice enqueues once) and
-- returns the existing row's id. The row is due at once unless p_run_after says later (callers do
-- not pass their injected p_now here: a test "now" in 2030 must not park the email until 2030).
-- Called by definer functions and triggers; raises nothing of its own (a CHECK violation for an
-- unknown kind).
CREATE OR REPLACE FUNCTION app_private.outbox_enqueue(
  p_kind text, p_key text, p_payload jsonb, p_session_id uuid DEFAULT NULL,
  p_run_after timestamptz DEFAULT NULL, p_max_attempts integer DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_id bigint;
BEGIN
  INSERT INTO app.outbox (kind, idempotency_key, payload, session_id, run_after, max_attempts)
  VALUES (p_kind, p_key, coalesce(p_payload, '{}'::jsonb), p_session_id,
          coalesce(p_run_after, now()), coalesce(p_max_attempts, 8))
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    SELECT o.id INTO v_id FROM app.outbox o WHERE o.idempotency_key = p_key;
  END IF;
  RETURN v_id;
END
$$;
GRANT EXECUTE ON FUNCTION app_private.outbox_enqueue(text, text, jsonb, uuid, timestamptz, integer) TO autodoc_admin;

-- outbox_context(): fresh facts a claimed effect needs that were unknown at enqueue time (the
-- PaymentIntent of a refund, or of an intent to cancel, is only known once the charge row ran).
-- Worker only.
CREATE OR REPLACE FUNCTION app_private.outbox_context(p_kind text, p_payload jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v jsonb := '{}'::jsonb;
BEGIN
  IF p_kind = 'stripe.refund' THEN
    SELECT jsonb_build_object('payment_intent_id', p.payment_intent_id, 'payment_status', p.status)
      INTO v
      FROM app.payment_refunds r JOIN app.scheduled_payments p ON p.id = r.payment_id
     WHERE r.id = (p_payload ->> 'refund_id')::uuid;
  ELSIF p_kind = 'stripe.cancel_intent' THEN
    -- Read at claim time: the charge row may have run (and linked its intent) after the enqueue.
    SELECT jsonb_build_object('payment_intent_id', p.payment_intent_id, 'payment_status', p.status)
      INTO v
      FROM app.scheduled_payments p
     WHERE p.id = (p_payload ->> 'payment_id')::uuid;
  END IF;
  RETURN coalesce(v, '{}'::jsonb);
END
$$;
GRANT EXECUTE ON FUNCTION app_private.outbox_context(text, jsonb) TO autodoc_worker;

-- api.outbox_claim(): lease up to p_limit due rows to one worker. FOR UPDATE SKIP LOCKED lets many
-- workers claim at once without ever handing one row to two of them; a running row whose lease
-- expired (its worker died) is claimable again. Each claim counts as an attempt, so a row that
-- crashes its worker every time still ends in the dead-letter state. Worker role.
CREATE OR REPLACE FUNCTION api.outbox_claim(
  p_worker text, p_limit integer DEFAULT 10, p_lease_seconds integer DEFAULT 60, p_now timestamptz DEFAULT now()
) RETURNS TABLE (id bigint, kind text, idempotency_key text, payload jsonb, attempts integer,
                 max_attempts integer, leased_until timestamptz, session_id uuid)
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  -- A row whose last allowed attempt died with its worker goes to the dead letters.
  UPDATE app.outbox o
     SET status = 'dead', leased_until = NULL, locked_by = NULL, updated_at = p_now,
         last_error = concat_ws(E'\n', o.last_error, 'lease expired on the last attempt (worker ' || o.locked_by || ')')
   WHERE o.id IN (SELECT x.id FROM app.outbox x
                   WHERE x.status = 'running' AND x.leased_until < p_now AND x.attempts >= x.max_attempts
                   FOR UPDATE SKIP LOCKED);

  RETURN QUERY
  WITH due AS (
    SELECT x.id FROM app.outbox x
     WHERE (x.status = 'pending' AND x.run_after <= p_now)
        OR (x.status = 'running' AND x.leased_until < p_now AND x.attempts < x.max_attempts)
     ORDER BY x.run_after, x.id
     LIMIT greatest(p_limit, 0)
     FOR UPDATE SKIP LOCKED
  )
  UPDATE app.outbox o
     SET status = 'running', attempts = o.attempts + 1, locked_by = p_worker,
         leased_until = p_now + make_interval(secs => p_lease_seconds), updated_at = p_now
    FROM due
   WHERE o.id = due.id
  RETURNING o.id, o.kind, o.idempotency_key, o.payload || app_private.outbox_context(o.kind, o.payload),
            o.attempts, o.max_attempts, o.leased_until, o.session_id;
END
$$;
COMMENT ON FUNCTION api.outbox_claim(text, integer, integer, timestamptz) IS
  'Lease up to p_limit due outbox rows to worker p_worker (FOR UPDATE SKIP LOCKED); expired leases are reclaimed. Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_claim(text, integer, integer, timestamptz) TO autodoc_worker;

-- api.outbox_complete(): the effect happened; store its result and apply it to the domain tables
-- (payment succeeded/failed, refund recorded) in the same transaction. Completing a row twice (a
-- second worker after a lost lease) applies the result once and returns false. Worker role.
CREATE OR REPLACE FUNCTION api.outbox_complete(
  p_id bigint, p_worker text, p_result jsonb DEFAULT '{}'::jsonb, p_now timestamptz DEFAULT now()
) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_kind text;
  v_payload jsonb;
BEGIN
  UPDATE app.outbox o
     SET status = 'done', result = coalesce(p_result, '{}'::jsonb), done_at = p_now, updated_at = p_now,
         leased_until = NULL, locked_by = NULL
   WHERE o.id = p_id AND o.status <> 'done'
  RETURNING o.kind, o.payload INTO v_kind, v_payload;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM app_private.outbox_apply_result(p_id, v_kind, v_payload, coalesce(p_result, '{}'::jsonb), p_now);
  RETURN true;
END
$$;
COMMENT ON FUNCTION api.outbox_complete(bigint, text, jsonb, timestamptz) IS
  'Mark an outbox row done with its result and apply the result (payments, refunds). Returns false if it was already done. Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_complete(bigint, text, jsonb, timestamptz) TO autodoc_worker;

-- api.outbox_fail(): the effect failed. Retryable failures go back to pending with exponential
-- backoff (base * 2^(attempts-1), at most one hour); a permanent failure, or the last allowed
-- attempt, ends in the dead-letter state. Only the lease holder may report (a worker that lost its
-- lease cannot clobber the new holder). Returns the new status, NULL if not the holder. Worker role.
CREATE OR REPLACE FUNCTION api.outbox_fail(
  p_id bigint, p_worker text, p_error text, p_retryable boolean DEFAULT true,
  p_backoff_base_seconds double precision DEFAULT 5, p_now timestamptz DEFAULT now()
) RETURNS text
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_status text;
BEGIN
  UPDATE app.outbox o
     SET status = CASE WHEN NOT p_retryable OR o.attempts >= o.max_attempts THEN 'dead' ELSE 'pending' END,
         run_after = CASE WHEN NOT p_retryable OR o.attempts >= o.max_attempts THEN o.run_after
                          ELSE p_now + make_interval(secs => least(p_backoff_base_seconds * power(2, greatest(o.attempts - 1, 0)), 3600)) END,
         last_error = left(p_error, 4000), leased_until = NULL, locked_by = NULL, updated_at = p_now
   WHERE o.id = p_id AND o.status = 'running' AND o.locked_by = p_worker
  RETURNING o.status INTO v_status;
  RETURN v_status;
END
$$;
COMMENT ON FUNCTION api.outbox_fail(bigint, text, text, boolean, double precision, timestamptz) IS
  'Report a failed effect: back to pending with exponential backoff, or dead after max_attempts / when not retryable. Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_fail(bigint, text, text, boolean, double precision, timestamptz) TO autodoc_worker;

-- api.outbox_release(): give back claimed rows this worker never started (graceful shutdown); the
-- attempt they were charged is returned. Worker role.
CREATE OR REPLACE FUNCTION api.outbox_release(p_worker text, p_ids bigint[], p_now timestamptz DEFAULT now())
RETURNS integer
LANGUAGE sql SET search_path = '' AS $$
  WITH r AS (
    UPDATE app.outbox o
       SET status = 'pending', attempts = greatest(o.attempts - 1, 0), leased_until = NULL, locked_by = NULL,
           run_after = p_now, updated_at = p_now
     WHERE o.id = ANY (p_ids) AND o.status = 'running' AND o.locked_by = p_worker
    RETURNING 1)
  SELECT count(*)::integer FROM r
$$;
COMMENT ON FUNCTION api.outbox_release(text, bigint[], timestamptz) IS
  'Return claimed-but-unstarted rows to pending (graceful shutdown). Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_release(text, bigint[], timestamptz) TO autodoc_worker;

-- api.worker_started(): register a worker process. A worker restarted under the same id knows its
-- previous leases are dead, so they become due at once instead of after the lease (the attempt
-- stays counted: the effect may have run). Returns how many rows were taken back. Worker role.
CREATE OR REPLACE FUNCTION api.worker_started(
  p_worker text, p_hostname text DEFAULT NULL, p_pid integer DEFAULT NULL, p_info jsonb DEFAULT '{}'::jsonb,
  p_now timestamptz DEFAULT now()
) RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_count integer;
BEGIN
  INSERT INTO app.worker_heartbeats AS h (worker_id, hostname, pid, started_at, heartbeat_at, stopped_at, info)
  VALUES (p_worker, p_hostname, p_pid, p_now, p_now, NULL, coalesce(p_info, '{}'::jsonb))
  ON CONFLICT (worker_id) DO UPDATE
    SET hostname = excluded.hostname, pid = excluded.pid, started_at = excluded.started_at,
        heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, info = excluded.info;
  UPDATE app.outbox o
     SET status = 'pending', leased_until = NULL, locked_by = NULL, run_after = p_now, updated_at = p_now,
         last_error = concat_ws(E'\n', o.last_error, 'worker ' || p_worker || ' restarted during the attempt')
   WHERE o.status = 'running' AND o.locked_by = p_worker;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.worker_started(text, text, integer, jsonb, timestamptz) IS
  'Register a worker (heartbeat row) and take back leases a previous process with the same id left behind. Worker role.';
GRANT EXECUTE ON FUNCTION api.worker_started(text, text, integer, jsonb, timestamptz) TO autodoc_worker;

-- api.worker_heartbeat(): the worker is alive (and optionally stopping). Worker role.
CREATE OR REPLACE FUNCTION api.worker_heartbeat(
  p_worker text, p_info jsonb DEFAULT NULL, p_stopped boolean DEFAULT false, p_now timestamptz DEFAULT now()
) RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  INSERT INTO app.worker_heartbeats AS h (worker_id, heartbeat_at, stopped_at, info)
  VALUES (p_worker, p_now, CASE WHEN p_stopped THEN p_now END, coalesce(p_info, '{}'::jsonb))
  ON CONFLICT (worker_id) DO UPDATE
    SET heartbeat_at = p_now, stopped_at = CASE WHEN p_stopped THEN p_now END,
        info = coalesce(p_info, h.info);
END
$$;
COMMENT ON FUNCTION api.worker_heartbeat(text, jsonb, boolean, timestamptz) IS
  'Record a worker heartbeat (p_stopped = true on graceful shutdown). Worker role.';
GRANT EXECUTE ON FUNCTION api.worker_heartbeat(text, jsonb, boolean, timestamptz) TO autodoc_worker;

-- api.outbox_health(): queue depth, oldest pending age, dead letters and worker heartbeats for
-- /health. Aggregates only, so every role (anon included) may call it.
CREATE OR REPLACE FUNCTION api.outbox_health(p_now timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT jsonb_build_object(
    'pending',  (SELECT count(*) FROM app.outbox WHERE status = 'pending'),
    'due',      (SELECT count(*) FROM app.outbox WHERE status = 'pending' AND run_after <= p_now),
    'running',  (SELECT count(*) FROM app.outbox WHERE status = 'running'),
    'dead',     (SELECT count(*) FROM app.outbox WHERE status = 'dead'),
    'oldest_pending_age_seconds',
                (SELECT round(extract(epoch FROM p_now - min(created_at))::numeric, 3)
                   FROM app.outbox WHERE status = 'pending'),
    'last_heartbeat_at', (SELECT max(heartbeat_at) FROM app.worker_heartbeats WHERE stopped_at IS NULL),
    'heartbeat_age_seconds',
                (SELECT round(extract(epoch FROM p_now - max(heartbeat_at))::numeric, 3)
                   FROM app.worker_heartbeats WHERE stopped_at IS NULL),
    'workers_alive', (SELECT count(*) FROM app.worker_heartbeats
                       WHERE stopped_at IS NULL AND heartbeat_at >= p_now - interval '30 seconds'),
    'workers', coalesce((SELECT jsonb_agg(jsonb_build_object('worker_id', worker_id, 'heartbeat_at', heartbeat_at,
                                                             'started_at', started_at) ORDER BY worker_id)
                           FROM app.worker_heartbeats
                          WHERE stopped_at IS NULL AND heartbeat_at >= p_now - interval '30 seconds'),
                        '[]'::jsonb))
$$;
COMMENT ON FUNCTION api.outbox_health(timestamptz) IS
  'Outbox depth (pending/due/running/dead), oldest pending age and live worker heartbeats, for /health. Any role.';
GRANT EXECUTE ON FUNCTION api.outbox_health(timestamptz)
  TO autodoc_anon, autodoc_customer, autodoc_mechanic, autodoc_admin, autodoc_worker;

-- api.outbox_dead_letters(): the dead-letter queue, newest first. Admin role (RLS).
CREATE OR REPLACE FUNCTION api.outbox_dead_letters(p_limit integer DEFAULT 50, p_offset integer DEFAULT 0)
RETURNS TABLE (id bigint, kind text, idempotency_key text, payload jsonb, attempts integer, max_attempts integer,
               last_error text, session_id uuid, created_at timestamptz, updated_at timestamptz)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT o.id, o.kind, o.idempotency_key, o.payload, o.attempts, o.max_attempts, o.last_error, o.session_id,
         o.created_at, o.updated_at
    FROM app.outbox o
   WHERE o.status = 'dead'
   ORDER BY o.updated_at DESC, o.id DESC
   LIMIT least(greatest(p_limit, 0), 500) OFFSET greatest(p_offset, 0)
$$;
COMMENT ON FUNCTION api.outbox_dead_letters(integer, integer) IS 'Dead-lettered side effects, newest first. Admin role.';
GRANT EXECUTE ON FUNCTION api.outbox_dead_letters(integer, integer) TO autodoc_admin;

-- api.outbox_retry(): put a dead letter back in the queue with a fresh attempt budget; it runs
-- with the same idempotency key, so a retried charge that had in fact gone through is not doubled.
-- Admin role. Raises 404 outbox_not_found, 409 outbox_not_dead.
CREATE OR REPLACE FUNCTION api.outbox_retry(p_id bigint, p_now timestamptz DEFAULT now())
RETURNS TABLE (id bigint, kind text, status text, attempts integer, run_after timestamptz)
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_status text;
BEGIN
  SELECT o.status INTO v_status FROM app.outbox o WHERE o.id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM app_private.raise_error(404, 'outbox_not_found', 'No such outbox row', jsonb_build_object('id', p_id));
  ELSIF v_status <> 'dead' THEN
    PERFORM app_private.raise_error(409, 'outbox_not_dead', 'Only dead letters can be retried',
                                    jsonb_build_object('id', p_id, 'status', v_status));
  END IF;
  RETURN QUERY
  UPDATE app.outbox o
     SET status = 'pending', attempts = 0, run_after = p_now, updated_at = p_now
   WHERE o.id = p_id
  RETURNING o.id, o.kind, o.status, o.attempts, o.run_after;
END
$$;
COMMENT ON FUNCTION api.outbox_retry(bigint, timestamptz) IS
  'Re-queue a dead letter (same idempotency key, attempts reset). Admin role. Raises 404 outbox_not_found, 409 outbox_not_dead.';
GRANT EXECUTE ON FUNCTION api.outbox_retry(bigint, timestamptz) TO autodoc_admin;

-- api.outbox_purge_done(): delete done rows older than p_keep (pg_cron, daily). Their idempotency
-- keys are then forgotten, which is safe because every enqueueing purpose is also guarded by its
-- own domain row (payments, refunds, reminders, invites). Owner / admin.
CREATE OR REPLACE FUNCTION api.outbox_purge_done(p_keep interval DEFAULT '30 days', p_now timestamptz DEFAULT now())
RETURNS integer
LANGUAGE sql SET search_path = '' AS $$
  WITH d AS (DELETE FROM app.outbox WHERE status = 'done' AND done_at < p_now - p_keep RETURNING 1)
  SELECT count(*)::integer FROM d
$$;
COMMENT ON FUNCTION api.outbox_purge_done(interval, timestamptz) IS 'Delete done outbox rows older than p_keep (pg_cron). Admin role.';
GRANT EXECUTE ON FUNCTION api.outbox_purge_done(interval, timestamptz) TO autodoc_admin;

-- api.purge_cron_history(): pg_cron never purges cron.job_run_details by itself. Runs only where
-- pg_cron is installed (returns 0 elsewhere). Owner (the pg_cron job).
CREATE OR REPLACE FUNCTION api.purge_cron_history(p_keep interval DEFAULT '7 days', p_now timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_count integer := 0;
BEGIN
  IF to_regclass('cron.job_run_details') IS NOT NULL THEN
    EXECUTE 'DELETE FROM cron.job_run_details WHERE end_time < $1' USING p_now - p_keep;
    GET DIAGNOSTICS v_count = ROW_COUNT;
  END IF;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.purge_cron_history(interval, timestamptz) IS 'Delete pg_cron run history older than p_keep (pg_cron job). Owner.';

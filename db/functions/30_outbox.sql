-- The durable outbox: enqueue (from state-changing functions), claim / complete / fail (the
-- worker), dead letters and retry (admins), health (the /health endpoint) and cleanup (pg_cron).
--
-- The queue knows no domain. What a kind means lives in the registry app.outbox_kinds (migration
-- 0008): its owning band, the function that adds claim-time facts (context_fn), the function that
-- applies a result (apply_fn), its retry policy and its lane. Each domain registers its kinds in its
-- own file with app_private.outbox_register_kind() (40_payments.sql: stripe.*, 50_notifications.sql:
-- email.send); this file only dispatches through the registry.
--
-- Worker-facing functions are SECURITY INVOKER: the worker runs them as autodoc_worker and RLS
-- policies (db/policies/30_outbox.sql) let that role work every outbox row. The registry's
-- context and apply functions are app_private definer helpers granted to the worker only.
--
-- Time: every function reads the trusted clock app_private.now(); the worker never passes a time.

-- outbox_register_kind(): insert or update one registry row (the domain's file calls it each time
-- it is applied, so the row always matches the repo). p_context_fn / p_apply_fn name functions
-- with the signatures described in the migration; NULL for none. Owner only (files run as it).
CREATE OR REPLACE FUNCTION app_private.outbox_register_kind(
  p_kind text, p_band smallint, p_domain text, p_context_fn regprocedure, p_apply_fn regprocedure,
  p_max_attempts integer, p_backoff_base_seconds double precision, p_backoff_max_seconds double precision,
  p_lane text, p_description text
) RETURNS void
LANGUAGE sql SET search_path = '' AS $$
  INSERT INTO app.outbox_kinds AS k (kind, band, domain, context_fn, apply_fn, max_attempts, backoff_base_seconds,
                                     backoff_max_seconds, lane, description)
  VALUES (p_kind, p_band, p_domain, p_context_fn, p_apply_fn, p_max_attempts, p_backoff_base_seconds,
          p_backoff_max_seconds, p_lane, p_description)
  ON CONFLICT (kind) DO UPDATE
    SET band = excluded.band, domain = excluded.domain, context_fn = excluded.context_fn,
        apply_fn = excluded.apply_fn, max_attempts = excluded.max_attempts,
        backoff_base_seconds = excluded.backoff_base_seconds, backoff_max_seconds = excluded.backoff_max_seconds,
        lane = excluded.lane, description = excluded.description
$$;

-- noop: does nothing (benchmarks and tests of the queue itself). The queue's own kind.
SELECT app_private.outbox_register_kind('noop', 30::smallint, 'outbox', NULL, NULL, 8, 5, 3600, 'default',
  'Does nothing; benchmarks and tests of the queue.');

-- outbox_enqueue(): record a side effect in the caller's transaction. The idempotency key says what
-- the effect is for; enqueueing the same key twice is a no-op (a job run twice enqueues once) and
-- returns the existing row's id. The row is due at once unless p_run_after says later; "at once" is
-- the earlier of the trusted clock and the transaction's real time (the same instant outside test
-- databases; in a test that injects a future "now", the effect is still due for a real worker).
-- The attempt budget is the kind's (registry) unless p_max_attempts says otherwise.
-- Called by definer functions and triggers; raises nothing of its own (23503 for an unregistered
-- kind).
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
          coalesce(p_run_after, least(app_private.now(), pg_catalog.now())),
          coalesce(p_max_attempts, (SELECT k.max_attempts FROM app.outbox_kinds k WHERE k.kind = p_kind), 8))
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NULL THEN
    SELECT o.id INTO v_id FROM app.outbox o WHERE o.idempotency_key = p_key;
  END IF;
  RETURN v_id;
END
$$;
GRANT EXECUTE ON FUNCTION app_private.outbox_enqueue(text, text, jsonb, uuid, timestamptz, integer) TO autodoc_admin;

-- outbox_context(): the facts a claimed row's kind adds at claim time (its registry context_fn),
-- e.g. the PaymentIntent of a refund, known only once the charge ran. NULL when the kind has none.
-- A `skip` key in the answer tells the worker not to run the effect. Called by api.outbox_claim.
CREATE OR REPLACE FUNCTION app_private.outbox_context(p_kind text, p_payload jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_fn regprocedure;
  v jsonb;
BEGIN
  SELECT k.context_fn INTO v_fn FROM app.outbox_kinds k WHERE k.kind = p_kind;
  IF v_fn IS NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('SELECT %s($1)', v_fn::regproc) INTO v USING p_payload;
  RETURN v;
END
$$;
GRANT EXECUTE ON FUNCTION app_private.outbox_context(text, jsonb) TO autodoc_worker;

-- outbox_apply_result(): write a completed row's result back through its kind's registry apply_fn
-- (payments, refunds, ...), in api.outbox_complete's transaction. Nothing when the kind has none.
CREATE OR REPLACE FUNCTION app_private.outbox_apply_result(p_outbox_id bigint, p_kind text, p_payload jsonb,
                                                           p_result jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  v_fn regprocedure;
BEGIN
  SELECT k.apply_fn INTO v_fn FROM app.outbox_kinds k WHERE k.kind = p_kind;
  IF v_fn IS NOT NULL THEN
    EXECUTE format('SELECT %s($1, $2, $3)', v_fn::regproc) USING p_outbox_id, p_payload, p_result;
  END IF;
END
$$;
GRANT EXECUTE ON FUNCTION app_private.outbox_apply_result(bigint, text, jsonb, jsonb) TO autodoc_worker;

-- outbox_due(kinds, now, limit, attempts_left): lock (FOR UPDATE SKIP LOCKED) and return the oldest
-- `limit` due rows of these kinds, by (run_after, id): pending rows whose time has come, and running
-- rows whose lease expired (their worker died; with attempts_left, only those with an attempt left).
-- The cost does not grow with the backlog: each kind's pending rows are read in the order of the
-- index outbox_pending_kind_due and at most `limit` of them, where one query over all the kinds had
-- to fetch and sort every due row (a backlog of 194,000 rows: 0.3 s per batch of 10, so draining it
-- was quadratic; now 0.6 ms). A kind's candidates left over after the final LIMIT stay locked until
-- the caller's transaction ends: other workers skip them meanwhile, as they would any claimed row.
-- ROWS 10 (a batch), not the default 1,000: the callers join its rows to app.outbox by id, and at
-- 1,000 the planner hashed the whole table for them. Worker role (api.outbox_claim and
-- api.outbox_apply_due run as their caller).
CREATE OR REPLACE FUNCTION app_private.outbox_due(p_kinds text[], p_now timestamptz, p_limit integer,
                                                  p_attempts_left boolean)
RETURNS TABLE (id bigint, kind text, payload jsonb, run_after timestamptz)
LANGUAGE plpgsql ROWS 10 SET search_path = '' AS $$
BEGIN
  RETURN QUERY
  WITH pending AS (
    SELECT p.id, p.kind, p.payload, p.run_after
      FROM unnest(p_kinds) AS k(kind)
      CROSS JOIN LATERAL (SELECT x.id, x.kind, x.payload, x.run_after FROM app.outbox x
                           WHERE x.status = 'pending' AND x.kind = k.kind AND x.run_after <= p_now
                           ORDER BY x.run_after, x.id
                           LIMIT greatest(p_limit, 0)
                           FOR UPDATE SKIP LOCKED) p
  ), lapsed AS (
    SELECT x.id, x.kind, x.payload, x.run_after FROM app.outbox x
     WHERE x.status = 'running' AND x.leased_until < p_now AND x.kind = ANY (p_kinds)
       AND (NOT p_attempts_left OR x.attempts < x.max_attempts)
     ORDER BY x.run_after, x.id
     LIMIT greatest(p_limit, 0)
     FOR UPDATE SKIP LOCKED
  )
  SELECT c.id, c.kind, c.payload, c.run_after
    FROM (SELECT * FROM pending UNION ALL SELECT * FROM lapsed) c
   ORDER BY c.run_after, c.id
   LIMIT greatest(p_limit, 0);
END
$$;
GRANT EXECUTE ON FUNCTION app_private.outbox_due(text[], timestamptz, integer, boolean) TO autodoc_worker;

-- api.outbox_claim(): lease up to p_limit due rows to one worker. FOR UPDATE SKIP LOCKED lets many
-- workers claim at once without ever handing one row to two of them; a running row whose lease
-- expired (its worker died) is claimable again. Each claim counts as an attempt, so a row that
-- crashes its worker every time still ends in the dead-letter state. The payload comes back with
-- the kind's claim-time facts merged in; skip_reason is set when those facts say the effect must
-- not run (the worker then completes the row with {"status": "skipped", "reason": skip_reason}).
-- p_lanes: claim only kinds of these lanes (the worker runs one loop per lane, so a stalled SMTP
-- server never holds a charge back); NULL = every lane but `database`, whose rows are never leased
-- (api.outbox_apply_due applies them). Worker role.
CREATE OR REPLACE FUNCTION api.outbox_claim(
  p_worker text, p_limit integer DEFAULT 10, p_lease_seconds integer DEFAULT 60, p_lanes text[] DEFAULT NULL
) RETURNS TABLE (id bigint, kind text, idempotency_key text, payload jsonb, attempts integer,
                 max_attempts integer, leased_until timestamptz, session_id uuid, lane text, skip_reason text)
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
  -- the kinds of the lanes asked for; never those of the `database` lane (api.outbox_apply_due)
  v_kinds constant text[] := ARRAY(SELECT k.kind FROM app.outbox_kinds k
                                    WHERE k.lane <> 'database' AND (p_lanes IS NULL OR k.lane = ANY (p_lanes)));
BEGIN
  -- A row whose last allowed attempt died with its worker goes to the dead letters.
  UPDATE app.outbox o
     SET status = 'dead', leased_until = NULL, locked_by = NULL, updated_at = v_now,
         last_error = concat_ws(E'\n', o.last_error, 'lease expired on the last attempt (worker ' || o.locked_by || ')')
   WHERE o.id IN (SELECT x.id FROM app.outbox x
                   WHERE x.status = 'running' AND x.leased_until < v_now AND x.attempts >= x.max_attempts
                   FOR UPDATE SKIP LOCKED);

  RETURN QUERY
  WITH due AS (
    SELECT d.id, d.kind, d.payload FROM app_private.outbox_due(v_kinds, v_now, p_limit, true) d
  )
  UPDATE app.outbox o
     SET status = 'running', attempts = o.attempts + 1, locked_by = p_worker,
         leased_until = v_now + make_interval(secs => p_lease_seconds), updated_at = v_now
    FROM due
    -- the kind's claim-time facts, read in this transaction (after the row lock); OFFSET 0 keeps the
    -- subquery from being inlined, which evaluated the function once per use below (twice a row)
    CROSS JOIN LATERAL (SELECT app_private.outbox_context(due.kind, due.payload) AS facts OFFSET 0) c
   WHERE o.id = due.id
  RETURNING o.id, o.kind, o.idempotency_key, o.payload || coalesce(c.facts - 'skip', '{}'::jsonb),
            o.attempts, o.max_attempts, o.leased_until, o.session_id,
            (SELECT k.lane FROM app.outbox_kinds k WHERE k.kind = o.kind), c.facts ->> 'skip';
END
$$;
COMMENT ON FUNCTION api.outbox_claim(text, integer, integer, text[]) IS
  'Lease up to p_limit due outbox rows (of the lanes p_lanes; NULL = all) to worker p_worker (FOR UPDATE SKIP LOCKED); expired leases are reclaimed. The payload carries the kind''s claim-time facts; skip_reason says the effect must not run. Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_claim(text, integer, integer, text[]) TO autodoc_worker;

-- api.outbox_complete_many(): several effects happened (or were skipped); store each row's result
-- and apply it through its kind's registry apply_fn, all in ONE transaction (the worker writes back
-- every completion that waited while its previous write-back ran: one statement and one commit
-- instead of one each). p_results[i] is the result of p_ids[i] (NULL = {}). A row already done
-- (a second worker after a lost lease) is skipped: its result is applied once, by whoever completed
-- it first; an id given twice is completed once, with its first result. Returns the ids completed by
-- this call, in the order applied.
-- Raises 422 invalid_value when the arrays differ in length. An apply_fn that raises fails the
-- whole call (the worker then completes that batch's rows one by one). Worker role.
CREATE OR REPLACE FUNCTION api.outbox_complete_many(p_worker text, p_ids bigint[], p_results jsonb[])
RETURNS bigint[]
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
  v_done bigint[] := '{}'::bigint[];
  r record;
BEGIN
  IF cardinality(p_ids) IS DISTINCT FROM cardinality(p_results) THEN
    PERFORM app_private.raise_error(422, 'invalid_value', 'p_ids and p_results must have the same length',
                                    jsonb_build_object('field', 'p_results', 'value', cardinality(p_results),
                                                       'allowed', 'one result per id (' || coalesce(cardinality(p_ids), 0) || ')'));
  END IF;
  FOR r IN
    UPDATE app.outbox o
       SET status = 'done', result = coalesce(p_results[array_position(p_ids, o.id)], '{}'::jsonb),
           done_at = v_now, updated_at = v_now, leased_until = NULL, locked_by = NULL
     WHERE o.id = ANY (p_ids) AND o.status <> 'done'
    RETURNING o.id, o.kind, o.payload, o.result
  LOOP
    PERFORM app_private.outbox_apply_result(r.id, r.kind, r.payload, r.result);
    v_done := v_done || r.id;
  END LOOP;
  RETURN v_done;
END
$$;
COMMENT ON FUNCTION api.outbox_complete_many(text, bigint[], jsonb[]) IS
  'Mark several outbox rows done, p_results[i] the result of p_ids[i], applying each through its kind''s registry apply function, in one transaction. Rows already done are skipped (applied once). Returns the ids completed by this call. Worker role. Raises 422 invalid_value (arrays of different lengths).';
GRANT EXECUTE ON FUNCTION api.outbox_complete_many(text, bigint[], jsonb[]) TO autodoc_worker;

-- api.outbox_complete(): one effect happened (or was skipped): api.outbox_complete_many of one row.
-- Completing a row twice (a second worker after a lost lease) applies the result once and returns
-- false. Worker role.
CREATE OR REPLACE FUNCTION api.outbox_complete(p_id bigint, p_worker text, p_result jsonb DEFAULT '{}'::jsonb)
RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  RETURN cardinality(api.outbox_complete_many(p_worker, ARRAY[p_id], ARRAY[p_result])) > 0;
END
$$;
COMMENT ON FUNCTION api.outbox_complete(bigint, text, jsonb) IS
  'Mark an outbox row done with its result and apply the result through its kind''s registry apply function. Returns false if it was already done. Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_complete(bigint, text, jsonb) TO autodoc_worker;

-- api.outbox_apply_due(): apply up to p_limit due rows of the `database` lane — kinds whose effect
-- is nothing but rows of this database (a booking's `session.booked` event fans out into its charge
-- and emails) — through their registry apply_fn, and mark them done, in ONE transaction: no lease,
-- no effect outside, no second statement to write back. Exactly once: the rows are locked (FOR
-- UPDATE SKIP LOCKED: two workers never apply the same row) and marked done in the transaction that
-- applies them, so a worker killed before its commit leaves them pending and unchanged, and a row
-- already done is never selected again (the apply functions are idempotent besides: same keys).
-- A row whose apply raises is rolled back alone and counts a failed attempt under the kind's
-- backoff, ending in the dead letters like any effect: the batch is applied in one subtransaction
-- (one, not one per row: each costs a subtransaction id and its bookkeeping); if any row raises, that
-- batch is rolled back and applied again row by row, each in its own subtransaction, so the others
-- still apply. Returns how many rows were applied (the worker then wakes the lanes their effects
-- went to). Worker role.
CREATE OR REPLACE FUNCTION api.outbox_apply_due(p_worker text, p_limit integer DEFAULT 10)
RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
  v_result constant jsonb := jsonb_build_object('applied_by', p_worker);
  v_rows app.outbox[];
  r app.outbox;
  v_done bigint[] := '{}'::bigint[];
BEGIN
  -- attempts_left false: a running row of these kinds was leased by a worker of before this lane;
  -- it is applied whatever its attempts
  v_rows := ARRAY(
    SELECT x FROM app.outbox x
     WHERE x.id = ANY (ARRAY(SELECT d.id FROM app_private.outbox_due(
                               ARRAY(SELECT k.kind FROM app.outbox_kinds k WHERE k.lane = 'database'), v_now, p_limit, false) d))
     ORDER BY x.run_after, x.id);
  IF cardinality(v_rows) = 0 THEN
    RETURN 0;
  END IF;
  BEGIN  -- the whole batch at once
    FOREACH r IN ARRAY v_rows LOOP
      PERFORM app_private.outbox_apply_result(r.id, r.kind, r.payload, v_result);
      v_done := v_done || r.id;
    END LOOP;
  EXCEPTION WHEN OTHERS THEN
    v_done := '{}';
    FOREACH r IN ARRAY v_rows LOOP  -- again row by row: only the rows that raise are left out
      BEGIN
        PERFORM app_private.outbox_apply_result(r.id, r.kind, r.payload, v_result);
        v_done := v_done || r.id;
      EXCEPTION WHEN OTHERS THEN
        UPDATE app.outbox o
           SET attempts = o.attempts + 1,
               status = CASE WHEN o.attempts + 1 >= o.max_attempts THEN 'dead' ELSE 'pending' END,
               run_after = v_now + make_interval(secs => least(k.backoff_base_seconds * power(2, o.attempts),
                                                               k.backoff_max_seconds)),
               last_error = left(SQLSTATE || ': ' || SQLERRM, 4000), leased_until = NULL, locked_by = NULL,
               updated_at = v_now
          FROM app.outbox_kinds k
         WHERE o.id = r.id AND k.kind = o.kind;
      END;
    END LOOP;
  END;
  UPDATE app.outbox o
     SET status = 'done', attempts = o.attempts + 1, result = v_result, done_at = v_now, updated_at = v_now,
         leased_until = NULL, locked_by = NULL
   WHERE o.id = ANY (v_done);
  RETURN cardinality(v_done);
END
$$;
COMMENT ON FUNCTION api.outbox_apply_due(text, integer) IS
  'Apply up to p_limit due outbox rows of the database lane (kinds whose effect is only rows of this database, e.g. session.booked) through their apply function and mark them done, in one transaction (no lease, no write-back). A row whose apply fails counts a failed attempt (backoff, dead letter). Returns how many were applied. Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_apply_due(text, integer) TO autodoc_worker;

-- api.outbox_fail(): the effect failed. Retryable failures go back to pending after the kind's
-- backoff (registry: backoff_base_seconds * 2^(attempts-1), at most backoff_max_seconds); a
-- permanent failure, or the last allowed attempt, ends in the dead-letter state. Only the lease
-- holder may report (a worker that lost its lease cannot clobber the new holder). Returns the new
-- status, NULL if not the holder. Worker role.
CREATE OR REPLACE FUNCTION api.outbox_fail(p_id bigint, p_worker text, p_error text, p_retryable boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
  v_status text;
BEGIN
  UPDATE app.outbox o
     SET status = CASE WHEN NOT p_retryable OR o.attempts >= o.max_attempts THEN 'dead' ELSE 'pending' END,
         run_after = CASE WHEN NOT p_retryable OR o.attempts >= o.max_attempts THEN o.run_after
                          ELSE v_now + make_interval(secs => least(k.backoff_base_seconds * power(2, greatest(o.attempts - 1, 0)),
                                                                   k.backoff_max_seconds)) END,
         last_error = left(p_error, 4000), leased_until = NULL, locked_by = NULL, updated_at = v_now
    FROM app.outbox_kinds k
   WHERE o.id = p_id AND o.status = 'running' AND o.locked_by = p_worker AND k.kind = o.kind
  RETURNING o.status INTO v_status;
  RETURN v_status;
END
$$;
COMMENT ON FUNCTION api.outbox_fail(bigint, text, text, boolean) IS
  'Report a failed effect: back to pending after the kind''s exponential backoff, or dead after max_attempts / when not retryable. Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_fail(bigint, text, text, boolean) TO autodoc_worker;

-- api.outbox_release(): give back claimed rows this worker never started (graceful shutdown); the
-- attempt they were charged is returned, and the other workers are woken (NOTIFY autodoc_outbox_v1,
-- on commit: a rare path, so the wake-up may ride in the transaction). Worker role.
CREATE OR REPLACE FUNCTION api.outbox_release(p_worker text, p_ids bigint[])
RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_count integer;
BEGIN
  UPDATE app.outbox o
     SET status = 'pending', attempts = greatest(o.attempts - 1, 0), leased_until = NULL, locked_by = NULL,
         run_after = app_private.now(), updated_at = app_private.now()
   WHERE o.id = ANY (p_ids) AND o.status = 'running' AND o.locked_by = p_worker;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count > 0 THEN
    PERFORM pg_catalog.pg_notify('autodoc_outbox_v1', json_build_object('op', 'requeue', 'count', v_count)::text);
  END IF;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.outbox_release(text, bigint[]) IS
  'Return claimed-but-unstarted rows to pending (graceful shutdown). Worker role.';
GRANT EXECUTE ON FUNCTION api.outbox_release(text, bigint[]) TO autodoc_worker;

-- api.worker_started(): register a worker process. A worker restarted under the same id knows its
-- previous leases are dead, so they become due at once instead of after the lease (the attempt
-- stays counted: the effect may have run). The worker counts as alive for p_ttl_seconds, renewed
-- by each heartbeat. Returns how many rows were taken back. Worker role.
CREATE OR REPLACE FUNCTION api.worker_started(
  p_worker text, p_hostname text DEFAULT NULL, p_pid integer DEFAULT NULL, p_info jsonb DEFAULT '{}'::jsonb,
  p_ttl_seconds double precision DEFAULT 30
) RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
  v_count integer;
BEGIN
  INSERT INTO app.worker_heartbeats AS h (worker_id, hostname, pid, started_at, heartbeat_at, stopped_at, info,
                                          alive_until)
  VALUES (p_worker, p_hostname, p_pid, v_now, v_now, NULL, coalesce(p_info, '{}'::jsonb),
          v_now + make_interval(secs => p_ttl_seconds))
  ON CONFLICT (worker_id) DO UPDATE
    SET hostname = excluded.hostname, pid = excluded.pid, started_at = excluded.started_at,
        heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, info = excluded.info,
        alive_until = excluded.alive_until;
  UPDATE app.outbox o
     SET status = 'pending', leased_until = NULL, locked_by = NULL, run_after = v_now, updated_at = v_now,
         last_error = concat_ws(E'\n', o.last_error, 'worker ' || p_worker || ' restarted during the attempt')
   WHERE o.status = 'running' AND o.locked_by = p_worker;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.worker_started(text, text, integer, jsonb, double precision) IS
  'Register a worker (heartbeat row, alive for p_ttl_seconds) and take back leases a previous process with the same id left behind. Worker role.';
GRANT EXECUTE ON FUNCTION api.worker_started(text, text, integer, jsonb, double precision) TO autodoc_worker;

-- api.worker_heartbeat(): the worker is alive for another p_ttl_seconds (its heartbeat period; a
-- worker that dies stops counting as alive when that runs out), or stopping (p_stopped). Worker role.
CREATE OR REPLACE FUNCTION api.worker_heartbeat(p_worker text, p_info jsonb DEFAULT NULL, p_stopped boolean DEFAULT false,
                                                p_ttl_seconds double precision DEFAULT 30)
RETURNS void
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
BEGIN
  INSERT INTO app.worker_heartbeats AS h (worker_id, heartbeat_at, stopped_at, info, alive_until)
  VALUES (p_worker, v_now, CASE WHEN p_stopped THEN v_now END, coalesce(p_info, '{}'::jsonb),
          CASE WHEN p_stopped THEN v_now ELSE v_now + make_interval(secs => p_ttl_seconds) END)
  ON CONFLICT (worker_id) DO UPDATE
    SET heartbeat_at = v_now, stopped_at = CASE WHEN p_stopped THEN v_now END,
        info = coalesce(p_info, h.info), alive_until = excluded.alive_until;
END
$$;
COMMENT ON FUNCTION api.worker_heartbeat(text, jsonb, boolean, double precision) IS
  'Record a worker heartbeat: alive for another p_ttl_seconds (p_stopped = true on graceful shutdown). Worker role.';
GRANT EXECUTE ON FUNCTION api.worker_heartbeat(text, jsonb, boolean, double precision) TO autodoc_worker;

-- outbox_register_lane(): insert or update one lane (a concurrency budget the worker runs in its
-- own loop). A domain that needs a new lane registers it before its kinds. Owner only.
CREATE OR REPLACE FUNCTION app_private.outbox_register_lane(p_lane text, p_concurrency integer, p_description text)
RETURNS void
LANGUAGE sql SET search_path = '' AS $$
  INSERT INTO app.outbox_lanes AS l (lane, concurrency, description) VALUES (p_lane, p_concurrency, p_description)
  ON CONFLICT (lane) DO UPDATE SET concurrency = excluded.concurrency, description = excluded.description
$$;

-- api.outbox_kinds(): the registry as the worker and admins see it — each kind's owner, retry
-- policy, lane and the lane's concurrency (the worker runs one loop per lane with that many effects
-- at once, and checks at start that it has an effect for every kind). Worker, admin.
CREATE OR REPLACE FUNCTION api.outbox_kinds()
RETURNS TABLE (kind text, band smallint, domain text, max_attempts integer, backoff_base_seconds double precision,
               backoff_max_seconds double precision, lane text, concurrency integer, description text,
               applies boolean)
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT k.kind, k.band, k.domain, k.max_attempts, k.backoff_base_seconds, k.backoff_max_seconds, k.lane,
         coalesce(l.concurrency, 1), k.description, k.apply_fn IS NOT NULL
    FROM app.outbox_kinds k LEFT JOIN app.outbox_lanes l ON l.lane = k.lane
   ORDER BY k.kind
$$;
COMMENT ON FUNCTION api.outbox_kinds() IS
  'The outbox kind registry: owning band/domain, retry policy (max_attempts, exponential backoff), lane and the lane''s concurrency of each kind, and whether completing a row writes back to the database (applies: the worker then wakes the other processes). Worker, admin.';
GRANT EXECUTE ON FUNCTION api.outbox_kinds() TO autodoc_worker, autodoc_admin;

-- api.outbox_health(): queue depth, oldest pending age, dead letters and worker heartbeats for
-- /health. Aggregates only, so every role (anon included) may call it.
CREATE OR REPLACE FUNCTION api.outbox_health()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
  SELECT jsonb_build_object(
    'pending',  (SELECT count(*) FROM app.outbox WHERE status = 'pending'),
    'due',      (SELECT count(*) FROM app.outbox WHERE status = 'pending' AND run_after <= n.now),
    'running',  (SELECT count(*) FROM app.outbox WHERE status = 'running'),
    'dead',     (SELECT count(*) FROM app.outbox WHERE status = 'dead'),
    'oldest_pending_age_seconds',
                (SELECT round(extract(epoch FROM n.now - min(created_at))::numeric, 3)
                   FROM app.outbox WHERE status = 'pending'),
    -- how long the longest-waiting due effect has been due (a backlog, or no worker)
    'oldest_due_age_seconds',
                (SELECT round(extract(epoch FROM n.now - min(run_after))::numeric, 3)
                   FROM app.outbox WHERE status = 'pending' AND run_after <= n.now),
    'last_heartbeat_at', (SELECT max(heartbeat_at) FROM app.worker_heartbeats WHERE stopped_at IS NULL),
    'heartbeat_age_seconds',
                (SELECT round(extract(epoch FROM n.now - max(heartbeat_at))::numeric, 3)
                   FROM app.worker_heartbeats WHERE stopped_at IS NULL),
    -- alive: stopped_at NULL and within the time to live of its last heartbeat (one period)
    'workers_alive', (SELECT count(*) FROM app.worker_heartbeats
                       WHERE stopped_at IS NULL AND coalesce(alive_until, heartbeat_at + interval '30 seconds') > n.now),
    'workers', coalesce((SELECT jsonb_agg(jsonb_build_object('worker_id', worker_id, 'heartbeat_at', heartbeat_at,
                                                             'started_at', started_at, 'alive_until', alive_until)
                                          ORDER BY worker_id)
                           FROM app.worker_heartbeats
                          WHERE stopped_at IS NULL
                            AND coalesce(alive_until, heartbeat_at + interval '30 seconds') > n.now),
                        '[]'::jsonb))
    FROM (SELECT app_private.now() AS now) n
$$;
COMMENT ON FUNCTION api.outbox_health() IS
  'Outbox depth (pending/due/running/dead), oldest pending and oldest due age, and live workers (heartbeat within its time to live), for /health. Any role.';
GRANT EXECUTE ON FUNCTION api.outbox_health()
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
CREATE OR REPLACE FUNCTION api.outbox_retry(p_id bigint)
RETURNS TABLE (id bigint, kind text, status text, attempts integer, run_after timestamptz)
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_now constant timestamptz := app_private.now();
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
     SET status = 'pending', attempts = 0, run_after = v_now, updated_at = v_now
   WHERE o.id = p_id
  RETURNING o.id, o.kind, o.status, o.attempts, o.run_after;
END
$$;
COMMENT ON FUNCTION api.outbox_retry(bigint) IS
  'Re-queue a dead letter (same idempotency key, attempts reset). Admin role. Raises 404 outbox_not_found, 409 outbox_not_dead.';
GRANT EXECUTE ON FUNCTION api.outbox_retry(bigint) TO autodoc_admin;

-- api.outbox_purge_done(): delete done rows older than p_keep (pg_cron, daily). Their idempotency
-- keys are then forgotten, which is safe because every enqueueing purpose is also guarded by its
-- own domain row (payments, refunds, reminders, invites). Owner / admin.
CREATE OR REPLACE FUNCTION api.outbox_purge_done(p_keep interval DEFAULT '30 days')
RETURNS integer
LANGUAGE sql SET search_path = '' AS $$
  WITH d AS (DELETE FROM app.outbox WHERE status = 'done' AND done_at < app_private.now() - p_keep RETURNING 1)
  SELECT count(*)::integer FROM d
$$;
COMMENT ON FUNCTION api.outbox_purge_done(interval) IS 'Delete done outbox rows older than p_keep (pg_cron). Admin role.';
GRANT EXECUTE ON FUNCTION api.outbox_purge_done(interval) TO autodoc_admin;

-- api.purge_cron_history(): pg_cron never purges cron.job_run_details by itself. Runs only where
-- pg_cron is installed (returns 0 elsewhere). Owner (the pg_cron job).
CREATE OR REPLACE FUNCTION api.purge_cron_history(p_keep interval DEFAULT '7 days')
RETURNS integer
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  v_count integer := 0;
BEGIN
  IF to_regclass('cron.job_run_details') IS NOT NULL THEN
    EXECUTE 'DELETE FROM cron.job_run_details WHERE end_time < $1' USING app_private.now() - p_keep;
    GET DIAGNOSTICS v_count = ROW_COUNT;
  END IF;
  RETURN v_count;
END
$$;
COMMENT ON FUNCTION api.purge_cron_history(interval) IS 'Delete pg_cron run history older than p_keep (pg_cron job). Owner.';

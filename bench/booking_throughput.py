"""Booking throughput: the session factory under 8 concurrent connections vs pgbench tpcb-like, same cluster.

- pgbench: `pgbench -i -s 8` into a separate database of the same cluster, then
  `pgbench -b tpcb-like -c 8 -j 2 -T <seconds>` (the classic 5-statement write transaction).
- ours: 8 threads, one connection each (superuser over the Unix socket, like pgbench, then
  `SET ROLE autodoc_admin` with admin claims), each calling `api.create_session(...)` in autocommit —
  a scheduled booking for a fresh customer (the factory allows one upcoming appointment per customer)
  with a chosen mechanic on a random slot. 90% of the attempts draw (with replacement) from every
  free grid slot of the mechanics' opening hours over the next 26 days, 10% from a small hot set that
  all threads fight over, so the exclusion constraint is exercised under real concurrency.
- afterwards a self-join counts overlapping active bookings per mechanic and per customer: must be 0.
tps compared: successful bookings per second (attempts per second reported as well; a rejected attempt
is a full transaction too, rolled back).
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import threading
import time
from collections import Counter
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from api.devtools.cluster import PG_BIN
from bench.common import Ctx, PgCpuSampler, Stopwatch, dist, durability, ratio, self_cpu_s, target

CLIENTS = 8
ACTIVE = "('held', 'scheduled', 'pending', 'waiting', 'active')"

CANDIDATES_SQL = """
SELECT m.user_id::text, g AS starts_at
FROM app.mechanics m
CROSS JOIN LATERAL app_private.mechanic_windows(m.user_id, current_date + 2, current_date + 27) w
CROSS JOIN LATERAL generate_series(lower(w.opening), upper(w.opening) - interval '30 minutes',
                                   interval '30 minutes') g
WHERE g > now() + interval '1 day'
  AND NOT EXISTS (SELECT FROM app.sessions s WHERE s.mechanic_id = m.user_id AND s.status IN """ + ACTIVE + """
                  AND s.period && tstzrange(g, g + interval '30 minutes'))
  AND NOT EXISTS (SELECT FROM app.mechanic_time_off t WHERE t.mechanic_id = m.user_id
                  AND t.period && tstzrange(g, g + interval '30 minutes'))
"""

BOOK_SQL = """
SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Squeaky brakes',
                          p_concern_category => 'diagnostic', p_vehicle_id => %(vehicle)s,
                          p_scheduled_for => %(at)s, p_mechanic_id => %(mechanic)s,
                          p_customer_id => %(customer)s) ->> 'id'
"""

OVERLAPS_SQL = f"""
SELECT
  (SELECT count(*) FROM app.sessions a JOIN app.sessions b
     ON a.mechanic_id = b.mechanic_id AND a.id < b.id AND a.period && b.period
   WHERE a.status IN {ACTIVE} AND b.status IN {ACTIVE}),
  (SELECT count(*) FROM app.sessions a JOIN app.sessions b
     ON a.customer_id = b.customer_id AND a.id < b.id AND a.period && b.period
   WHERE a.status IN {ACTIVE} AND b.status IN {ACTIVE}),
  (SELECT count(*) FROM app.sessions WHERE status IN {ACTIVE})
"""


def _pg(ctx: Ctx, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(PG_BIN / tool), "-h", str(ctx.cluster.home), "-p", str(ctx.cluster.port), "-U", "postgres", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def init_pgbench(ctx: Ctx) -> None:
    with psycopg.connect(ctx.cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_pgbench")
        conn.execute("CREATE DATABASE bench_pgbench")
    _pg(ctx, "pgbench", "-i", "-q", "-s", "8", "bench_pgbench")


def _pgbench_figures(out: str, cpu_s: float) -> dict[str, Any]:
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    tx = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if not tps:
        raise RuntimeError(f"could not read pgbench output:\n{out}")
    n_tx = int(tx.group(1)) if tx else 0
    return {"tps": float(tps.group(1)), "latency_avg_ms": float(lat.group(1)) if lat else None,
            "transactions": n_tx, "postgres_cpu_ms_per_tx": round(cpu_s * 1000 / n_tx, 3) if n_tx else None,
            "failed": int(failed.group(1)) if failed else None}


def run_pgbench(ctx: Ctx, seconds: int) -> dict[str, Any]:
    with psycopg.connect(ctx.cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    with PgCpuSampler(ctx.cluster) as cpu:
        out = _pg(ctx, "pgbench", "-n", "-b", "tpcb-like", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds),
                  "bench_pgbench").stdout
    return _pgbench_figures(out, cpu.cpu_s) | {
        "command": f"pgbench -i -s 8; pgbench -b tpcb-like -c {CLIENTS} -j 2 -T {seconds}"}


# -- the floor: only the writes a booking must make, as prepared statements, no PL/pgSQL -------------
#
# One booking's guarantees: lock the customer row (the duplicate rule cannot be raced), insert the
# session through both exclusion constraints, its CHECKs and its FKs (customer, mechanic, plan,
# vehicle), the assignment (FKs to the session and the mechanic), the audit row and ONE compact outbox
# row (ids only). The slot, customer and vehicle come from bench.floor_slots (one row per booking,
# taken by a sequence, so no two floor bookings collide and pgbench never sees an error). The user
# triggers of these four tables are disabled for the floor's phase only (ALTER TABLE ... DISABLE
# TRIGGER USER keeps the FK triggers): the floor is what any implementation must write, not how.
FLOOR_TABLES = ("app.sessions", "app.session_assignments", "app.session_events", "app.outbox")
FLOOR_SCRIPT = """\
BEGIN;
SELECT f.mechanic_id AS m, f.customer_id AS c, f.vehicle_id AS v, f.starts_at AS t, f.ends_at AS e
  FROM bench.floor_slots f JOIN app.customers cu ON cu.user_id = f.customer_id
 WHERE f.k = (SELECT nextval('bench.floor_seq')) FOR NO KEY UPDATE OF cu \\gset
INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, service_mode, vehicle_id, concern,
                          concern_category, scheduled_for, ends_at, status, created_at, updated_at)
VALUES (:c, :m, 'standard', 'video', 'online', :v, 'Squeaky brakes', 'diagnostic', :t, :e, 'scheduled',
        now(), now()) RETURNING id AS sid \\gset
INSERT INTO app.session_assignments (session_id, mechanic_id, status, priority, offered_at, responded_at)
VALUES (:sid, :m, 'scheduled', 'high', now(), now());
INSERT INTO app.session_events (session_id, event_type, from_status, to_status, actor_id, actor_role, metadata)
VALUES (:sid, 'created', NULL, 'scheduled', :admin, 'admin', '{}');
INSERT INTO app.outbox (kind, idempotency_key, payload, session_id)
VALUES (:kind, 'floor:' || :sid::text, jsonb_build_object('session_id', :sid::text), :sid);
COMMIT;
"""


def prepare_floor(ctx: Ctx, slots: list[tuple[str, Any]]) -> None:
    """bench.floor_slots: one free (mechanic, start) per floor booking, with a customer of its own at
    that instant (row number among the slots starting then: no customer overlap), from a pool of
    floor customers created here (no other bench books them)."""
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench.floor_slots, bench.floor_customers")
        conn.execute("DROP SEQUENCE IF EXISTS bench.floor_seq")
        conn.execute("CREATE TABLE bench.floor_in (mechanic_id uuid, starts_at timestamptz)")
        with conn.cursor().copy("COPY bench.floor_in FROM STDIN") as cp:
            for m, at in slots:
                cp.write_row((m, at))
        conn.execute("""
          CREATE TABLE bench.floor_customers AS
            SELECT i AS n, gen_random_uuid() AS user_id, gen_random_uuid() AS vehicle_id
            FROM generate_series(1, (SELECT max(c) FROM (SELECT count(*) c FROM bench.floor_in
                                                         GROUP BY starts_at) x)) i""")
        conn.execute("""INSERT INTO app.users (id, email, full_name, role)
                        SELECT user_id, 'floor' || n || '@bench.example', 'Floor ' || n, 'customer'
                        FROM bench.floor_customers""")
        conn.execute("INSERT INTO app.customers (user_id, country, city) SELECT user_id, 'XX', 'Floor' "
                     "FROM bench.floor_customers")
        conn.execute("INSERT INTO app.vehicles (id, customer_id, year, make, model) "
                     "SELECT vehicle_id, user_id, 2020, 'Honda', 'Model' FROM bench.floor_customers")
        conn.execute("""
          CREATE TABLE bench.floor_slots AS
            SELECT row_number() OVER (ORDER BY random()) AS k, f.mechanic_id, f.starts_at,
                   f.starts_at + interval '30 minutes' AS ends_at, c.user_id AS customer_id, c.vehicle_id
            FROM (SELECT *, row_number() OVER (PARTITION BY starts_at) AS n FROM bench.floor_in) f
            JOIN bench.floor_customers c USING (n)""")
        conn.execute("ALTER TABLE bench.floor_slots ADD PRIMARY KEY (k)")
        conn.execute("CREATE SEQUENCE bench.floor_seq")
        conn.execute("DROP TABLE bench.floor_in")
        conn.execute("VACUUM ANALYZE bench.floor_slots, app.customers, app.users, app.vehicles")
    (ctx.cluster.home / "floor.sql").write_text(FLOOR_SCRIPT)


def run_floor(ctx: Ctx, seconds: int, kind: str) -> dict[str, Any]:
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        for t in FLOOR_TABLES:
            conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        before = conn.execute("SELECT count(*) FROM app.sessions").fetchone()
        conn.execute("CHECKPOINT")
    try:
        with PgCpuSampler(ctx.cluster) as cpu:
            out = _pg(ctx, "pgbench", "-n", "-M", "prepared", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds),
                      "-D", f"admin={ctx.data['admin_id']}", "-D", f"kind={kind}",
                      "-f", str(ctx.cluster.home / "floor.sql"), ctx.dbname).stdout
    finally:
        with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
            for t in FLOOR_TABLES:
                conn.execute(f"ALTER TABLE {t} ENABLE TRIGGER USER")
            after = conn.execute("SELECT count(*) FROM app.sessions").fetchone()
    assert before and after
    res = _pgbench_figures(out, cpu.cpu_s)
    res["sessions_created"] = after[0] - before[0]
    res["command"] = (f"pgbench -n -M prepared -c {CLIENTS} -j 2 -T {seconds} -f floor.sql "
                      "(bench/booking_throughput.py FLOOR_SCRIPT; user triggers of "
                      + ", ".join(FLOOR_TABLES) + " disabled for this phase only)")
    return res


def _worker(ctx: Ctx, k: int, cands: list[tuple[str, Any]], hot: list[tuple[str, Any]],
            customers: list[tuple[str, str]], out: dict[str, Any]) -> None:
    rng = random.Random(1000 + k)
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    i = 0
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("SET ROLE autodoc_admin")
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)",
                     [json.dumps({"role": "admin", "sub": ctx.data["admin_id"]})])
        out["ready"].wait()
        deadline = out["deadline"]
        while time.perf_counter() < deadline:
            if i >= len(customers):
                outcomes["out_of_customers"] += 1
                break
            mechanic, at = rng.choice(hot) if rng.random() < 0.1 else rng.choice(cands)
            customer, vehicle = customers[i]
            sw = Stopwatch()
            try:
                conn.execute(BOOK_SQL, {"vehicle": vehicle, "at": at, "mechanic": mechanic, "customer": customer})
                latencies.append(sw.ms())
                outcomes["booked"] += 1
                i += 1
            except psycopg.errors.ExclusionViolation as e:
                outcomes[f"23P01 {e.diag.constraint_name}"] += 1
            except psycopg.Error as e:
                state = e.sqlstate or "?"
                outcomes[f"{state} {e.diag.message_hint}" if state.startswith("AD") else state] += 1
    with out["lock"]:
        out["outcomes"].update(outcomes)
        out["latencies"].extend(latencies)


PROFILE_N = 200


def _book_many(ctx: Ctx, slots: list[tuple[str, Any]], customers: list[tuple[str, str]], *, one_tx: bool,
               profile: bool = False) -> tuple[float, int]:
    """Book len(customers) slots from one connection: (ms per attempt, failures). one_tx: all in one
    transaction, without savepoints (past 64 subtransactions every snapshot check would go to
    pg_subtrans and measure that instead); the slots are free by construction, so failures are rare,
    and one only restarts the transaction."""
    failures = 0
    with psycopg.connect(ctx.su_dsn, autocommit=not one_tx) as conn:
        if profile:
            conn.execute("SET track_functions = 'all'")
        conn.execute("SET ROLE autodoc_admin")
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)",
                     [json.dumps({"role": "admin", "sub": ctx.data["admin_id"]})])
        if one_tx:
            conn.commit()  # the session settings above stay; a rolled-back booking keeps them
        sw = Stopwatch()
        for (mechanic, at), (customer, vehicle) in zip(slots, customers, strict=True):
            try:
                conn.execute(BOOK_SQL, {"vehicle": vehicle, "at": at, "mechanic": mechanic, "customer": customer})
            except psycopg.Error:
                failures += 1
                if one_tx:
                    conn.rollback()
        ms = sw.ms() / len(customers)
        if one_tx:
            conn.commit()
    return ms, failures


# The parts of a booking transaction beyond the floor's bare writes, by the functions that do them.
PARTS = {
    "availability rules (trigger: opening hours, time off)": ("sessions_occupy_mechanic_time", "mechanic_open_during",
                                                               "mechanic_windows", "mechanic_zone", "availability"),
    "lifecycle + audit triggers": ("sessions_enforce_lifecycle", "sessions_audit", "session_transition_allowed",
                                   "final_statuses"),
    "the one outbox event + other session triggers": ("sessions_notification_effects", "sessions_money",
                                                      "sessions_close_matching", "money_policy"),
}


def _part_of(function: str) -> str:
    name = function.split(".")[-1]
    for part, prefixes in PARTS.items():
        if any(name.startswith(p) for p in prefixes):
            return part
    return "checks: caller, plan, vehicle, mechanic, notice, duplicate rule, lapsed holds, busy, customer overlap"


def cost_table(floor_ms: float, booking_ms: float, fan_out_ms: float,
               self_ms: dict[str, float]) -> list[dict[str, Any]]:
    """One booking's PostgreSQL CPU by part: the floor's bare writes (pgbench, measured), the rest of
    the booking transaction apportioned by the PL/pgSQL self time of the functions that do each part
    (track_functions), and the worker's fan-out (measured)."""
    rest = max(booking_ms - floor_ms, 0.0)
    total_self = sum(self_ms.values()) or 1.0
    rows: list[dict[str, Any]] = [{"part": "floor: customer lock, session (2 exclusion constraints, FKs), assignment, "
                                           "audit row, one outbox row, commit", "rows": 4, "ms": floor_ms}]
    rows += [{"part": k, "rows": 0, "ms": rest * v / total_self} for k, v in self_ms.items()]
    rows.append({"part": "fan-out in the worker: charge (payment row + stripe.charge), 2 invite emails, claims "
                         "and completions", "rows": None, "ms": fan_out_ms})
    total = sum(r["ms"] for r in rows) or 1.0
    for r in rows:
        r["ms"] = round(r["ms"], 3)
        r["share"] = round(r["ms"] / total, 3)
    return rows


def profile_factory(ctx: Ctx, free: list[tuple[str, Any]], customers: list[tuple[str, str]]) -> dict[str, Any]:
    """Where a booking's time goes, one client: per-function self time (track_functions), and the same
    bookings each in its own transaction vs all in one (the gap is per-transaction work, e.g. LANGUAGE
    sql helpers parsed and planned again in every new transaction)."""
    n = PROFILE_N
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_reset()")
    own_tx, fail_own = _book_many(ctx, free[:n], customers[:n], one_tx=False, profile=True)
    time.sleep(1.0)  # the backend's function statistics are flushed when it exits
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        rows = conn.execute("""SELECT schemaname || '.' || funcname, calls, self_time, total_time
                               FROM pg_stat_user_functions ORDER BY self_time DESC""").fetchall()
    top = [(f, calls, round(self_ms / n, 3), round(total_ms / n, 3)) for f, calls, self_ms, total_ms in rows]
    groups: Counter[str] = Counter()
    for f, _, self_ms, _ in rows:
        groups[_part_of(f)] += self_ms / n
    one_tx, fail_one = _book_many(ctx, free[n:2 * n], customers[n:2 * n], one_tx=True)
    return {
        "bookings": n, "failures": fail_own + fail_one, "ms_per_booking_own_transactions": round(own_tx, 3),
        "ms_per_booking_one_transaction": round(one_tx, 3),
        "per_transaction_overhead_ms": round(own_tx - one_tx, 3),
        "self_ms_per_booking_by_part": {k: round(v, 3) for k, v in groups.most_common()},
        "top_functions_self_ms_per_booking": [
            {"function": f, "calls_per_booking": round(c / n, 1), "self_ms": s, "total_ms": t}
            for f, c, s, t in top[:12]],
    }


def candidate_slots(ctx: Ctx) -> tuple[list[tuple[str, Any]], float]:
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        sw = Stopwatch()
        cands = [(m, at) for m, at in conn.execute(CANDIDATES_SQL)]
        return cands, sw.s()


def run_factory(ctx: Ctx, seconds: int, cands: list[tuple[str, Any]], hot: list[tuple[str, Any]],
                customers: list[tuple[str, str]]) -> dict[str, Any]:
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        before = conn.execute("SELECT count(*) FROM app.sessions").fetchone()
    per = len(customers) // CLIENTS
    shared: dict[str, Any] = {"lock": threading.Lock(), "outcomes": Counter(), "latencies": [],
                              "ready": threading.Event()}
    threads = [threading.Thread(target=_worker, args=(ctx, k, cands, hot, customers[k * per:(k + 1) * per], shared))
               for k in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(0.5)  # every connection open and configured
    shared["deadline"] = time.perf_counter() + seconds
    client_cpu0 = self_cpu_s()
    with PgCpuSampler(ctx.cluster) as pg_cpu:
        sw = Stopwatch()
        shared["ready"].set()
        for t in threads:
            t.join()
        elapsed = sw.s()
    client_cpu = self_cpu_s() - client_cpu0
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        after = conn.execute("SELECT count(*) FROM app.sessions").fetchone()
    assert before and after
    outcomes: Counter[str] = shared["outcomes"]
    booked = outcomes["booked"]
    attempts = sum(v for k, v in outcomes.items() if k != "out_of_customers")
    return {
        "seconds": round(elapsed, 2), "booked": booked, "attempts": attempts,
        "bookings_per_s": round(booked / elapsed, 1), "attempts_per_s": round(attempts / elapsed, 1),
        "booking_latency_ms": dist(shared["latencies"]),
        "postgres_cpu_ms_per_attempt": round(pg_cpu.cpu_s * 1000 / max(attempts, 1), 3),
        "postgres_cpu_ms_per_booking": round(pg_cpu.cpu_s * 1000 / max(booked, 1), 3),
        "load_generator_cpu_ms_per_attempt": round(client_cpu * 1000 / max(attempts, 1), 3),
        "outcomes": dict(outcomes.most_common()),
        "sessions_created": after[0] - before[0],
    }


# -- PostgreSQL CPU per booking, fan-out included ------------------------------------------------------

CHARGE_RESULT = {"status": "processing", "client_secret": "pi_bench_secret"}
COMPLETE_BATCH = 8  # the worker's largest group commit of completions: its stripe + email lanes' concurrency


def drain_outbox(ctx: Ctx) -> dict[str, int]:
    """Do the database half of the worker's job for every due outbox row, as the worker role and with
    the worker's own calls: api.outbox_apply_due (the database lane: applies the booking events, which
    fan out into their charge and emails, and marks them done in one transaction), api.outbox_claim
    (which adds each kind's claim-time facts) and api.outbox_complete_many (which applies the results:
    a charge links its PaymentIntent). The external calls themselves (SMTP, Stripe) are not made: a
    charge completes as 'processing' (no ledger posting: that is the money bench's), an email with {}.
    Applies in batches of 10 (the worker's default AUTODOC_WORKER_BATCH_SIZE), claims 50 at a time,
    and writes completions back COMPLETE_BATCH at a time: the worker group-commits the completions
    that finished while its previous write-back ran, at most its lanes' concurrency (stripe 4 +
    email 4). Loops until nothing is due (an applied event enqueues more rows). Returns rows per kind."""
    kinds: Counter[str] = Counter()
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("SET ROLE autodoc_worker")
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)", [json.dumps({"role": "worker"})])
        while True:
            applied = conn.execute("SELECT api.outbox_apply_due('bench-drain', 10)").fetchone()
            if applied and applied[0]:
                kinds["session.booked"] += applied[0]
                continue
            rows = conn.execute("SELECT id, kind FROM api.outbox_claim('bench-drain', 50, 60, NULL)").fetchall()
            if not rows:
                break
            for i in range(0, len(rows), COMPLETE_BATCH):
                chunk = rows[i:i + COMPLETE_BATCH]
                results = [Jsonb(dict(CHARGE_RESULT, payment_intent_id=f"pi_bench_{oid}") if kind == "stripe.charge"
                                 else {}) for oid, kind in chunk]
                conn.execute("SELECT api.outbox_complete_many('bench-drain', %s, %s)",
                             [[oid for oid, _ in chunk], results])
                kinds.update(kind for _, kind in chunk)
    return dict(kinds)


def cpu_per_booking(ctx: Ctx, slots: list[tuple[str, Any]], customers: list[tuple[str, str]]) -> dict[str, Any]:
    """One client, N bookings each in its own transaction (no contention, no failures, no profiling
    hooks), then the worker's database work for what they enqueued (drain_outbox). PostgreSQL CPU is
    every process of the cluster read from /proc (utime + stime: backends, WAL writer, checkpointer,
    ...) before and after each phase; the outbox is emptied first (untimed) so the drain sees only
    these bookings' rows. Reminders are counted where they are produced (today: in the booking)."""
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM app.outbox")
        conn.execute("CHECKPOINT")
    with PgCpuSampler(ctx.cluster) as book_cpu:
        ms, failures = _book_many(ctx, slots, customers, one_tx=False)
    with PgCpuSampler(ctx.cluster) as drain_cpu:
        kinds = drain_outbox(ctx)
    n = len(slots) - failures
    booking_ms = book_cpu.cpu_s * 1000 / max(n, 1)
    fanout_ms = drain_cpu.cpu_s * 1000 / max(n, 1)
    return {"bookings": n, "failures": failures, "client_ms_per_booking": round(ms, 3),
            "booking_tx_ms": round(booking_ms, 3), "fan_out_ms": round(fanout_ms, 3),
            "total_ms": round(booking_ms + fanout_ms, 3), "outbox_rows_per_booking": {
                k: round(v / max(n, 1), 2) for k, v in sorted(kinds.items())},
            "method": "PostgreSQL processes' utime+stime from /proc around each phase (bench.common.PgCpuSampler)"}


def _overlaps(ctx: Ctx) -> dict[str, Any]:
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        sw = Stopwatch()
        ov = conn.execute(OVERLAPS_SQL).fetchone()
    assert ov
    return {"mechanic": ov[0], "customer": ov[1], "active_sessions": ov[2], "query_seconds": round(sw.s(), 2)}


def _mode(ctx: Ctx, seconds: int, cands: list[tuple[str, Any]], hot: list[tuple[str, Any]],
          customers: list[tuple[str, str]], kind: str) -> dict[str, Any]:
    """pgbench tpcb-like, the floor, the session factory: back to back under the same settings."""
    pgb = run_pgbench(ctx, seconds)
    floor = run_floor(ctx, seconds, kind)
    fac = run_factory(ctx, seconds, cands, hot, customers)
    return {"pgbench": pgb, "floor": floor, "factory": fac,
            "ratio_floor": ratio(fac["bookings_per_s"], floor["tps"]),
            "ratio_tpcb": ratio(fac["bookings_per_s"], pgb["tps"]),
            "floor_vs_tpcb": ratio(floor["tps"], pgb["tps"]),
            "ratio_attempts_tpcb": ratio(fac["attempts_per_s"], pgb["tps"])}


FLOOR_KIND = "noop"  # the compact event's kind (registered on every database)


def run(ctx: Ctx) -> dict[str, Any]:
    seconds = 5 if ctx.quick else 15
    sz = ctx.data["info"]["sizes"]
    cands, cand_s = candidate_slots(ctx)
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        customers = [(c, v) for c, v in conn.execute(
            "SELECT user_id::text, vehicle_id::text FROM bench.customers WHERE idx >= %s ORDER BY idx",
            [sz["existing_customers"]])]
    rng = random.Random(3)
    rng.shuffle(cands)
    n_prof = PROFILE_N
    hot, prof, rest = cands[:100], cands[100:100 + 3 * n_prof], cands[100 + 3 * n_prof:]  # 50 hot slots per mode
    # the floor books each of its slots once (without replacement): it gets 40% of the free slots
    n_floor = len(rest) * 2 // 5
    floor_slots, cands = rest[:n_floor], rest[n_floor:]
    cands_durable, cands_cpu = cands[:len(cands) // 2], cands[len(cands) // 2:]  # each mode starts on free slots
    prof_customers, customers = customers[-3 * n_prof:], customers[:-3 * n_prof]
    half = len(customers) // 2
    init_pgbench(ctx)
    prepare_floor(ctx, floor_slots)
    res: dict[str, Any] = {"clients": CLIENTS, "seconds": seconds, "candidate_slots": len(cands),
                           "candidate_query_seconds": round(cand_s, 1), "hot_slots": len(hot) // 2,
                           "floor_slots": len(floor_slots), "customers_available": len(customers)}
    try:
        res["durable"] = {"settings": durability(ctx, True)}
        res["durable"] |= _mode(ctx, seconds, cands_durable, hot[:50], customers[:half], FLOOR_KIND)
    finally:
        settings = durability(ctx, False)
    res["cpu_only"] = {"settings": settings} | _mode(ctx, seconds, cands_cpu, hot[50:], customers[half:],
                                                         FLOOR_KIND)
    res["overlaps"] = _overlaps(ctx)
    res["cpu_per_booking"] = cpu_per_booking(ctx, prof[:n_prof], prof_customers[:n_prof])
    res["profile_single_client"] = profile_factory(ctx, prof[n_prof:], prof_customers[n_prof:])
    cpu0 = res["cpu_per_booking"]
    res["cost_table"] = cost_table(res["cpu_only"]["floor"]["postgres_cpu_ms_per_tx"], cpu0["booking_tx_ms"],
                                   cpu0["fan_out_ms"], res["profile_single_client"]["self_ms_per_booking_by_part"])
    with psycopg.connect(ctx.cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier("bench_pgbench")))
    d, c = res["durable"], res["cpu_only"]
    consistent = all(m["factory"]["sessions_created"] == m["factory"]["booked"] for m in (d, c))
    cpu = res["cpu_per_booking"]
    res["targets"] = [
        target("booking: bookings/s vs the floor (durable)", d["ratio_floor"], 0.7, higher_is_better=True,
               unit="x", why_missed=("a booking attempt costs PostgreSQL "
                                     f"{d['factory']['postgres_cpu_ms_per_attempt']} ms of CPU, a floor booking "
                                     f"{d['floor']['postgres_cpu_ms_per_tx']} ms "
                                     "(cost table in docs/benchmarks.md)")),
        target("booking: PostgreSQL CPU per booking incl. fan-out", cpu["total_ms"], 1.0, higher_is_better=False,
               unit=" ms", why_missed=(f"booking transaction {cpu['booking_tx_ms']} ms + fan-out "
                                       f"{cpu['fan_out_ms']} ms (docs/benchmarks.md)")),
        target("booking: overlapping active bookings afterwards (mechanic + customer)",
               res["overlaps"]["mechanic"] + res["overlaps"]["customer"], 0, higher_is_better=False),
        target("booking: sessions in the database == bookings the clients saw succeed",
               1 if consistent else 0, 1, higher_is_better=True),
    ]
    return res

"""Booking throughput: the booking under 8 concurrent connections vs pgbench tpcb-like and the floor, same
cluster, durable then CPU-only (docs/benchmarks.md section 2 describes every phase).

- pgbench tpcb-like: `pgbench -i -s 8` into a separate database, then `-b tpcb-like -c 8 -j 2 -T <s>`.
- the floor (FLOOR_SCRIPT): the bare writes a booking must make, prepared, no PL/pgSQL, own slots.
- the pgbench factory (PGB_FACTORY_SCRIPT): `SELECT api.create_session(...)` as autodoc_admin driven
  like the floor (pgbench -M prepared, collision-free slots, a customer each): the like-for-like ratio.
- the Python factory: 8 threads, 90% random free slots + 10% hot slots all threads fight over, so
  the exclusion constraints see real races; afterwards overlaps must be 0 and sessions created =
  bookings seen.
- CPU per booking + fan-out, one client, by the working backends' /proc/<pid>/stat (BackendCpu), the
  cluster's other processes beside it (PgCpuSampler.by_kind); the same with pg_stat_statements
  tracking every statement for the per-statement profile and the cost table; 8 clients vs one.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from api.devtools.cluster import PG_BIN
from bench import guarantee_floor
from bench.common import BackendCpu, Ctx, PgCpuSampler, Stopwatch, dist, durability, ratio, self_cpu_s, target

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


def _pg(ctx: Ctx, tool: str, *args: str, pgoptions: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(PG_BIN / tool), "-h", str(ctx.cluster.home), "-p", str(ctx.cluster.port), "-U", "postgres", *args]
    env = dict(os.environ, PGOPTIONS=pgoptions) if pgoptions else None
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)


def init_pgbench(ctx: Ctx) -> None:
    with psycopg.connect(ctx.cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_pgbench")
        conn.execute("CREATE DATABASE bench_pgbench")
    _pg(ctx, "pgbench", "-i", "-q", "-s", "8", "bench_pgbench")


def _pgbench_figures(out: str, cpu: PgCpuSampler) -> dict[str, Any]:
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    tx = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if not tps:
        raise RuntimeError(f"could not read pgbench output:\n{out}")
    n_tx = int(tx.group(1)) if tx else 0
    return {"tps": float(tps.group(1)), "latency_avg_ms": float(lat.group(1)) if lat else None,
            "transactions": n_tx, "postgres_cpu_ms_per_tx": round(cpu.cpu_s * 1000 / n_tx, 3) if n_tx else None,
            # the 8 client backends only (sampled every 0.1 s: each exiting backend may lose its last 0.1 s)
            "backends_cpu_ms_per_tx": round(cpu.backends_s() * 1000 / n_tx, 3) if n_tx else None,
            "background_cpu_ms_per_tx": _per(cpu.by_kind(), n_tx, skip="client backend"),
            "failed": int(failed.group(1)) if failed else None}


def _per(seconds_by_kind: dict[str, float], n: int, skip: str = "") -> dict[str, float]:
    """CPU seconds per process kind -> ms per unit (kinds under 0.0005 ms left out)."""
    out = {k: round(v * 1000 / max(n, 1), 3) for k, v in seconds_by_kind.items() if k != skip}
    return {k: v for k, v in out.items() if v > 0}


def run_pgbench(ctx: Ctx, seconds: int) -> dict[str, Any]:
    with psycopg.connect(ctx.cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    with PgCpuSampler(ctx.cluster) as cpu:
        out = _pg(ctx, "pgbench", "-n", "-b", "tpcb-like", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds),
                  "bench_pgbench").stdout
    return _pgbench_figures(out, cpu) | {
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
# The floor and the floor with every trigger (below) share their lock, session and assignment.
_FLOOR_LOCK_SESSION_ASSIGNMENT = """\
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
"""
FLOOR_SCRIPT = _FLOOR_LOCK_SESSION_ASSIGNMENT + """\
INSERT INTO app.session_events (session_id, event_type, from_status, to_status, actor_id, actor_role, metadata)
VALUES (:sid, 'created', NULL, 'scheduled', :admin, 'admin', '{}');
INSERT INTO app.outbox (kind, idempotency_key, payload, session_id)
VALUES (:kind, 'floor:' || :sid::text, jsonb_build_object('session_id', :sid::text), :sid);
COMMIT;
"""


# -- the floor with every trigger: between the floor and the factory ----------------------------------------
#
# What the floor leaves out on purpose is HOW the rules are enforced. FLOOR_TRIGGERS_SCRIPT is the floor's
# customer lock, session and assignment with every trigger on (so the audit row and the session.booked
# event are the triggers' own, not the script's): the rules every writer passes, whoever writes —
# lifecycle, the money policy in force, the mechanic's lock with opening hours and time off, the audit
# row, the one event. Between it and the factory is what api.create_session adds: its checks before it
# writes (each with its own error: the vehicle, the mechanic, the plan, notice and horizon, the
# duplicate rule, the slot grid, the mechanic and the customer free, lapsed holds in the way) and its
# PL/pgSQL. Run as the superuser with admin claims, so the audit row names an actor as it does for the
# factories. FLOORS: (name, its file, its script, the tables whose user triggers are disabled for it,
# its PGOPTIONS with "{claims}" standing for the admin's claims).
FLOOR_TRIGGERS_SCRIPT = _FLOOR_LOCK_SESSION_ASSIGNMENT + "COMMIT;\n"
FLOORS = (("floor", "floor.sql", FLOOR_SCRIPT, FLOOR_TABLES, ""),
          ("floor_triggers", "floor_triggers.sql", FLOOR_TRIGGERS_SCRIPT, (), "{claims}"))


def _create_customers(conn: psycopg.Connection[Any], table: str, id_col: str, n_col: str, label: str) -> None:
    """A customer (user, profile) and a vehicle for every row of `table` (its `id_col` and
    `vehicle_id` columns hold their new ids, `n_col` a number for the e-mail address): the floor's and
    the pgbench factory's bookers, each used for one booking at a time."""
    t, c, n = sql.SQL(table), sql.Identifier(id_col), sql.Identifier(n_col)
    conn.execute(sql.SQL("INSERT INTO app.users (id, email, full_name, role) "
                         "SELECT {c}, {p} || {n} || '@bench.example', {l} || ' ' || {n}, 'customer' FROM {t}")
                 .format(c=c, n=n, t=t, p=sql.Literal(label.lower()), l=sql.Literal(label)))
    conn.execute(sql.SQL("INSERT INTO app.customers (user_id, country, city) SELECT {c}, 'XX', {l} FROM {t}")
                 .format(c=c, t=t, l=sql.Literal(label)))
    conn.execute(sql.SQL("INSERT INTO app.vehicles (id, customer_id, year, make, model) "
                         "SELECT vehicle_id, {c}, 2020, 'Honda', 'Model' FROM {t}").format(c=c, t=t))


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
        _create_customers(conn, "bench.floor_customers", "user_id", "n", "Floor")
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
    for _, file, script, _, _ in FLOORS:
        (ctx.cluster.home / file).write_text(script)


FLOOR_RESERVE = 4000  # floor slots kept for the one-client runs of the two floors (bench/guarantee_floor.py)
FLOOR_MAX_TPS = 6000  # ~2x the fastest floor seen here: bounds a phase's transactions (and length)
ROUNDS = 3  # the floors and the pgbench factory take turns, 3 rounds each (1 with --quick)


def floor_budget(n_slots: int, seconds: int) -> int:
    """Transactions of one floor phase (one floor, one mode, all its rounds): a quarter of the floor
    slots less FLOOR_RESERVE (two floors in two modes), at most FLOOR_MAX_TPS x seconds. A number, not
    a duration, so the script can never run out of slots however fast the machine (a client that finds
    none aborts)."""
    return max(min((n_slots - FLOOR_RESERVE) // 4, FLOOR_MAX_TPS * seconds), CLIENTS)


def run_floor(ctx: Ctx, n_tx: int, kind: str, which: str = "floor") -> dict[str, Any]:
    """One of the FLOORS (`which`), n_tx transactions split over the clients; tps is transactions over
    the phase's own duration."""
    _, file, _, tables, options = next(f for f in FLOORS if f[0] == which)
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        for t in tables:
            conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER USER")
        before = conn.execute("SELECT count(*) FROM app.sessions").fetchone()
        left = guarantee_floor.floor_slots_left(conn)
        conn.execute("CHECKPOINT")
    per_client = max(n_tx // CLIENTS, 1)
    if left < per_client * CLIENTS:
        raise RuntimeError(f"{which}: {left} floor slots left for {per_client * CLIENTS} transactions")
    try:
        with PgCpuSampler(ctx.cluster) as cpu:
            out = _pg(ctx, "pgbench", "-n", "-M", "prepared", "-c", str(CLIENTS), "-j", "2", "-t", str(per_client),
                      "-D", f"admin={ctx.data['admin_id']}", "-D", f"kind={kind}",
                      "-f", str(ctx.cluster.home / file), ctx.dbname,
                      pgoptions=options.format(claims=admin_claims_pgoptions(ctx)) or None).stdout
    finally:
        with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
            for t in tables:
                conn.execute(f"ALTER TABLE {t} ENABLE TRIGGER USER")
            after = conn.execute("SELECT count(*) FROM app.sessions").fetchone()
    assert before and after
    res = _pgbench_figures(out, cpu)
    res["sessions_created"] = after[0] - before[0]
    res["command"] = ((f"PGOPTIONS='{options.format(claims='-c request.jwt.claims=<admin>')}' " if options else "")
                      + f"pgbench -n -M prepared -c {CLIENTS} -j 2 -t {per_client} -f {file} "
                      f"(bench/booking_throughput.py FLOORS; "
                      + (("user triggers of " + ", ".join(tables) + " disabled for this phase only)") if tables
                         else "every trigger on)"))
    return res


# -- the same booking driven like the floor: pgbench, prepared, collision-free slots ---------------------
#
# The Python factory (below) pays for 8 threads in one interpreter on the database's 2 CPUs and keeps
# 10% hot slots whose races refuse ~15% of attempts: the right correctness check, the wrong comparison
# with the floor. This factory calls the same api.create_session, with every trigger, from pgbench
# (a C client, prepared statement, autocommit: one statement = one transaction) on slots of its own
# taken by a sequence, each with a fresh customer (the duplicate rule allows one upcoming appointment
# per customer): like the floor, it never collides, so bookings/s ÷ floor tps is like for like.
PGB_FACTORY_SCRIPT = """\
SELECT api.create_session(p_type => 'video', p_plan_code => 'standard', p_concern => 'Squeaky brakes',
                          p_concern_category => 'diagnostic', p_vehicle_id => f.vehicle_id,
                          p_scheduled_for => f.starts_at, p_mechanic_id => f.mechanic_id,
                          p_customer_id => f.customer_id) ->> 'id'
  FROM bench.factory_slots f WHERE f.k = (SELECT nextval('bench.factory_seq'));
"""


def prepare_pgbench_factory(ctx: Ctx, slots: list[tuple[str, Any]]) -> None:
    """bench.factory_slots: one free (mechanic, start) per booking, each with a customer (and vehicle)
    created here for it alone; readable by autodoc_admin, the role pgbench books as."""
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench.factory_slots")
        conn.execute("DROP SEQUENCE IF EXISTS bench.factory_seq")
        conn.execute("CREATE TABLE bench.factory_slots (k bigint PRIMARY KEY, mechanic_id uuid, "
                     "starts_at timestamptz, customer_id uuid DEFAULT gen_random_uuid(), "
                     "vehicle_id uuid DEFAULT gen_random_uuid())")
        with conn.cursor().copy("COPY bench.factory_slots (k, mechanic_id, starts_at) FROM STDIN") as cp:
            for k, (m, at) in enumerate(slots, 1):
                cp.write_row((k, m, at))
        _create_customers(conn, "bench.factory_slots", "customer_id", "k", "Pgbench")
        conn.execute("CREATE SEQUENCE bench.factory_seq")
        conn.execute("GRANT USAGE ON SCHEMA bench TO autodoc_admin")
        conn.execute("GRANT SELECT ON bench.factory_slots TO autodoc_admin")
        conn.execute("GRANT USAGE ON SEQUENCE bench.factory_seq TO autodoc_admin")
        conn.execute("VACUUM ANALYZE bench.factory_slots, app.customers, app.users, app.vehicles")
    (ctx.cluster.home / "factory.sql").write_text(PGB_FACTORY_SCRIPT)


def admin_claims_pgoptions(ctx: Ctx) -> str:
    """libpq startup options that give a connection the bench admin's claims (no spaces in the JSON:
    PGOPTIONS splits on whitespace)."""
    claims = json.dumps({"role": "admin", "sub": ctx.data["admin_id"]}, separators=(",", ":"))
    return f"-c request.jwt.claims={claims}"


def _admin_pgoptions(ctx: Ctx) -> str:
    """libpq startup options that make a superuser connection book as the API would for an admin: the
    role autodoc_admin and admin claims."""
    return f"-c role=autodoc_admin {admin_claims_pgoptions(ctx)}"


def run_pgbench_factory(ctx: Ctx, seconds: int) -> dict[str, Any]:
    opts = _admin_pgoptions(ctx)
    # checked, not assumed: the startup options do set the role and the claims
    who = _pg(ctx, "psql", "-XAtq", "-d", ctx.dbname, "-c",
              "SELECT current_user || ' ' || (current_setting('request.jwt.claims')::jsonb ->> 'role')",
              pgoptions=opts).stdout.strip()
    if who != "autodoc_admin admin":
        raise RuntimeError(f"pgbench factory: PGOPTIONS gave {who!r}, not 'autodoc_admin admin'")
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        before = conn.execute("SELECT count(*), (SELECT last_value FROM bench.factory_seq), "
                              "(SELECT count(*) FROM bench.factory_slots) FROM app.sessions").fetchone()
        conn.execute("CHECKPOINT")
    with PgCpuSampler(ctx.cluster) as cpu:
        out = _pg(ctx, "pgbench", "-n", "-M", "prepared", "-c", str(CLIENTS), "-j", "2", "-T", str(seconds),
                  "-f", str(ctx.cluster.home / "factory.sql"), ctx.dbname, pgoptions=opts).stdout
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        after = conn.execute("SELECT count(*), (SELECT last_value FROM bench.factory_seq) FROM app.sessions").fetchone()
    assert before and after
    res = _pgbench_figures(out, cpu)
    res["sessions_created"] = after[0] - before[0]
    res["slots_left"] = before[2] - after[1]  # < 0: the script ran out of slots (sessions created < transactions)
    res["command"] = (f"PGOPTIONS='-c role=autodoc_admin -c request.jwt.claims=<admin>' pgbench -n -M prepared "
                      f"-c {CLIENTS} -j 2 -T {seconds} -f factory.sql (bench/booking_throughput.py PGB_FACTORY_SCRIPT)")
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
        meter = BackendCpu()
        meter.start(conn)
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
        meter.stop()
    with out["lock"]:
        out["backends_cpu_s"] += meter.cpu_s
        out["outcomes"].update(outcomes)
        out["latencies"].extend(latencies)


def _book_many(ctx: Ctx, slots: list[tuple[str, Any]], customers: list[tuple[str, str]], *, one_tx: bool,
               meter: BackendCpu | None = None, warmup: int = 0,
               on_start: Callable[[], None] | None = None) -> tuple[float, int]:
    """Book len(customers) slots from one connection: (ms per attempt, failures). one_tx: all in one
    transaction, without savepoints (past 64 subtransactions every snapshot check would go to
    pg_subtrans and measure that instead); the slots are free by construction, so failures are rare,
    and one only restarts the transaction. meter: this connection's backend CPU around the bookings.
    warmup: the first slots are booked before the meter starts and on_start() runs (a pooled API
    connection is warm: a new backend's first calls load its caches and compile the functions); the
    result counts the other bookings only."""
    failures = 0
    with psycopg.connect(ctx.su_dsn, autocommit=not one_tx) as conn:
        conn.execute("SET ROLE autodoc_admin")
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)",
                     [json.dumps({"role": "admin", "sub": ctx.data["admin_id"]})])
        if one_tx:
            conn.commit()  # the session settings above stay; a rolled-back booking keeps them
        sw = Stopwatch()
        for k, ((mechanic, at), (customer, vehicle)) in enumerate(zip(slots, customers, strict=True)):
            if k == warmup:
                if on_start:
                    on_start()
                if meter:
                    meter.start(conn)
                sw = Stopwatch()
            try:
                conn.execute(BOOK_SQL, {"vehicle": vehicle, "at": at, "mechanic": mechanic, "customer": customer})
            except psycopg.Error:
                failures += 1 if k >= warmup else 0
                if one_tx:
                    conn.rollback()
        ms = sw.ms() / (len(customers) - warmup)
        if one_tx:
            conn.commit()
        if meter:
            meter.stop()
    return ms, failures


def one_vs_own_transactions(ctx: Ctx, free: list[tuple[str, Any]], customers: list[tuple[str, str]],
                            n: int) -> dict[str, Any]:
    """One client: n bookings each in its own transaction vs n all in one (the gap is per-transaction
    work, e.g. LANGUAGE sql helpers parsed and planned again in every new transaction)."""
    own_tx, fail_own = _book_many(ctx, free[:n], customers[:n], one_tx=False)
    one_tx, fail_one = _book_many(ctx, free[n:2 * n], customers[n:2 * n], one_tx=True)
    return {"bookings": n, "failures": fail_own + fail_one, "ms_per_booking_own_transactions": round(own_tx, 3),
            "ms_per_booking_one_transaction": round(one_tx, 3),
            "per_transaction_overhead_ms": round(own_tx - one_tx, 3)}


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
                              "ready": threading.Event(), "backends_cpu_s": 0.0}
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
        # the 8 connections' own backends (/proc/<pid>/stat of each, read by its thread around its loop)
        "backends_cpu_ms_per_attempt": round(shared["backends_cpu_s"] * 1000 / max(attempts, 1), 3),
        "background_cpu_ms_per_attempt": _per(pg_cpu.by_kind(), attempts, skip="client backend"),
        "load_generator_cpu_ms_per_attempt": round(client_cpu * 1000 / max(attempts, 1), 3),
        "outcomes": dict(outcomes.most_common()),
        "sessions_created": after[0] - before[0],
    }


# -- PostgreSQL CPU per booking, fan-out included ------------------------------------------------------

CHARGE_RESULT = {"status": "processing", "client_secret": "pi_bench_secret"}
COMPLETE_BATCH = 8  # the worker's largest group commit of completions: its stripe + email lanes' concurrency


def drain_outbox(ctx: Ctx, meter: BackendCpu | None = None) -> dict[str, int]:
    """Do the database half of the worker's job for every due outbox row, as the worker role and with
    the worker's own calls: api.outbox_apply_due (the database lane: applies the booking events, which
    fan out into their charge and emails, and marks them done in one transaction), api.outbox_claim
    (which adds each kind's claim-time facts) and api.outbox_complete_many (which applies the results:
    a charge links its PaymentIntent). The external calls themselves (SMTP, Stripe) are not made: a
    charge completes as 'processing' (no ledger posting: that is the money bench's), an email with {}.
    Applies in batches of 10 (the worker's default AUTODOC_WORKER_BATCH_SIZE), claims 50 at a time,
    and writes completions back COMPLETE_BATCH at a time: the worker group-commits the completions
    that finished while its previous write-back ran, at most its lanes' concurrency (stripe 4 +
    email 4). Loops until nothing is due (an applied event enqueues more rows). Returns rows per kind.
    meter: the drain connection's backend CPU around the loop."""
    kinds: Counter[str] = Counter()
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("SET ROLE autodoc_worker")
        conn.execute("SELECT set_config('request.jwt.claims', %s, false)", [json.dumps({"role": "worker"})])
        if meter:
            meter.start(conn)
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
        if meter:
            meter.stop()
    return dict(kinds)


WARMUP = 10  # bookings on the booking connection before its meter starts (see _book_many)


def _book_and_drain(ctx: Ctx, slots: list[tuple[str, Any]], customers: list[tuple[str, str]],
                    on_start: Callable[[], None] | None = None,
                    between: Callable[[], None] | None = None) -> dict[str, Any]:
    """One client books len(slots) free slots, each in its own transaction (the first WARMUP ones before
    the meter starts), then drain_outbox does the worker's database work for what they all enqueued.
    CPU: each connection's own backend (BackendCpu), and beside it the cluster's other processes during
    the same phase (PgCpuSampler, by kind). Per booking: the booking phase per metered booking, the
    fan-out per booking drained."""
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM app.outbox")  # the drain sees only these bookings' rows
        # and not the debris of that DELETE: the factory phases left tens of thousands of pending
        # rows (no worker runs during them); deleted at once, their dead entries would sit in the
        # pending index until autovacuum came, and every due-rows scan of the drain would step over
        # them (measured: 0.94 ms of the 2.5 ms fan-out per booking). A worker never meets that:
        # rows leave the pending index one by one as they are done, and btree removes such entries
        # as it goes (kill_prior_tuple, bottom-up deletion).
        conn.execute("VACUUM app.outbox")
        conn.execute("CHECKPOINT")
    book, drain = BackendCpu(), BackendCpu()
    with PgCpuSampler(ctx.cluster) as book_all:
        ms, failures = _book_many(ctx, slots, customers, one_tx=False, meter=book, warmup=WARMUP,
                                  on_start=on_start)
    if between:
        between()
    with PgCpuSampler(ctx.cluster) as drain_all:
        kinds = drain_outbox(ctx, meter=drain)
    n = max(len(slots) - WARMUP - failures, 1)
    n_all = kinds.get("session.booked") or max(len(slots) - failures, 1)
    booking_ms, fan_out_ms = book.cpu_s * 1000 / n, drain.cpu_s * 1000 / n_all
    return {"bookings": len(slots) - WARMUP - failures, "failures": failures, "warmup_bookings": WARMUP,
            "bookings_drained": n_all, "client_ms_per_booking": round(ms, 3),
            "booking_tx_ms": round(booking_ms, 3), "fan_out_ms": round(fan_out_ms, 3),
            "total_ms": round(booking_ms + fan_out_ms, 3),
            "background_ms_per_booking": {"booking": _per(book_all.by_kind(exclude=[book.pid]), n),
                                          "fan_out": _per(drain_all.by_kind(exclude=[drain.pid]), n_all)},
            "all_processes_ms_per_booking": {"booking": round(book_all.cpu_s * 1000 / n, 3),
                                             "fan_out": round(drain_all.cpu_s * 1000 / n_all, 3)},
            "outbox_rows_per_booking": {k: round(v / n_all, 2) for k, v in sorted(kinds.items())}}


def cpu_per_booking(ctx: Ctx, slots: list[tuple[str, Any]], customers: list[tuple[str, str]]) -> dict[str, Any]:
    """PostgreSQL CPU per booking and per booking's fan-out: the CPU of the backend doing each (no
    contention, no failures, no profiling hooks: pg_stat_statements tracks nothing in this phase)."""
    return _book_and_drain(ctx, slots, customers) | {
        "method": "utime+stime of the booking connection's backend and of the drain connection's backend from "
                  "/proc/<pg_backend_pid()>/stat, before and after each phase; background_ms_per_booking: the "
                  "cluster's other processes in the same phase (not in the headline)"}


def _statements(conn: psycopg.Connection[Any], n: int) -> list[dict[str, Any]]:
    rows = conn.execute("""
        SELECT toplevel, regexp_replace(query, '\\s+', ' ', 'g'), calls, total_exec_time, total_plan_time, rows
        FROM bench.pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time + total_plan_time DESC""").fetchall()
    return [{"toplevel": t, "query": q, "calls_per_booking": round(c / n, 2), "exec_ms": round(e / n, 4),
             "plan_ms": round(pl / n, 4), "rows_per_booking": round(r / n, 2)} for t, q, c, e, pl, r in rows]


def statement_profile(ctx: Ctx, slots: list[tuple[str, Any]], customers: list[tuple[str, str]]) -> dict[str, Any]:
    """The same phase as cpu_per_booking with pg_stat_statements tracking every statement, nested ones
    included (track 'all', track_planning on, for this phase only): reset after the warm-up bookings,
    the statements of the booking transactions, reset, then those of their fan-out. Per-backend CPU is
    measured as in cpu_per_booking, so the profile's own overhead is the ratio of the two."""
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA bench")
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        conn.execute("SELECT bench.pg_stat_statements_reset()")
    booking: list[dict[str, Any]] = []

    def reset() -> None:
        with psycopg.connect(ctx.su_dsn, autocommit=True) as c:
            c.execute("SELECT bench.pg_stat_statements_reset()")

    def between() -> None:
        with psycopg.connect(ctx.su_dsn, autocommit=True) as c:
            booking.extend(_statements(c, len(slots) - WARMUP))
            c.execute("SELECT bench.pg_stat_statements_reset()")

    try:
        cpu = _book_and_drain(ctx, slots, customers, reset, between)
        with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
            fan_out = _statements(conn, cpu["bookings_drained"])
    finally:
        with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET pg_stat_statements.track")
            conn.execute("ALTER SYSTEM RESET pg_stat_statements.track_planning")
            conn.execute("SELECT pg_reload_conf()")
    return {"cpu": cpu, "booking_statements": booking, "fan_out_statements": fan_out}


# -- one booking's cost by part, from the per-statement profile -----------------------------------------
#
# pg_stat_statements (track 'all') gives each statement's time INCLUDING the statements it runs (a
# trigger's statements are inside the INSERT that fired it; a function's inside the SELECT calling it),
# but not which statement ran inside which. The parts below say it, from the code: each part is the
# statements matching its patterns (a pattern with a call count takes that many calls at the
# statement's mean time: a statement run from two places), minus the parts nested in it (parent).
# Top-level parts are inside the root (api.create_session; the worker's api.* calls); what the root
# spends outside every listed part (PL/pgSQL expressions, statements no part names) is a row of its
# own, and so is the backend's CPU outside any statement (protocol, parse/bind, commit). A pattern
# that stops matching after a change moves its time into those rows, never out of the total.
# key, label, parent key, rows written, patterns
Rule = tuple[str, str, str | None, int, tuple[tuple[str, int | None], ...]]

BOOKING_PARTS: tuple[Rule, ...] = (
    ("lock", "floor: customer lock (FOR NO KEY UPDATE: the duplicate rule cannot be raced)", None, 0,
     ((r"FROM app\.customers c WHERE c\.user_id = v_customer FOR NO KEY UPDATE", None),)),
    ("session", "floor: the session row (2 exclusion constraints, indexes; + the triggers' own PL/pgSQL)", None, 1,
     ((r"^INSERT INTO app\.sessions", None),)),
    ("fk", "floor: the session's FK checks (customer, vehicle, mechanic)", "session", 0,
     ((r'FROM ONLY "app"\."users"', None), (r'FROM ONLY "app"\."vehicles"', None),
      (r'FROM ONLY "app"\."mechanics"', 1))),
    ("assignment", "floor: the assignment row (+ its FK checks)", None, 1,
     ((r"^INSERT INTO app\.session_assignments", None),)),
    ("audit", "floor: the audit row (trigger sessions_audit, + its FK check)", "session", 1,
     ((r"^INSERT INTO app\.session_events", None),)),
    ("event", "the one session.booked event (trigger sessions_90_50_notifications, + kind check)", "session", 1,
     ((r"^INSERT INTO app\.outbox", None),)),
    ("lifecycle", "trigger sessions_enforce_lifecycle (plan exists)", "session", 0,
     ((r"NOT EXISTS \(SELECT FROM app\.plans p WHERE p\.code = NEW\.plan_code\)", None),)),
    ("policy", "trigger sessions_40_money_policy (policy version in force)", "session", 0,
     ((r"FROM app\.money_policy_versions", None),)),
    ("occupy", "trigger sessions_occupy_mechanic_time (mechanic lock, opening hours, time off)", "session", 0,
     ((r"lock_mechanic_time\(NEW\.", None), (r"^\(SELECT coalesce\(range_agg\(w\.opening\)", None),
      (r"SELECT w\.timezone FROM app\.workshops", 1), (r"FROM app\.mechanic_time_off t WHERE", None))),
    ("choices", "check: type, category, mode (require_choice)", None, 0, ((r"require_choice\(", None),)),
    ("vehicle", "check: the vehicle is the customer's", None, 0,
     ((r"FROM app\.vehicles v WHERE v\.id = p_vehicle_id", None),)),
    ("plan", "check: the plan", None, 0, ((r"FROM app\.plans p WHERE p\.code = p_plan_code", None),)),
    ("mechanic", "check: the mechanic (active, workshop)", None, 0,
     ((r"FROM app\.mechanics m WHERE m\.user_id = v_mechanic", None),)),
    ("notice", "check: notice and horizon (require_schedule_time)", None, 0, ((r"require_schedule_time\(", None),)),
    ("grid", "check: on the slot grid (require_on_grid)", None, 0, ((r"require_on_grid\(", None),)),
    ("duplicate", "check: duplicate rule (upcoming appointment)", None, 0,
     ((r"s\.scheduled_for IS NOT NULL AND s\.status = ANY \(app_private\.upcoming_statuses", None),)),
    ("time_lock", "lock: the mechanic's time (advisory, before the checks)", None, 0,
     ((r"lock_mechanic_time\(v_mechanic", None),)),
    ("slot", "check: slot free (require_slot itself)", None, 0, ((r"require_slot\(", None),)),
    ("holds", "check: lapsed holds in the way released", "slot", 0, ((r"release_expired_holds_in_way\(", None),)),
    ("busy", "check: mechanic busy", "slot", 0, ((r"coalesce\(range_agg\(s\.period\)", None),)),
    ("overlap", "check: customer overlap", "slot", 0,
     ((r"s\.customer_id = p_customer_id AND s\.status = ANY \(app_private\.blocking_statuses", None),)),
)
BOOKING_ROOT = r"^SELECT api\.create_session\("

FAN_OUT_PARTS: tuple[Rule, ...] = (
    ("apply", "fan-out: apply (api.outbox_apply_due itself)", None, 0, ((r"^SELECT api\.outbox_apply_due\(", None),)),
    ("due", "fan-out: apply: find the due events (batches of 10)", "apply", 0,
     ((r"app_private\.outbox_due\(\s*ARRAY\(SELECT k\.kind FROM app\.outbox_kinds k WHERE k\.lane =", None),)),
    ("locks", "fan-out: apply: lock the customer and the session, invite exists?", "apply", 0,
     ((r"FROM app\.customers c WHERE c\.user_id = \(SELECT s\.customer_id", None),
      (r"^SELECT s\.status FROM app\.sessions s WHERE s\.id = p_session_id AND s\.scheduled_for IS NOT NULL FOR",
       None), (r"^EXISTS \(SELECT FROM app\.session_invites", None))),
    ("charge", "fan-out: apply: the charge (payment row + stripe.charge row)", "apply", 2,
     ((r"session_booking_charge\(", None),)),
    ("emails", "fan-out: apply: the invite + 2 emails enqueued", "apply", 3, ((r"on_session_booked\(", None),)),
    ("done", "fan-out: apply: the event marked done", "apply", 1,
     ((r"^UPDATE app\.outbox o SET status = \S+, attempts = o\.attempts", None),)),
    ("claim", "fan-out: claim the 3 rows (lease; api.outbox_claim itself)", None, 3,
     ((r"FROM api\.outbox_claim\(", None),)),
    ("facts", "fan-out: claim: the 2 emails' facts (context read here)", "claim", 0,
     ((r"session_email_facts\(", None),)),
    ("complete", "fan-out: complete the 3 rows (api.outbox_complete[_many] itself)", None, 0,
     ((r"^SELECT api\.outbox_complete(_many)?\(", None),)),
    ("marked", "fan-out: complete: the 3 rows marked done", "complete", 3,
     ((r"^UPDATE app\.outbox o SET status = \S+, result = coalesce\(p_result", None),)),
    ("intent", "fan-out: complete: the charge links its PaymentIntent", "complete", 1,
     ((r"^UPDATE app\.scheduled_payments SET payment_intent_id", None),)),
)
FAN_OUT_ROOT = r"^SELECT (api\.outbox_|id, kind FROM api\.outbox_claim)"


def _ms(st: dict[str, Any]) -> float:
    return float(st["exec_ms"]) + float(st["plan_ms"])


def _parts(statements: list[dict[str, Any]], rules: tuple[Rule, ...], root: str, root_label: str,
           cpu_ms: float, outside_label: str) -> list[dict[str, Any]]:
    """Per-booking ms of each part (unscaled): its statements minus its children, the root's rest, and
    the backend's CPU outside every statement (cpu_ms: the profiled backend's CPU per booking)."""
    raw: dict[str, float] = {}
    for key, _, _, _, patterns in rules:
        total = 0.0
        for pattern, calls in patterns:
            for st in statements:
                if re.search(pattern, st["query"]):
                    per_call = _ms(st) / st["calls_per_booking"] if st["calls_per_booking"] else 0.0
                    total += _ms(st) if calls is None else per_call * calls
        raw[key] = total
    root_ms = sum(_ms(st) for st in statements if st["toplevel"] and re.search(root, st["query"]))
    rows: list[dict[str, Any]] = [
        {"part": label, "rows": n, "ms": raw[key] - sum(raw[c[0]] for c in rules if c[2] == key)}
        for key, label, _, n, _ in rules]
    rows.append({"part": root_label, "rows": 0, "ms": root_ms - sum(raw[r[0]] for r in rules if r[2] is None)})
    # Statement times are wall-clock: with other processes on the CPUs they exceed the CPU the backend
    # used. Then nothing is left outside the statements that could be told apart, and each part is its
    # share of the statements' time applied to the backend's CPU.
    outside = max(cpu_ms - root_ms, 0.0)
    if root_ms > 0:
        k = (cpu_ms - outside) / root_ms
        rows = [r | {"ms": r["ms"] * k} for r in rows]
    rows.append({"part": outside_label, "rows": 0, "ms": outside})
    return rows


def _workload(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The phase's statements without the bench's own (reset, CHECKPOINT, DELETE, SET ROLE, ...): the
    top-level ones kept are the api.* calls."""
    return [st for st in statements if not st["toplevel"] or st["query"].startswith("SELECT api.")
            or "FROM api." in st["query"]]


def prof_summary(prof: dict[str, Any], untracked: dict[str, Any]) -> dict[str, Any]:
    """The profile's top statements per booking and its overhead against the untracked phase."""
    cpu = prof["cpu"]
    b, f = _workload(prof["booking_statements"]), _workload(prof["fan_out_statements"])
    b_root = sum(_ms(st) for st in b if st["toplevel"] and re.search(BOOKING_ROOT, st["query"]))
    f_root = sum(_ms(st) for st in f if st["toplevel"] and re.search(FAN_OUT_ROOT, st["query"]))
    return {
        "bookings": cpu["bookings"],
        "top_booking": b[:15], "top_fan_out": f[:15],
        # wall-clock time of the root statements: above the backend's CPU when the CPUs were shared
        "statements_ms_per_booking": {"booking": round(b_root, 3), "fan_out": round(f_root, 3)},
        "profiled_backend_ms_per_booking": {"booking": cpu["booking_tx_ms"], "fan_out": cpu["fan_out_ms"]},
        "untracked_backend_ms_per_booking": {"booking": untracked["booking_tx_ms"], "fan_out": untracked["fan_out_ms"]},
        "overhead": (f"backend CPU with track 'all' + track_planning vs untracked: booking "
                     f"{cpu['booking_tx_ms']} vs {untracked['booking_tx_ms']} ms "
                     f"({ratio(cpu['booking_tx_ms'], untracked['booking_tx_ms'])}x), fan-out {cpu['fan_out_ms']} "
                     f"vs {untracked['fan_out_ms']} ms ({ratio(cpu['fan_out_ms'], untracked['fan_out_ms'])}x); "
                     f"the root statements' wall time {round(b_root, 3)} and {round(f_root, 3)} ms; "
                     "the cost table is scaled to the untracked figures"),
        "all_statements": {"booking": b, "fan_out": f},
    }


def cost_table(prof: dict[str, Any], untracked: dict[str, Any]) -> list[dict[str, Any]]:
    """One booking's PostgreSQL CPU by part (part, rows written, ms, share): the per-statement profile's
    parts (see BOOKING_PARTS, FAN_OUT_PARTS), each phase scaled so that its rows add up to the untracked
    backend CPU of that phase (cpu_per_booking): the profile's overhead spread evenly over its parts."""
    cpu = prof["cpu"]
    out: list[dict[str, Any]] = []
    for statements, rules, root, root_label, outside, prof_ms, real_ms in (
            (prof["booking_statements"], BOOKING_PARTS, BOOKING_ROOT,
             "create_session's own PL/pgSQL (expressions, the session JSON it returns) and statements no part names",
             "booking backend outside any statement (protocol, parse/bind, commit)",
             cpu["booking_tx_ms"], untracked["booking_tx_ms"]),
            (prof["fan_out_statements"], FAN_OUT_PARTS, FAN_OUT_ROOT,
             "fan-out: the worker calls' own PL/pgSQL and statements no part names",
             "drain backend outside any statement (protocol, parse/bind, commit)",
             cpu["fan_out_ms"], untracked["fan_out_ms"])):
        rows = _parts(_workload(statements), rules, root, root_label, prof_ms, outside)
        scale = real_ms / prof_ms if prof_ms else 1.0
        out += [r | {"ms": r["ms"] * scale} for r in rows]
    total = sum(r["ms"] for r in out) or 1.0
    return [r | {"ms": round(r["ms"], 3), "share": round(r["ms"] / total, 3)} for r in out]


def _overlaps(ctx: Ctx) -> dict[str, Any]:
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        sw = Stopwatch()
        ov = conn.execute(OVERLAPS_SQL).fetchone()
    assert ov
    return {"mechanic": ov[0], "customer": ov[1], "active_sessions": ov[2], "query_seconds": round(sw.s(), 2)}


def _weighted(rounds: list[dict[str, Any]], key: str) -> float | None:
    vals = [(r[key], r["transactions"]) for r in rounds if r.get(key) is not None and r["transactions"]]
    n = sum(t for _, t in vals)
    return round(sum(v * t for v, t in vals) / n, 3) if n else None


def combine_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure from the rounds of one pgbench workload: tps = all their transactions over all their
    time (each round's transactions / its tps), per-transaction figures weighted by transactions,
    counts summed; `rounds` keeps each round's tps."""
    if len(rounds) == 1:
        return rounds[0]
    n_tx = sum(r["transactions"] for r in rounds)
    busy_s = sum(r["transactions"] / r["tps"] for r in rounds if r["tps"])
    out = dict(rounds[-1])
    out.update({"tps": round(n_tx / busy_s, 1) if busy_s else 0.0, "transactions": n_tx,
                "failed": sum(r.get("failed") or 0 for r in rounds),
                "sessions_created": sum(r.get("sessions_created") or 0 for r in rounds),
                "rounds": [round(r["tps"], 1) for r in rounds]})
    for key in ("latency_avg_ms", "postgres_cpu_ms_per_tx", "backends_cpu_ms_per_tx"):
        out[key] = _weighted(rounds, key)
    kinds = {k for r in rounds for k in r.get("background_cpu_ms_per_tx", {})}
    out["background_cpu_ms_per_tx"] = {k: round(sum(r.get("background_cpu_ms_per_tx", {}).get(k, 0.0)
                                                    * r["transactions"] for r in rounds) / n_tx, 3)
                                       for k in sorted(kinds)} if n_tx else {}
    return out


def _mode(ctx: Ctx, seconds: int, cands: list[tuple[str, Any]], hot: list[tuple[str, Any]],
          customers: list[tuple[str, str]], kind: str, floor_tx: int) -> dict[str, Any]:
    """pgbench tpcb-like; then the FLOORS (floor_tx transactions each) and the pgbench factory (`seconds`)
    taking turns in rounds, so a burst of load from outside the bench (these machines are shared) falls
    on all of them alike; then the Python factory. All under the same settings."""
    pgb = run_pgbench(ctx, seconds)
    rounds = 1 if ctx.quick else ROUNDS
    turns: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in FLOORS} | {"pgbench_factory": []}
    for _ in range(rounds):
        for name, *_ in FLOORS:
            turns[name].append(run_floor(ctx, floor_tx // rounds, kind, name))
        turns["pgbench_factory"].append(run_pgbench_factory(ctx, max(seconds // rounds, 1)))
    floors = {name: combine_rounds(turns[name]) for name, *_ in FLOORS}
    floor, trg = floors["floor"], floors["floor_triggers"]
    pgf = combine_rounds(turns["pgbench_factory"])
    fac = run_factory(ctx, seconds, cands, hot, customers)
    return {"pgbench": pgb, **floors, "pgbench_factory": pgf, "factory": fac,
            # the steps from the floor to the factory, each against the one before
            "steps": {"floor_triggers_vs_floor": ratio(trg["tps"], floor["tps"]),
                      "pgbench_factory_vs_floor_triggers": ratio(pgf["tps"], trg["tps"])},
            "pgbench_factory_ratio_floor_by_round": [ratio(p["tps"], f["tps"]) for p, f in
                                                     zip(turns["pgbench_factory"], turns["floor"], strict=True)],
            "ratio_floor": ratio(fac["bookings_per_s"], floor["tps"]),
            "ratio_tpcb": ratio(fac["bookings_per_s"], pgb["tps"]),
            "pgbench_factory_ratio_floor": ratio(pgf["tps"], floor["tps"]),
            "pgbench_factory_ratio_tpcb": ratio(pgf["tps"], pgb["tps"]),
            "floor_vs_tpcb": ratio(floor["tps"], pgb["tps"]),
            "ratio_attempts_tpcb": ratio(fac["attempts_per_s"], pgb["tps"])}


FLOOR_KIND = "noop"  # the compact event's kind (registered on every database)


def run(ctx: Ctx) -> dict[str, Any]:
    seconds = 5 if ctx.quick else 15
    # one client's phases: enough bookings that one 10 ms clock tick is < 2% of a backend's CPU
    n_cpu, n_prof, n_tx = (500, 300, 200) if ctx.quick else (2000, 1000, 200)
    n_one = n_cpu + n_prof + 2 * n_tx
    sz = ctx.data["info"]["sizes"]
    cands, cand_s = candidate_slots(ctx)
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        customers = [(c, v) for c, v in conn.execute(
            "SELECT user_id::text, vehicle_id::text FROM bench.customers WHERE idx >= %s ORDER BY idx",
            [sz["existing_customers"]])]
    rng = random.Random(3)
    rng.shuffle(cands)
    hot, one, rest = cands[:100], cands[100:100 + n_one], cands[100 + n_one:]  # 50 hot slots per mode
    # the floor and the pgbench factory book each of their slots once (without replacement): 35% and
    # 25% of the free slots; the Python factory draws from the other 40%, with replacement
    n_floor, n_pgf = len(rest) * 35 // 100, len(rest) // 4
    floor_slots, pgf_slots, cands = rest[:n_floor], rest[n_floor:n_floor + n_pgf], rest[n_floor + n_pgf:]
    cands_durable, cands_cpu = cands[:len(cands) // 2], cands[len(cands) // 2:]  # each mode starts on free slots
    one_customers, customers = customers[-n_one:], customers[:-n_one]
    half = len(customers) // 2
    init_pgbench(ctx)
    prepare_floor(ctx, floor_slots)
    prepare_pgbench_factory(ctx, pgf_slots)
    floor_tx = floor_budget(len(floor_slots), seconds)
    res: dict[str, Any] = {"clients": CLIENTS, "seconds": seconds, "rounds": 1 if ctx.quick else ROUNDS,
                           "floor_transactions_per_phase": floor_tx, "candidate_slots": len(cands),
                           "candidate_query_seconds": round(cand_s, 1), "hot_slots": len(hot) // 2,
                           "floor_slots": len(floor_slots), "pgbench_factory_slots": len(pgf_slots),
                           "customers_available": len(customers)}
    try:
        res["durable"] = {"settings": durability(ctx, True)}
        res["durable"] |= _mode(ctx, seconds, cands_durable, hot[:50], customers[:half], FLOOR_KIND, floor_tx)
    finally:
        settings = durability(ctx, False)
    res["cpu_only"] = {"settings": settings} | _mode(ctx, seconds, cands_cpu, hot[50:], customers[half:],
                                                         FLOOR_KIND, floor_tx)
    res["overlaps"] = _overlaps(ctx)
    i = 0
    res["cpu_per_booking"] = cpu_per_booking(ctx, one[i:i + n_cpu], one_customers[i:i + n_cpu])
    i += n_cpu
    prof = statement_profile(ctx, one[i:i + n_prof], one_customers[i:i + n_prof])
    i += n_prof
    res["statement_profile"] = prof_summary(prof, res["cpu_per_booking"])
    res["cost_table"] = cost_table(prof, res["cpu_per_booking"])
    res["guarantee_floor"] = guarantee_floor.run(ctx, FLOORS, {"admin": ctx.data["admin_id"], "kind": FLOOR_KIND},
                                                 n_cpu, admin_claims_pgoptions(ctx))
    res["profile_single_client"] = one_vs_own_transactions(ctx, one[i:], one_customers[i:], n_tx)
    one_ms = res["cpu_per_booking"]["booking_tx_ms"]
    res["contention"] = {mode: {
        "one_client_backend_ms_per_booking": one_ms,
        "pgbench_factory_8_backends_ms_per_booking": res[mode]["pgbench_factory"]["backends_cpu_ms_per_tx"],
        "python_factory_8_backends_ms_per_attempt": res[mode]["factory"]["backends_cpu_ms_per_attempt"],
        "pgbench_factory_vs_one_client": ratio(res[mode]["pgbench_factory"]["backends_cpu_ms_per_tx"] or 0, one_ms),
        "python_factory_vs_one_client": ratio(res[mode]["factory"]["backends_cpu_ms_per_attempt"], one_ms),
    } for mode in ("durable", "cpu_only")}
    with psycopg.connect(ctx.cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier("bench_pgbench")))
    d, c = res["durable"], res["cpu_only"]
    consistent = all(m["factory"]["sessions_created"] == m["factory"]["booked"] for m in (d, c))
    pgf_consistent = all(m["pgbench_factory"]["sessions_created"] == m["pgbench_factory"]["transactions"]
                         and m["pgbench_factory"]["failed"] in (0, None) for m in (d, c))
    cpu = res["cpu_per_booking"]
    res["targets"] = [
        # judged on the like-for-like figure: the same booking driven as the floor is (pgbench, prepared,
        # collision-free slots); the Python factory's ratio (8 threads, hot-slot races) is printed beside it
        target(f"booking: bookings/s vs the floor (durable; pgbench factory, like the floor; Python factory "
               f"{d['ratio_floor']}x)", d["pgbench_factory_ratio_floor"], 0.7, higher_is_better=True,
               unit="x", why_missed=("a booking costs its 8 backends "
                                     f"{d['pgbench_factory']['backends_cpu_ms_per_tx']} ms of CPU, a floor booking "
                                     f"{d['floor']['backends_cpu_ms_per_tx']} ms "
                                     "(cost table in docs/benchmarks.md)")),
        target("booking: PostgreSQL CPU per booking incl. fan-out (the two backends doing the work)",
               cpu["total_ms"], 1.0, higher_is_better=False,
               unit=" ms", why_missed=(f"booking transaction {cpu['booking_tx_ms']} ms + fan-out "
                                       f"{cpu['fan_out_ms']} ms; the guarantees' bare writes alone: "
                                       f"{res['guarantee_floor'].get('total_ms')} ms (docs/benchmarks.md)")),
        target("booking: overlapping active bookings afterwards (mechanic + customer)",
               res["overlaps"]["mechanic"] + res["overlaps"]["customer"], 0, higher_is_better=False),
        target("booking: sessions in the database == bookings the clients saw succeed (Python factory)",
               1 if consistent else 0, 1, higher_is_better=True),
        target("booking: sessions in the database == transactions pgbench counted, 0 failed (pgbench factory)",
               1 if pgf_consistent else 0, 1, higher_is_better=True),
    ]
    return res

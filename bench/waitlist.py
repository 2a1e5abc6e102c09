"""Waitlist: what the on-shift trigger costs the shift UPDATE, and how fast the customer hears of it.

Three databases in the run's cluster, migrated alike, each with 10,000 customers and 40 offline
mechanics: `..._wl_empty` (no one waiting), `..._wl_ten` (10 waiting) and `..._wl_full` (10,000
pending entries, joined over the last 100 minutes, so all younger than the 2-hour rule). Rounds
alternate between them (same machine state, same minute; who goes first rotates), each one:

    UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = $1   -- autocommit, timed

issued by the API login role as an admin (SET ROLE autodoc_admin + claims, as a DBA or the REST API
would). The timed span is the statement including its commit (the trigger runs inside it: in
`full` it claims the oldest entry with SKIP LOCKED, marks it notified, queues the email and writes
the live event + NOTIFY). Untimed between rounds: the mechanic goes off shift and, in `full`, the
notified customer is put back at the end of the queue (their entry cancelled, a new pending one
inserted; in `ten` likewise), so every round sees the same number waiting.

Measured twice: durable (fsync and synchronous_commit on, how users run it: the headline, as
DESIGN.md asks) and CPU-only (the bench cluster's fsync off), labelled in results.json.

Every database has a relay listening, as in production (a thread like the API's: one autocommit
connection, LISTEN autodoc_events_v1, then `api.live_events_after(watermark)` as autodoc_worker).
Commit → event: the full database's relay records when it has read the round's `waitlist.notified`
row. Reported from the moment the UPDATE's commit was acknowledged to the client (can be ~0 or
slightly negative: the listener may wake before the committer's socket returns) and from the moment
the UPDATE was sent. No write NOTIFYs inside its transaction (issue 13): after each commit the
bench sends the wake-up the API sends after a writing request (api/wake.py), untimed in the UPDATE's
latency, so the latency is the API path (a SQL-only toggle is found by the relay's poll instead).
The figure stops at the relay read, which is the data source of GET /api/events.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import psycopg

from api.devtools import migrate
from api.wake import WAKE_SQL
from bench.common import Ctx, Stopwatch, dist, durability_mode, ratio, target

MECHANICS = 40

SETUP_SQL = """
INSERT INTO app.users (id, email, full_name, role)
SELECT gen_random_uuid(), 'wl-c' || i || '@bench.example', 'Waiting Customer ' || i, 'customer'
FROM generate_series(1, %(customers)s) i;
INSERT INTO app.customers (user_id) SELECT id FROM app.users WHERE role = 'customer';
INSERT INTO app.users (id, email, full_name, role)
SELECT gen_random_uuid(), 'wl-m' || i || '@bench.example', 'Mechanic ' || i, 'mechanic'
FROM generate_series(1, %(mechanics)s) i;
INSERT INTO app.mechanics (user_id, display_name, timezone)
SELECT id, full_name, 'America/Toronto' FROM app.users WHERE role = 'mechanic';
INSERT INTO app.users (id, email, full_name, role)
VALUES ('a0000000-0000-4000-8000-0000000000be', 'wl-admin@bench.example', 'Bench Admin', 'admin');
"""

FILL_SQL = """
INSERT INTO app.waitlist_entries (customer_id, concern, plan_code, created_at)
SELECT user_id, 'Waiting for a mechanic', 'standard',
       now() - interval '100 minutes' + (row_number() OVER (ORDER BY user_id)) * interval '0.5 seconds'
FROM app.customers
ORDER BY user_id
LIMIT %(waiting)s;
"""

# The notified customer goes to the end of the queue again (untimed), keeping 10,000 waiting.
REQUEUE_SQL = """
WITH done AS (
  UPDATE app.waitlist_entries SET status = 'cancelled', close_reason = 'admin', closed_at = now()
   WHERE status = 'notified' RETURNING customer_id)
INSERT INTO app.waitlist_entries (customer_id, concern, plan_code, created_at)
SELECT customer_id, 'Waiting for a mechanic', 'standard', clock_timestamp() FROM done;
"""

NOTIFIED_SQL = "SELECT id::text FROM app.waitlist_entries WHERE status = 'notified'"
ADMIN = "a0000000-0000-4000-8000-0000000000be"


class Relay(threading.Thread):
    """The API's live-event relay in miniature: LISTEN, then read new rows as the worker role."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seen: dict[str, float] = {}   # entry id -> perf_counter when the relay read its event
        self.ready = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SET ROLE autodoc_worker")
            row = conn.execute("SELECT coalesce(max(id), 0) FROM api.live_events_after(0, 5000)").fetchone()
            watermark = int(row[0]) if row else 0
            conn.execute("LISTEN autodoc_events_v1")
            self.ready.set()
            while not self.stop.is_set():
                for _ in conn.notifies(timeout=0.2, stop_after=1):
                    pass
                for event_id, kind, payload in conn.execute(
                        "SELECT id, kind, payload FROM api.live_events_after(%s)", [watermark]).fetchall():
                    watermark = max(watermark, int(event_id))
                    if kind == "waitlist.notified":
                        self.seen.setdefault(str(payload["entry_id"]), time.perf_counter())


def _prepare(ctx: Ctx, name: str, *, customers: int, waiting: int) -> str:
    migrate.bootstrap(ctx.cluster, name, ctx.api_password)
    migrate.migrate(ctx.cluster, name)
    with psycopg.connect(ctx.cluster.superuser_dsn(name)) as conn:
        psycopg.ClientCursor(conn).execute(SETUP_SQL, {"customers": customers, "mechanics": MECHANICS})
        conn.execute(FILL_SQL, {"waiting": waiting})
    with psycopg.connect(ctx.cluster.superuser_dsn(name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return name


def _as_admin(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SET ROLE autodoc_admin")
    conn.execute("SELECT set_config('request.jwt.claims', %s, false)", [json.dumps({"sub": ADMIN, "role": "admin"})])


def _rounds(ctx: Ctx, dbs: dict[str, str], rounds: int, relay: Relay) -> dict[str, Any]:
    """Alternating rounds over the databases (rotating who goes first); timings per database and the
    full database's commit→event latencies."""
    urls = {k: ctx.cluster.tcp_url("autodoc_api", ctx.api_password, db) for k, db in dbs.items()}
    conns = {k: psycopg.connect(url, autocommit=True) for k, url in urls.items()}
    su = {k: psycopg.connect(ctx.cluster.superuser_dsn(db), autocommit=True) for k, db in dbs.items()}
    keys = list(dbs)
    timings: dict[str, list[float]] = {k: [] for k in keys}
    sent_at: dict[str, float] = {}
    acked_at: dict[str, float] = {}
    try:
        for conn in conns.values():
            _as_admin(conn)
        mechanics = {k: [str(r[0]) for r in su[k].execute("SELECT user_id FROM app.mechanics ORDER BY user_id")]
                     for k in keys}
        for i in range(rounds + 10):  # the first 10 rounds warm the caches and are not counted
            for k in keys[i % len(keys):] + keys[:i % len(keys)]:
                mid = mechanics[k][i % MECHANICS]
                t0 = time.perf_counter()
                conns[k].execute("UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = %s", [mid])
                t1 = time.perf_counter()
                if i >= 10:
                    timings[k].append((t1 - t0) * 1000)
                conns[k].execute(WAKE_SQL)   # what the API sends after the shift toggle commits (api/wake.py)
                if k != "empty":
                    row = su[k].execute(NOTIFIED_SQL).fetchone()
                    assert row is not None, f"the {k} waitlist notified nobody"
                    if k == "full" and i >= 10:
                        sent_at[row[0]], acked_at[row[0]] = t0, t1
                    su[k].execute(REQUEUE_SQL)
                su[k].execute("UPDATE app.mechanics SET currently_on_shift = false WHERE user_id = %s", [mid])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not set(sent_at) <= set(relay.seen):
            time.sleep(0.01)
        waiting = {k: int(su[k].execute("SELECT count(*) FROM app.waitlist_entries WHERE status = 'pending'")
                          .fetchone()[0]) for k in keys}  # type: ignore[index]
    finally:
        for c in (*conns.values(), *su.values()):
            c.close()
    seen = dict(relay.seen)
    d = {k: dist(v) for k, v in timings.items()}
    return {
        "waiting": waiting,
        "shift_update_empty_ms": d["empty"],
        "shift_update_10_ms": d["ten"],
        "shift_update_10k_ms": d["full"],
        "ratio_10k_vs_empty_p50": ratio(d["full"]["p50"], d["empty"]["p50"]),
        "ratio_10k_vs_empty_p95": ratio(d["full"]["p95"], d["empty"]["p95"]),
        "ratio_10k_vs_10_p50": ratio(d["full"]["p50"], d["ten"]["p50"]),
        "ratio_10k_vs_10_p95": ratio(d["full"]["p95"], d["ten"]["p95"]),
        "event_after_commit_ms": dist([(seen[x] - acked_at[x]) * 1000 for x in acked_at if x in seen]),
        "event_after_update_sent_ms": dist([(seen[x] - sent_at[x]) * 1000 for x in sent_at if x in seen]),
        "events_seen": sum(1 for x in acked_at if x in seen),
    }


def run(ctx: Ctx) -> dict[str, Any]:
    rounds = 60 if ctx.quick else 300
    sw = Stopwatch()
    dbs = {"empty": _prepare(ctx, ctx.dbname + "_wl_empty", customers=10_000, waiting=0),
           "ten": _prepare(ctx, ctx.dbname + "_wl_ten", customers=10_000, waiting=10),
           "full": _prepare(ctx, ctx.dbname + "_wl_full", customers=10_000, waiting=10_000)}
    setup_s = round(sw.s(), 1)
    # Every database has its relay listening, as in production (the API always listens): a NOTIFY
    # then wakes a real listener, whose work is part of what a shift change costs the machine.
    relays = {k: Relay(ctx.cluster.tcp_url("autodoc_api", ctx.api_password, db)) for k, db in dbs.items()}
    for r in relays.values():
        r.start()
        r.ready.wait(10)
    relay = relays["full"]
    try:
        durable_mode = durability_mode(ctx, True)
        durable = _rounds(ctx, dbs, rounds, relay) | {"fsync/synchronous_commit": durable_mode}
        relay.seen.clear()
        cpu_mode = durability_mode(ctx, False)
        cpu_only = _rounds(ctx, dbs, rounds, relay) | {"fsync/synchronous_commit": cpu_mode}
    finally:
        durability_mode(ctx, False)
        for r in relays.values():
            r.stop.set()
            r.join(5)
    res: dict[str, Any] = {
        "rounds": rounds, "setup_seconds": setup_s, "durable": durable, "cpu_only": cpu_only,
        "event_path": "relay read (LISTEN wake-up, then api.live_events_after as autodoc_worker); "
                      "GET /api/events (SSE) is not on main yet",
    }
    res["targets"] = [
        target("waitlist: shift UPDATE, 10,000 waiting vs empty, p50 (durable)",
               durable["ratio_10k_vs_empty_p50"], 2.0, higher_is_better=False, unit="x",
               why_missed="notifying one customer (entry update, outbox email, live event, two NOTIFYs) costs "
                          "about as much as the bare UPDATE; the queue length costs nothing (10 vs 10,000 ratio)"),
        target("waitlist: shift UPDATE, 10,000 waiting vs empty, p95 (durable)", durable["ratio_10k_vs_empty_p95"],
               2.0, higher_is_better=False, unit="x"),
        target("waitlist: shift UPDATE, 10,000 vs 10 waiting, p50 (queue length costs nothing)",
               durable["ratio_10k_vs_10_p50"], 1.25, higher_is_better=False, unit="x"),
        target("waitlist: every notification reached the relay", durable["events_seen"] + cpu_only["events_seen"],
               2 * rounds, higher_is_better=True),
    ]
    return res

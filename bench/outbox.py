"""Outbox and worker: pickup latency (NOTIFY vs polling), SMTP effects/s (1 and 4 workers), kill/restart chaos.

All three use the real worker (api.worker) against the bench database over TCP as autodoc_api (it
becomes autodoc_worker), and the real local SMTP server (`python -m api.devtools.local_services smtp`, aiosmtpd,
one .eml file per message). The outbox starts empty (rows the booking bench enqueued are deleted).

1. Commit-to-pickup latency: one worker in this process with a recording `noop` effect. Rows are
   enqueued one at a time (random gaps, so the worker is idle and waiting) through
   app_private.outbox_enqueue in autocommit; latency = effect start - the moment the INSERT was sent
   (so it includes the commit). "API write": what a writing API request does — the row commits
   silently, then the wake-up NOTIFY is sent in a statement of its own (api/wake.py WAKE_SQL) ->
   the worker's LISTEN connection. "SQL writer (polling only)": the same rows with no wake-up, as
   psql or a pg_cron job writes them, so only the worker's poll (worker_poll_seconds, 1 s by default)
   finds them.
2. Effects per second: N confirmation emails with calendar invites (app_private.enqueue_session_email
   for real sessions, as a booking does) processed by 1, then 4 worker processes; rate from the rows'
   done_at span, every message counted at the SMTP server.
3. Chaos: N emails, 2 worker processes with stable ids; every 0.5-2.5 s one of them is SIGKILLed and
   restarted at once. Afterwards the database must show every row done (none pending, running or
   dead) and the SMTP server must have received every key. A kill between the SMTP server's answer and
   the write-back makes a second delivery of the same key (SMTP has no idempotency key; both copies
   carry the same Message-ID, so mail clients show one): those are counted, never hidden.
4. A backlog: one claim of 50 rows (api.outbox_claim as the worker, rolled back so the backlog stays)
   with 1,000 due rows and with 100,000 (20,000 with --quick), 30 times each. A worker
   that was down comes back to such a backlog; each claim must cost the same whatever its size, or
   draining it takes time quadratic in it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from api.config import PROJECT_ROOT, Settings
from api.devtools.cluster import free_port
from api.effects import Job
from api.wake import WAKE_SQL
from api.worker import Worker
from bench.common import Ctx, Stopwatch, dist, ratio, target

KEY_RE = re.compile(rb"^X-AutoDoctor-Key: (.+?)\r?$", re.MULTILINE)


# -- 1. latency ------------------------------------------------------------------------------------

def _latency(ctx: Ctx, settings: Settings, *, notify: bool, n: int, gap: tuple[float, float]) -> list[float]:
    mode = "notify" if notify else "poll"
    picked: dict[int, float] = {}

    def record(_: Settings, job: Job) -> dict[str, Any]:
        picked[int(job.payload["seq"])] = time.perf_counter()
        return {"ok": True}

    worker = Worker(settings, worker_id=f"bench-latency-{mode}", effects={"noop": record})
    box: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        box["stop"] = asyncio.Event()
        box["loop"] = asyncio.get_running_loop()
        started.set()
        await worker.run(box["stop"])

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    started.wait(10)
    deadline = time.monotonic() + 15
    while not worker.listening.is_set() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    sent: dict[int, float] = {}
    rng = random.Random(11 if notify else 12)
    try:
        with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
            for i in range(n):
                time.sleep(rng.uniform(*gap))
                t0 = time.perf_counter()
                conn.execute("SELECT app_private.outbox_enqueue('noop', %s, %s)",
                             (f"bench:latency:{mode}:{i}", Jsonb({"seq": i})))
                if notify:
                    conn.execute(WAKE_SQL)  # after the commit, as the API does
                sent[i] = t0
        deadline = time.monotonic() + settings.worker_poll_seconds * 3 + 5
        while len(picked) < n and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(15)
    return [(picked[i] - t) * 1000 for i, t in sent.items() if i in picked]


# -- helpers for worker and SMTP processes ----------------------------------------------------------

class Smtp:
    """`python -m api.devtools.local_services smtp` in its own process, saving one .eml per message."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.devtools.local_services", "smtp", "--port", str(self.port),
             "--maildir", str(folder)],
            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the local SMTP server did not start")

    def keys(self) -> Counter[str]:
        c: Counter[str] = Counter()
        for f in self.folder.glob("*.eml"):
            m = KEY_RE.search(f.read_bytes().split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0])
            c[m.group(1).decode().strip() if m else "?"] += 1
        return c

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _worker_env(ctx: Ctx, smtp_port: int) -> dict[str, str]:
    return dict(os.environ, AUTODOC_DATABASE_URL=ctx.api_url, AUTODOC_SMTP_HOST="127.0.0.1",
                AUTODOC_SMTP_PORT=str(smtp_port), AUTODOC_LOG_LEVEL="WARNING",
                AUTODOC_WORKER_POLL_SECONDS="0.5")


def _start_worker(env: dict[str, str], worker_id: str, log: Path, *, exit_when_idle: bool) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "api.worker", "--worker-id", worker_id]
    if exit_when_idle:
        cmd.append("--exit-when-idle")
    with open(log, "ab") as f:
        return subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, stdout=f, stderr=f)


def _kill(procs: list[subprocess.Popen[bytes]], sig: int = signal.SIGKILL) -> None:
    """Stop the worker processes this bench started (each by its own handle), waiting for each."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(sig)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _enqueue_emails(ctx: Ctx, tag: str, n: int, *, invite: bool) -> list[str]:
    """n confirmation emails for n real sessions, enqueued the way a booking does. Returns their keys."""
    with psycopg.connect(ctx.su_dsn) as conn:
        rows = conn.execute("""
            SELECT s.id, app_private.enqueue_session_email(s.id, 'confirmation', 'customer',
                                                           'bench:' || %(tag)s || ':' || s.id, %(invite)s)
            FROM (SELECT id FROM app.sessions WHERE status = 'scheduled' ORDER BY id LIMIT %(n)s) s
            CROSS JOIN LATERAL (SELECT CASE WHEN %(invite)s THEN app_private.invite_bump(s.id, 'REQUEST') END) b
            """, {"tag": tag, "n": n, "invite": invite}).fetchall()
    if len(rows) < n or any(r[1] is None for r in rows):
        raise RuntimeError(f"could only enqueue {sum(1 for r in rows if r[1] is not None)} of {n} emails")
    return [f"bench:{tag}:{r[0]}" for r in rows]


def _outbox_state(ctx: Ctx, tag: str) -> dict[str, Any]:
    with psycopg.connect(ctx.su_dsn) as conn:
        row = conn.execute("""
            SELECT count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE status = 'pending'),
                   count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'dead'),
                   count(*) FILTER (WHERE attempts > 1),
                   extract(epoch FROM max(done_at) - min(done_at))
            FROM app.outbox WHERE idempotency_key LIKE 'bench:' || %s || ':%%'""", [tag]).fetchone()
    assert row is not None
    return {"done": row[0], "pending": row[1], "running": row[2], "dead": row[3], "rerun": row[4],
            "done_span_s": float(row[5] or 0)}


# -- 4. a backlog ------------------------------------------------------------------------------------

BACKLOG_CLAIM = 50


def _backlog(ctx: Ctx, small: int, large: int, rounds: int) -> dict[str, Any]:
    """Claim time (ms, client side) with `small` due `noop` rows, then with `large` (the rest added):
    `rounds` claims each, every one rolled back so the backlog stays as it is."""
    times: dict[int, list[float]] = {}
    with psycopg.connect(ctx.su_dsn, autocommit=True) as conn:
        have = 0
        for size in (small, large):
            conn.execute("INSERT INTO app.outbox (kind, idempotency_key, payload, run_after) "
                         "SELECT 'noop', 'bench:backlog:' || g, '{}', now() - interval '1 hour' "
                         "FROM generate_series(%s::int, %s::int) g", [have + 1, size])
            have = size
            conn.execute("VACUUM ANALYZE app.outbox")
            times[size] = []
            for _ in range(rounds):
                with conn.transaction(force_rollback=True):
                    conn.execute("SET LOCAL ROLE autodoc_worker")
                    conn.execute("SELECT set_config('request.jwt.claims', '{\"role\": \"worker\"}', true)")
                    sw = Stopwatch()
                    got = conn.execute("SELECT count(*) FROM api.outbox_claim('bench-backlog', %s, 60, NULL)",
                                       [BACKLOG_CLAIM]).fetchone()
                    times[size].append(sw.ms())
                    assert got and got[0] == BACKLOG_CLAIM, got
        conn.execute("DELETE FROM app.outbox WHERE idempotency_key LIKE 'bench:backlog:%'")
    s, la = dist(times[small]), dist(times[large])
    return {"claim_rows": BACKLOG_CLAIM, "small_due": small, "large_due": large, "small_ms": s, "large_ms": la,
            "large_vs_small_p50": ratio(la.get("p50", 0), s.get("p50", 1))}


# -- 2. SMTP effects per second ----------------------------------------------------------------------

def _smtp_rate(ctx: Ctx, workers: int, n: int, tmp: Path) -> dict[str, Any]:
    tag = f"smtp{workers}"
    smtp = Smtp(tmp / tag)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        keys = _enqueue_emails(ctx, tag, n, invite=True)
        env = _worker_env(ctx, smtp.port)
        sw = Stopwatch()
        procs = [_start_worker(env, f"bench-{tag}-{k}", tmp / f"{tag}.log", exit_when_idle=True)
                 for k in range(workers)]
        deadline = time.monotonic() + 300
        for p in procs:
            p.wait(max(1.0, deadline - time.monotonic()))  # TimeoutExpired: reported as this bench's error
        wall = sw.s()
        state = _outbox_state(ctx, tag)
        time.sleep(0.2)
        received = smtp.keys()
    finally:
        _kill(procs)
        smtp.stop()
    span = state["done_span_s"]
    return {"emails": n, "workers": workers, "done": state["done"], "received": sum(received.values()),
            "all_keys_received": set(keys) <= set(received),
            "seconds": round(span, 2), "effects_per_s": round((state["done"] - 1) / span, 1) if span else 0.0,
            "wall_seconds_with_startup": round(wall, 2)}


# -- 3. chaos ---------------------------------------------------------------------------------------------

def _chaos(ctx: Ctx, n: int, tmp: Path, timeout_s: float) -> dict[str, Any]:
    tag = "chaos"
    smtp = Smtp(tmp / tag)
    rng = random.Random(99)
    kills = 0
    procs: list[subprocess.Popen[bytes]] = []
    try:
        keys = _enqueue_emails(ctx, tag, n, invite=False)
        env = _worker_env(ctx, smtp.port)
        log = tmp / "chaos.log"
        procs = [_start_worker(env, f"bench-chaos-{k}", log, exit_when_idle=False) for k in range(2)]
        sw = Stopwatch()
        state = _outbox_state(ctx, tag)
        while state["done"] < n and sw.s() < timeout_s:
            time.sleep(rng.uniform(0.5, 2.5))
            k = rng.randrange(len(procs))
            procs[k].send_signal(signal.SIGKILL)
            procs[k].wait()
            kills += 1
            procs[k] = _start_worker(env, f"bench-chaos-{k}", log, exit_when_idle=False)
            state = _outbox_state(ctx, tag)
        while state["done"] < n and sw.s() < timeout_s + 30:  # let the survivors finish what they hold
            time.sleep(0.2)
            state = _outbox_state(ctx, tag)
        elapsed = sw.s()
        _kill(procs, signal.SIGTERM)  # graceful: the survivors finish and write back what they hold
        state = _outbox_state(ctx, tag)
        time.sleep(0.2)
        received = smtp.keys()
    finally:
        _kill(procs)
        smtp.stop()
    expected = set(keys)
    delivered = set(received) & expected
    return {
        "rows": n, "workers": 2, "kills": kills, "seconds": round(elapsed, 1),
        "done": state["done"], "pending": state["pending"], "running": state["running"], "dead": state["dead"],
        "rows_rerun_after_a_kill": state["rerun"],
        "lost": n - state["done"],
        "exactly_once": state["done"] == n and state["pending"] + state["running"] + state["dead"] == 0,
        "keys_delivered": len(delivered), "keys_missing_at_smtp": len(expected - delivered),
        "deliveries": sum(received.values()),
        "duplicates": sum(c - 1 for k, c in received.items() if k in expected and c > 1),
    }


def run(ctx: Ctx) -> dict[str, Any]:
    with psycopg.connect(ctx.su_dsn) as conn:
        conn.execute("DELETE FROM app.outbox")
        conn.execute("DELETE FROM app.worker_heartbeats")
    settings = dataclasses.replace(Settings.from_env(), database_url=ctx.api_url, worker_poll_seconds=1.0)
    n_notify, n_poll = (40, 10) if ctx.quick else (200, 40)
    notify = _latency(ctx, settings, notify=True, n=n_notify, gap=(0.01, 0.06))
    poll = _latency(ctx, settings, notify=False, n=n_poll, gap=(0.2, 1.2))
    tmp = Path(tempfile.mkdtemp(prefix="autodoc-bench-"))
    try:
        n_mail = 200 if ctx.quick else 1000
        smtp = {f"{w} worker" + ("s" if w > 1 else ""): _smtp_rate(ctx, w, n_mail, tmp) for w in (1, 4)}
        n_chaos = 1000 if ctx.quick else 10000
        chaos = _chaos(ctx, n_chaos, tmp, timeout_s=60 if ctx.quick else 240)
        backlog = _backlog(ctx, 1000, 20000 if ctx.quick else 100000, 30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lat = {"notify_ms": dist(notify), "poll_ms": dist(poll), "poll_interval_s": settings.worker_poll_seconds,
           "notify_sent": n_notify, "poll_sent": n_poll}
    res: dict[str, Any] = {"latency": lat, "smtp": smtp, "chaos": chaos, "backlog": backlog}
    one, four = smtp["1 worker"], smtp["4 workers"]
    res["smtp_scaling_4_vs_1"] = ratio(four["effects_per_s"], one["effects_per_s"])
    res["targets"] = [
        target("outbox: commit-to-pickup p50 for API writes (wake-up after commit)",
               lat["notify_ms"].get("p50", float("nan")), 50,
               higher_is_better=False, unit=" ms"),
        target("outbox: every latency row picked up (API writes and SQL writers)",
               lat["notify_ms"].get("n", 0) + lat["poll_ms"].get("n", 0), n_notify + n_poll, higher_is_better=True),
        target("outbox: SMTP, every email delivered (1 and 4 workers)",
               int(one["all_keys_received"] and four["all_keys_received"]), 1, higher_is_better=True),
        target("outbox chaos: rows lost (not done)", chaos["lost"], 0, higher_is_better=False),
        target("outbox chaos: every row done exactly once (none pending/running/dead)", int(chaos["exactly_once"]),
               1, higher_is_better=True),
        target("outbox chaos: keys missing at the SMTP server", chaos["keys_missing_at_smtp"], 0,
               higher_is_better=False),
        target(f"outbox: a claim of {BACKLOG_CLAIM} with {backlog['large_due']:,} due rows vs {backlog['small_due']:,} "
               "(p50; a backlog drains in linear time)", backlog["large_vs_small_p50"], 2.0,
               higher_is_better=False, unit="x"),
    ]
    return res

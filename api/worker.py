"""The outbox worker: performs the side effects the database asked for (Stripe, email).

How it finds work: a dedicated autocommit connection LISTENs on `autodoc_outbox_v1` (a wake-up
only), and the worker also polls every `worker_poll_seconds`, because a NOTIFY sent while nobody
listened is gone. Each round it claims up to `worker_batch_size` due rows through
`api.outbox_claim` (FOR UPDATE SKIP LOCKED, so any number of workers share the queue and never get
the same row), runs each effect with the row's persisted idempotency key, and writes the outcome
back through `api.outbox_complete` / `api.outbox_fail`. What a kind means is the database's: its
retry policy (max_attempts, exponential backoff) and lane are rows of the registry
`app.outbox_kinds`, and when the claim says a row must not run (`skip_reason`, e.g. a refund of a
payment that failed) the worker completes it as skipped without calling anything.

Crash safety: a claim is a lease. A worker that dies mid-effect leaves its row `running`; the row
is claimed again when the lease expires (or at once when a worker restarts under the same
`worker_id`) and the effect runs again *with the same idempotency key*, so Stripe returns the
first answer instead of charging twice.

Shutdown: SIGTERM/SIGINT let the current effect finish and be written back, give unstarted claimed
rows back to the queue, mark the heartbeat stopped and exit.

Crash tests run a subclass with fault injection (tests/py/faulty_worker.py); nothing here knows it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from api.config import Settings
from api.effects import Effect, EffectError, Job, PermanentError, default_effects

log = logging.getLogger("autodoc.worker")

CHANNEL = "autodoc_outbox_v1"
HEARTBEAT_SECONDS = 5.0

Conn = psycopg.AsyncConnection[dict[str, Any]]


@dataclass
class WorkerStats:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0


def default_worker_id() -> str:
    return os.environ.get("AUTODOC_WORKER_ID") or f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(self, settings: Settings, *, worker_id: str | None = None,
                 effects: Mapping[str, Effect] | None = None) -> None:
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.effects = dict(effects) if effects is not None else default_effects(settings)
        self.stats = WorkerStats()
        self.listening = asyncio.Event()  # set once LISTEN is in place (tests and benchmarks wait on it)
        self._wake = asyncio.Event()
        self._conn: Conn | None = None
        self._last_heartbeat = 0.0

    # -- database ------------------------------------------------------------------------------
    async def _connect(self) -> Conn:
        conn: Conn = await psycopg.AsyncConnection.connect(
            self.settings.database_url, autocommit=True, row_factory=dict_row,
            application_name="autodoc-worker")
        # The API login role holds nothing itself (NOINHERIT): become the worker for the session.
        await conn.execute("SET ROLE autodoc_worker")
        await conn.execute("SELECT set_config('request.jwt.claims', %s, false)", [json.dumps({"role": "worker"})])
        return conn

    async def _db(self) -> Conn:
        if self._conn is None or self._conn.closed:
            self._conn = await self._connect()
        return self._conn

    async def _call(self, query: str, params: list[Any], *, stop: asyncio.Event | None = None,
                    persistent: bool = False) -> list[dict[str, Any]]:
        """Run one statement; with `persistent`, survive a lost connection by reconnecting
        (used for write-backs: an effect that happened must be recorded if at all possible)."""
        delay, deadline = 0.2, time.monotonic() + 120
        while True:
            try:
                conn = await self._db()
                cur = await conn.execute(query, params)
                return await cur.fetchall() if cur.description else []
            except psycopg.OperationalError as e:
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        await self._conn.close()
                self._conn = None
                if not persistent or time.monotonic() > deadline:
                    raise  # the row keeps its lease and is run again (same key) once reclaimed
                log.warning("database unavailable (%s); retrying in %.1fs", e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _listen(self) -> None:
        """Keep a LISTEN connection open; every notification (and every reconnect) wakes the loop."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.settings.database_url, autocommit=True, application_name="autodoc-worker-listen")
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._wake.set()  # notifications may have been missed while we were not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as e:
                self.listening.clear()
                log.warning("LISTEN connection lost (%s); polling until it is back", e)
                await asyncio.sleep(1.0)

    async def _heartbeat(self, *, stopped: bool = False, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = now
        info = {"claimed": self.stats.claimed, "done": self.stats.done, "retried": self.stats.retried,
                "dead": self.stats.dead}
        await self._call("SELECT api.worker_heartbeat(%s, %s, %s)", [self.worker_id, Jsonb(info), stopped])

    # -- one job -------------------------------------------------------------------------------
    async def claim(self, limit: int | None = None) -> list[Job]:
        rows = await self._call(
            "SELECT * FROM api.outbox_claim(%s, %s, %s)",
            [self.worker_id, limit or self.settings.worker_batch_size, self.settings.worker_lease_seconds])
        self.stats.claimed += len(rows)
        return [Job(id=r["id"], kind=r["kind"], idempotency_key=r["idempotency_key"], payload=r["payload"],
                    attempts=r["attempts"], max_attempts=r["max_attempts"],
                    session_id=str(r["session_id"]) if r["session_id"] else None,
                    lane=r["lane"] or "default", skip_reason=r["skip_reason"]) for r in rows]

    async def check_registry(self) -> list[dict[str, Any]]:
        """Read the kind registry (retry policy, lanes) and warn about kinds this worker cannot run
        (their rows would dead-letter) or effects no kind uses."""
        kinds = await self._call("SELECT * FROM api.outbox_kinds()", [])
        registered = {k["kind"] for k in kinds}
        for kind in sorted(registered - set(self.effects)):
            log.warning("outbox kind %r is registered but this worker has no effect for it", kind)
        for kind in sorted(set(self.effects) - registered):
            log.warning("effect for %r is not a registered outbox kind (no row can use it)", kind)
        return kinds

    async def process(self, job: Job, stop: asyncio.Event | None = None) -> str:
        """Run one claimed job and write the outcome back. Returns done | pending | dead."""
        if job.skip_reason is not None:
            # Decided in the database when the row was claimed; the kind's apply function records it.
            await self._call("SELECT api.outbox_complete(%s, %s, %s)",
                             [job.id, self.worker_id, Jsonb({"status": "skipped", "reason": job.skip_reason})],
                             stop=stop, persistent=True)
            self.stats.done += 1
            log.info("outbox row %s (%s) skipped: %s", job.id, job.kind, job.skip_reason)
            return "done"
        effect = self.effects.get(job.kind)
        try:
            if effect is None:
                raise PermanentError(f"no effect registered for outbox kind {job.kind!r}")
            result = await asyncio.to_thread(effect, self.settings, job)
        except EffectError as e:
            return await self._fail(job, str(e), e.retryable, stop)
        except Exception as e:  # a bug or an unexpected library error: retry, then dead letter
            log.exception("outbox row %s (%s) raised", job.id, job.kind)
            return await self._fail(job, f"{type(e).__name__}: {e}", True, stop)
        await self._call("SELECT api.outbox_complete(%s, %s, %s)", [job.id, self.worker_id, Jsonb(result)],
                         stop=stop, persistent=True)
        self.stats.done += 1
        log.info("outbox row %s (%s) done", job.id, job.kind)
        return "done"

    async def _fail(self, job: Job, error: str, retryable: bool, stop: asyncio.Event | None) -> str:
        rows = await self._call(
            "SELECT api.outbox_fail(%s, %s, %s, %s) AS status",  # backoff: the kind's registry policy
            [job.id, self.worker_id, error, retryable],
            stop=stop, persistent=True)
        status = rows[0]["status"] if rows else None
        if status == "dead":
            self.stats.dead += 1
            log.error("outbox row %s (%s) is a dead letter after %s attempt(s): %s", job.id, job.kind,
                      job.attempts, error)
        else:
            self.stats.retried += 1
            log.warning("outbox row %s (%s) attempt %s failed, will retry: %s", job.id, job.kind, job.attempts, error)
        return status or "lost_lease"

    # -- the loop ------------------------------------------------------------------------------
    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waiters, timeout=self.settings.worker_poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        self._wake.clear()

    async def run(self, stop: asyncio.Event, *, exit_when_idle: bool = False,
                  max_jobs: int | None = None) -> WorkerStats:
        """Work until `stop` is set (or, with exit_when_idle, until nothing is due)."""
        taken_back = (await self._call(
            "SELECT api.worker_started(%s, %s, %s, %s) AS n",
            [self.worker_id, socket.gethostname(), os.getpid(), Jsonb({"version": 1})]))[0]["n"]
        if taken_back:
            log.warning("took back %s row(s) a previous process of %s left running", taken_back, self.worker_id)
        await self.check_registry()
        log.info("worker %s started (poll %.2fs, batch %s, lease %ss)", self.worker_id,
                 self.settings.worker_poll_seconds, self.settings.worker_batch_size, self.settings.worker_lease_seconds)
        listener = asyncio.create_task(self._listen())
        processed = 0
        try:
            while not stop.is_set():
                try:
                    jobs = await self.claim()
                except psycopg.OperationalError as e:
                    log.warning("claim failed (%s); retrying after the poll interval", e)
                    jobs = []
                # Rows of a batch wait their turn under one lease; give back the rest before the
                # lease could lapse (another worker would then run them too).
                lease_deadline = time.monotonic() + 0.8 * self.settings.worker_lease_seconds
                for i, job in enumerate(jobs):
                    if stop.is_set() or time.monotonic() > lease_deadline:
                        rest = [j.id for j in jobs[i:]]
                        n = (await self._call("SELECT api.outbox_release(%s, %s) AS n",
                                              [self.worker_id, rest], persistent=True))[0]["n"]
                        self.stats.released += n
                        break
                    await self.process(job, stop)
                    processed += 1
                with contextlib.suppress(psycopg.OperationalError):
                    await self._heartbeat()
                if max_jobs is not None and processed >= max_jobs:
                    break
                if not jobs:
                    if exit_when_idle:
                        break
                    await self._wait_for_work(stop)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
            with contextlib.suppress(Exception):
                await self._heartbeat(stopped=True, force=True)
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()
            self._conn = None
            log.info("worker %s stopped: %s", self.worker_id, self.stats)
        return self.stats


async def run_worker(settings: Settings, *, worker_id: str | None = None, stop: asyncio.Event | None = None,
                     effects: Mapping[str, Effect] | None = None, exit_when_idle: bool = False,
                     install_signal_handlers: bool = True, worker_class: type[Worker] = Worker) -> WorkerStats:
    """Run one worker until SIGTERM/SIGINT (or `stop` is set). Several may run at once."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if install_signal_handlers:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
    try:
        worker = worker_class(settings, worker_id=worker_id, effects=effects)
        return await worker.run(stop, exit_when_idle=exit_when_idle)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def main(settings: Settings | None = None, argv: list[str] | None = None, worker_class: type[Worker] = Worker) -> int:
    """`autodoc worker` / `python -m api.worker [--worker-id ID] [--exit-when-idle]`."""
    parser = argparse.ArgumentParser(prog="autodoc worker", description="Run the outbox worker.")
    parser.add_argument("--worker-id", default=None,
                        help="stable id (a restart under the same id takes back its leases)")
    parser.add_argument("--exit-when-idle", action="store_true", help="stop when nothing is due")
    args = parser.parse_args(argv or [])
    logging.basicConfig(level=os.environ.get("AUTODOC_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run_worker(settings or Settings.from_env(), worker_id=args.worker_id,
                           exit_when_idle=args.exit_when_idle, worker_class=worker_class))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(argv=sys.argv[1:]))

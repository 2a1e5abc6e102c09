"""The outbox worker: performs the side effects the database asked for (Stripe, email).

How it finds work: a dedicated autocommit connection LISTENs on `autodoc_outbox_v1` (a wake-up
only, sent by the API right after a writing request committed: api/db.py), and the worker also polls
every `worker_poll_seconds`, because a NOTIFY sent while nobody listened is gone and SQL-only writers
(pg_cron jobs, psql) send none. A completion that writes back (a decline cancels a booking) wakes
this worker's lanes in-process and the other processes with a NOTIFY after its commit. It claims due
rows through `api.outbox_claim` (FOR UPDATE SKIP LOCKED, so any
number of workers share the queue and never get the same row), runs each effect with the row's
persisted idempotency key, and writes the outcome back through `api.outbox_complete_many` /
`api.outbox_fail`. Completions are group-committed: one finishing while the previous write-back is
in flight waits for it, and all that waited go back together in one statement and one commit (never
later than one write-back after the effect; a lone completion goes at once).
What a kind means is the database's: its retry policy (max_attempts,
exponential backoff) and lane are rows of the registry `app.outbox_kinds`, and when the claim says
a row must not run (`skip_reason`, e.g. a refund of a payment that failed) the worker completes it
as skipped without calling anything.

Lanes: each lane of the registry (`stripe`, `email`, `default`; app.outbox_lanes) runs in a loop
of its own, claims only its own kinds, and runs at most the lane's `concurrency` effects at once on
threads of its own. So a stalled SMTP server holds up emails only, never a charge, and a stalled
Stripe never holds up an email. A lane whose effects keep failing pauses its claims (doubling from
0.25 s up to 15 s; reset by a success), on top of each row's own backoff. The `database` lane is
different: its kinds (a booking's `session.booked`, which fans out into its charge and emails) have
no effect outside the database, so its loop claims nothing and calls `api.outbox_apply_due`, which
applies due rows and marks them done in one transaction; when it applied any, the lanes their
effects went to are woken (in-process, and the other processes by a NOTIFY after that commit).

Liveness: the heartbeat runs on its own task and connection every third of
`worker_heartbeat_seconds` and says "alive for one period"; a worker that dies (SIGKILL included)
stops counting as alive in /health within one period. The worker's id is stable (AUTODOC_WORKER_ID,
or `<hostname>:worker-<AUTODOC_WORKER_SLOT, default 1>`), so a restarted worker takes back the
rows its previous process left running at once instead of waiting out their leases.

Crash safety: a claim is a lease. A worker that dies mid-effect leaves its row `running`; the row
is claimed again when the lease expires (or at once when a worker restarts under the same
`worker_id`) and the effect runs again *with the same idempotency key*, so Stripe returns the
first answer instead of charging twice.

Shutdown: SIGTERM/SIGINT stop the claims, let the effects in flight finish and be written back
(a lane claims only as many rows as it can start, so none waits claimed), mark the heartbeat
stopped and exit.

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from api.config import Settings
from api.effects import Effect, EffectError, Job, PermanentError, default_effects
from api.wake import WAKE_SQL

log = logging.getLogger("autodoc.worker")

CHANNEL = "autodoc_outbox_v1"
DATABASE_LANE = "database"  # the registry's lane of kinds applied inside the database (api.outbox_apply_due)
LANE_PAUSE_FIRST, LANE_PAUSE_MAX = 0.25, 15.0  # a failing lane's claim pause: doubling between these

Conn = psycopg.AsyncConnection[dict[str, Any]]


@dataclass
class WorkerStats:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    released: int = 0


@dataclass
class Lane:
    """One lane's loop state: its concurrency, effects in flight, wake-up and failure pause."""

    name: str
    concurrency: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    inflight: set[asyncio.Task[str]] = field(default_factory=set)
    failures: int = 0  # consecutive failed effects
    paused_until: float = 0.0
    idle_at: int | None = None  # the completion count when this lane last found nothing to do
    executor: ThreadPoolExecutor | None = None


def default_worker_id() -> str:
    """Stable across restarts of the same slot, so a restart takes back its own leases at once."""
    return os.environ.get("AUTODOC_WORKER_ID") or \
        f"{socket.gethostname()}:worker-{os.environ.get('AUTODOC_WORKER_SLOT') or '1'}"


class WorkerIdInUse(RuntimeError):
    """Another live process of this host runs under the same worker id."""


def _process_alive(pid: int) -> bool:
    """Signal 0 only asks whether the process exists: gone is False; ours, or another user's
    (PermissionError), is alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Worker:
    def __init__(self, settings: Settings, *, worker_id: str | None = None,
                 effects: Mapping[str, Effect] | None = None) -> None:
        self.settings = settings
        self.worker_id = worker_id or default_worker_id()
        self.effects = dict(effects) if effects is not None else default_effects(settings)
        self.stats = WorkerStats()
        self.listening = asyncio.Event()  # set once LISTEN is in place (tests and benchmarks wait on it)
        self.lanes: dict[str, Lane] = {}
        self._conn: Conn | None = None
        self._completed = 0  # effects finished (any outcome): tells exit_when_idle that new rows may exist
        self._exit_when_idle = False
        self.applying_kinds: set[str] = set()  # kinds whose completion writes back (registry `applies`)
        # completions waiting for the next write-back (group commit: _complete / _flush_completions)
        self._completions: list[tuple[Job, dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    # -- database ------------------------------------------------------------------------------
    async def _connect(self, name: str = "autodoc-worker") -> Conn:
        conn: Conn = await psycopg.AsyncConnection.connect(
            self.settings.database_url, autocommit=True, row_factory=dict_row, application_name=name,
            connect_timeout=5)
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
                delay = min(delay * 2, 1.0)

    async def _listen(self) -> None:
        """Keep a LISTEN connection open; every notification (and every reconnect) wakes every lane."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.settings.database_url, autocommit=True, application_name="autodoc-worker-listen",
                    connect_timeout=5)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._wake_all()  # notifications may have been missed while we were not listening
                    async for _ in conn.notifies():
                        self._wake_all()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as e:
                self.listening.clear()
                log.warning("LISTEN connection lost (%s); polling until it is back", e)
                await asyncio.sleep(0.5)

    def _wake_all(self) -> None:
        for lane in self.lanes.values():
            lane.wake.set()

    def _info(self) -> dict[str, Any]:
        return {"claimed": self.stats.claimed, "done": self.stats.done, "retried": self.stats.retried,
                "dead": self.stats.dead, "pid": os.getpid(),
                "lanes": {n: {"concurrency": lane.concurrency, "inflight": len(lane.inflight)}
                          for n, lane in self.lanes.items()}}

    async def _heartbeats(self) -> None:
        """Beat every third of the period on a connection of its own, whatever the lanes are doing
        (a lane stuck in a 10 s SMTP timeout does not make the worker look dead)."""
        period = self.settings.worker_heartbeat_seconds
        conn: Conn | None = None
        while True:
            try:
                if conn is None or conn.closed:
                    conn = await self._connect("autodoc-worker-heartbeat")
                await conn.execute("SELECT api.worker_heartbeat(%s, %s, false, %s)",
                                   [self.worker_id, Jsonb(self._info()), period])
            except asyncio.CancelledError:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                raise
            except psycopg.Error as e:
                log.warning("heartbeat failed (%s)", e)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
            await asyncio.sleep(period / 3)

    async def _check_id_free(self) -> None:
        """Two live processes under one id would take each other's leases back: refuse to start
        when another process of this host still holds the id and is alive."""
        rows = await self._call("SELECT hostname, pid, stopped_at IS NULL AND alive_until > now() AS alive "
                                "FROM app.worker_heartbeats WHERE worker_id = %s", [self.worker_id])
        if not rows or not rows[0]["alive"] or rows[0]["hostname"] != socket.gethostname():
            return
        pid = rows[0]["pid"]
        if pid and pid != os.getpid() and _process_alive(pid):  # one gone (killed) leaves its leases to us
            raise WorkerIdInUse(f"worker id {self.worker_id!r} is in use by process {pid} on this host: give this "
                                "worker another --worker-id, AUTODOC_WORKER_ID or AUTODOC_WORKER_SLOT")

    # -- one job -------------------------------------------------------------------------------
    async def claim(self, limit: int | None = None, lanes: list[str] | None = None) -> list[Job]:
        rows = await self._call(
            "SELECT * FROM api.outbox_claim(%s, %s, %s, %s)",
            [self.worker_id, limit or self.settings.worker_batch_size, self.settings.worker_lease_seconds, lanes])
        self.stats.claimed += len(rows)
        return [Job(id=r["id"], kind=r["kind"], idempotency_key=r["idempotency_key"], payload=r["payload"],
                    attempts=r["attempts"], max_attempts=r["max_attempts"],
                    session_id=str(r["session_id"]) if r["session_id"] else None,
                    lane=r["lane"] or "default", skip_reason=r["skip_reason"]) for r in rows]

    async def check_registry(self) -> list[dict[str, Any]]:
        """Read the kind registry (retry policy, lanes and their concurrency) and warn about kinds
        this worker cannot run (their rows would dead-letter) or effects no kind uses."""
        kinds = await self._call("SELECT * FROM api.outbox_kinds()", [])
        registered = {k["kind"] for k in kinds}
        self.applying_kinds = {k["kind"] for k in kinds if k.get("applies")}
        in_database = {k["kind"] for k in kinds if k["lane"] == DATABASE_LANE}  # need no effect here
        for kind in sorted(registered - in_database - set(self.effects)):
            log.warning("outbox kind %r is registered but this worker has no effect for it", kind)
        for kind in sorted(set(self.effects) - registered):
            log.warning("effect for %r is not a registered outbox kind (no row can use it)", kind)
        return kinds

    async def process(self, job: Job, stop: asyncio.Event | None = None) -> str:
        """Run one claimed job (on its lane's threads) and write the outcome back. Returns done | pending | dead."""
        if job.skip_reason is not None:
            # Decided in the database when the row was claimed; the kind's apply function records it.
            await self._complete(job, {"status": "skipped", "reason": job.skip_reason})
            await self._woken_by(job)
            self.stats.done += 1
            log.info("outbox row %s (%s) skipped: %s", job.id, job.kind, job.skip_reason)
            return "done"
        effect = self.effects.get(job.kind)
        try:
            if effect is None:
                raise PermanentError(f"no effect registered for outbox kind {job.kind!r}")
            lane = self.lanes.get(job.lane)
            executor = lane.executor if lane is not None else None  # None: the loop's default threads
            result = await asyncio.get_running_loop().run_in_executor(executor, effect, self.settings, job)
        except EffectError as e:
            return await self._fail(job, str(e), e.retryable, stop)
        except Exception as e:  # a bug or an unexpected library error: retry, then dead letter
            log.exception("outbox row %s (%s) raised", job.id, job.kind)
            return await self._fail(job, f"{type(e).__name__}: {e}", True, stop)
        await self._complete(job, result)
        await self._woken_by(job)
        self.stats.done += 1
        log.info("outbox row %s (%s) done", job.id, job.kind)
        return "done"

    async def _complete(self, job: Job, result: dict[str, Any]) -> None:
        """Write a finished effect's outcome back; returns once it is committed (raises if it could not
        be). Group commit: the completion joins those waiting, and one flusher writes all that are
        waiting in one api.outbox_complete_many call whenever the previous one has returned, so no
        completion waits longer than one write-back (the connection is shared and serial anyway)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._completions.append((job, result, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_completions())
        await done

    async def _flush_completions(self) -> None:
        while self._completions:
            batch, self._completions = self._completions, []
            try:
                await self._complete_many(batch)
            except Exception as e:
                if len(batch) == 1:
                    if not batch[0][2].done():
                        batch[0][2].set_exception(e)
                    continue
                # one row's apply raised (or the database went away for good): each row on its own,
                # so the others are still recorded and only the failing one stays leased
                for one in batch:
                    try:
                        await self._complete_many([one])
                    except Exception as e1:
                        if not one[2].done():
                            one[2].set_exception(e1)

    async def _complete_many(self, batch: list[tuple[Job, dict[str, Any], asyncio.Future[None]]]) -> None:
        await self._call("SELECT api.outbox_complete_many(%s, %s, %s)",
                         [self.worker_id, [job.id for job, _, _ in batch], [Jsonb(r) for _, r, _ in batch]],
                         persistent=True)
        for _, _, done in batch:
            if not done.done():
                done.set_result(None)

    async def _woken_by(self, job: Job) -> None:
        """A completion that wrote back (a decline cancelled a booking and emitted its live event)
        wakes this worker's lanes at once and, after that commit and in a statement of its own, the
        other workers and the live-event relays (NOTIFY inside the completing transaction would
        serialise commits: api/wake.py)."""
        if job.kind in self.applying_kinds:
            await self._wake_after_write(f"outbox row {job.id}")

    async def _wake_after_write(self, what: str) -> None:
        self._wake_all()
        try:
            await self._call(WAKE_SQL, [])
        except psycopg.Error as e:  # best effort: every listener also polls
            log.info("wake-up after %s not sent (%s)", what, e)

    async def apply_due(self, limit: int) -> int:
        """The database lane's step: apply due rows of its kinds and mark them done, in one
        transaction (api.outbox_apply_due). Returns how many were applied."""
        rows = await self._call("SELECT api.outbox_apply_due(%s, %s) AS n", [self.worker_id, limit])
        return int(rows[0]["n"]) if rows else 0

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

    # -- the lanes -----------------------------------------------------------------------------
    async def _run_job(self, lane: Lane, job: Job, stop: asyncio.Event) -> str:
        try:
            status = await self.process(job, stop)
        except Exception:
            log.exception("outbox row %s (%s): write-back failed; the row is run again when reclaimed", job.id,
                          job.kind)
            status = "lost"
        if status == "done":
            lane.failures, lane.paused_until = 0, 0.0
        elif not self._exit_when_idle and time.monotonic() >= lane.paused_until:
            # One step per failed round, not per effect: the lane's other effects in flight fail
            # together when the dependency is down. (Not when draining the queue once: then the
            # rows' own backoff decides, and a row backing off is not due.)
            lane.failures += 1
            pause = min(LANE_PAUSE_FIRST * 2 ** (lane.failures - 1), LANE_PAUSE_MAX)
            lane.paused_until = time.monotonic() + pause
            if lane.failures in (1, 5) or pause == LANE_PAUSE_MAX:
                log.warning("lane %s: %s failed round(s) in a row; pausing its claims %.2fs", lane.name,
                            lane.failures, pause)
        self._completed += 1
        if self._exit_when_idle:
            self._wake_all()  # the outcome may have enqueued rows in other lanes (their NOTIFY wakes them too)
        else:
            lane.wake.set()  # a slot is free
        return status

    async def _run_database_lane(self, lane: Lane, stop: asyncio.Event) -> None:
        """The database lane's loop: apply due rows (no lease, no thread, no write-back) until none
        is due, then wait for a wake-up or the poll interval."""
        while not stop.is_set():
            lane.wake.clear()
            completed_before = self._completed
            try:
                applied = await self.apply_due(self.settings.worker_batch_size)
            except psycopg.Error as e:  # a lost connection or an unexpected error: the rows stay pending
                log.warning("lane %s: apply failed (%s); retrying after the poll interval", lane.name, e)
                applied = 0
            if applied:
                self.stats.claimed += applied
                self.stats.done += applied
                self._completed += applied
                lane.idle_at = None
                log.info("lane %s: applied %s row(s)", lane.name, applied)
                await self._wake_after_write(f"{applied} applied row(s)")
                continue  # maybe more due
            lane.idle_at = completed_before
            await self._wait(lane, stop, self.settings.worker_poll_seconds)

    async def _run_lane(self, lane: Lane, stop: asyncio.Event) -> None:
        if lane.name == DATABASE_LANE:
            await self._run_database_lane(lane, stop)
            return
        lane.executor = ThreadPoolExecutor(max_workers=lane.concurrency, thread_name_prefix=f"lane-{lane.name}")
        try:
            while not stop.is_set():
                lane.wake.clear()
                free = min(lane.concurrency - len(lane.inflight), self.settings.worker_batch_size)
                wait = self.settings.worker_poll_seconds
                if free > 0 and time.monotonic() >= lane.paused_until:
                    completed_before = self._completed
                    try:
                        jobs = await self.claim(free, [lane.name])
                    except psycopg.OperationalError as e:
                        log.warning("lane %s: claim failed (%s); retrying after the poll interval", lane.name, e)
                        jobs = []
                    for job in jobs:
                        task = asyncio.create_task(self._run_job(lane, job, stop))
                        lane.inflight.add(task)
                        task.add_done_callback(lane.inflight.discard)
                    lane.idle_at = completed_before if not jobs and not lane.inflight else None
                    if len(jobs) == free:
                        continue  # maybe more due: claim again as soon as a slot frees up
                elif time.monotonic() < lane.paused_until:
                    wait = min(wait, lane.paused_until - time.monotonic())
                await self._wait(lane, stop, wait)
            if lane.inflight:  # graceful stop: the effects in flight finish and are written back
                await asyncio.gather(*lane.inflight, return_exceptions=True)
        finally:
            lane.executor.shutdown(wait=False, cancel_futures=True)

    async def _wait(self, lane: Lane, stop: asyncio.Event, seconds: float) -> None:
        waiters = {asyncio.ensure_future(lane.wake.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waiters, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    def _all_idle(self) -> bool:
        """Every lane found nothing due and has nothing in flight, and no effect finished since
        (a finished effect may have enqueued rows in a lane that looked before)."""
        return all(lane.idle_at is not None and lane.idle_at == self._completed and not lane.inflight
                   for lane in self.lanes.values())

    # -- the loop ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, *, exit_when_idle: bool = False) -> WorkerStats:
        """Work until `stop` is set (or, with exit_when_idle, until nothing is due)."""
        self._exit_when_idle = exit_when_idle
        await self._check_id_free()
        taken_back = (await self._call(
            "SELECT api.worker_started(%s, %s, %s, %s, %s) AS n",
            [self.worker_id, socket.gethostname(), os.getpid(), Jsonb({"version": 2}),
             self.settings.worker_heartbeat_seconds]))[0]["n"]
        if taken_back:
            log.warning("took back %s row(s) a previous process of %s left running", taken_back, self.worker_id)
        kinds = await self.check_registry()
        for k in kinds:
            self.lanes.setdefault(k["lane"] or "default", Lane(k["lane"] or "default", max(int(k["concurrency"]), 1)))
        log.info("worker %s started (poll %.2fs, lease %ss, lanes %s)", self.worker_id,
                 self.settings.worker_poll_seconds, self.settings.worker_lease_seconds,
                 ", ".join(f"{n} x{lane.concurrency}" for n, lane in sorted(self.lanes.items())))
        lanes_stop = asyncio.Event()
        tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._heartbeats())]
        lane_tasks = [asyncio.create_task(self._run_lane(lane, lanes_stop)) for lane in self.lanes.values()]
        try:
            while not stop.is_set():
                if exit_when_idle and self._all_idle():
                    break
                for t in lane_tasks:  # a lane loop never ends by itself before lanes_stop: a bug
                    if t.done() and (error := t.exception()) is not None:
                        raise error
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.02 if exit_when_idle else 0.5)
        finally:
            lanes_stop.set()
            await asyncio.gather(*lane_tasks, return_exceptions=True)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            with contextlib.suppress(Exception):
                await self._call("SELECT api.worker_heartbeat(%s, %s, true, %s)",
                                 [self.worker_id, Jsonb(self._info()), self.settings.worker_heartbeat_seconds])
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
                        help="stable id (default: AUTODOC_WORKER_ID, or <hostname>:worker-<AUTODOC_WORKER_SLOT or 1>);"
                             " a restart under the same id takes back its leases at once")
    parser.add_argument("--exit-when-idle", action="store_true", help="stop when nothing is due")
    args = parser.parse_args(argv or [])
    logging.basicConfig(level=os.environ.get("AUTODOC_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run_worker(settings or Settings.from_env(), worker_id=args.worker_id,
                               exit_when_idle=args.exit_when_idle, worker_class=worker_class))
    except WorkerIdInUse as e:
        log.error("%s", e)
        return 2
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(argv=sys.argv[1:]))

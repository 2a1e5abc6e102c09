"""Live events to the browser: one relay per API process, fanned out to Server-Sent-Events clients.

The database writes an event row (app.live_events: id, kind, audience, payload) in the same
transaction as the change and NOTIFYs `autodoc_events_v1` (a wake-up only). Each API process holds
ONE listening connection — autocommit, outside the request pool, as the worker role — and on every
wake-up (and on a short poll, because a NOTIFY is lost while nobody listens) reads the rows past its
watermark with `api.live_events_after` and hands each to the connected clients named in its
`audience`. Clients never filter: a client only ever receives events the database addressed to it.

Event ids come from a sequence, so a transaction that took a lower id can commit after one with a
higher id. The relay therefore remembers the ids it skipped ("gaps") and keeps reading from the
oldest gap until the row shows up or the gap is older than `gap_timeout` (a rolled-back
transaction's id never shows up); ids it already delivered are not delivered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

log = logging.getLogger("autodoc.events")

CHANNEL = "autodoc_events_v1"
MAX_GAP = 10_000   # at most this many skipped ids are waited for at once


@dataclass(frozen=True)
class LiveEvent:
    id: int
    kind: str
    audience: tuple[str, ...]
    session_id: str | None
    payload: dict[str, Any]
    created_at: str

    def public(self) -> dict[str, Any]:
        """What a client receives (the audience stays server-side)."""
        return {"id": self.id, "kind": self.kind, "session_id": self.session_id, "created_at": self.created_at,
                "payload": self.payload}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LiveEvent:
        return cls(id=int(row["id"]), kind=str(row["kind"]),
                   audience=tuple(str(a) for a in row.get("audience") or ()),
                   session_id=str(row["session_id"]) if row.get("session_id") else None,
                   payload=dict(row.get("payload") or {}),
                   created_at=row["created_at"].isoformat() if row.get("created_at") else "")


@dataclass(eq=False)
class Subscriber:
    """One connected SSE client. A client that cannot keep up (queue full) is disconnected; it
    reconnects with Last-Event-ID and is replayed from the table."""

    user_id: str
    queue: asyncio.Queue[LiveEvent] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflowed: bool = False


class EventHub:
    """The process's one relay: a LISTEN connection, a watermark, the subscribers by user id."""

    def __init__(self, dsn: str, *, poll_seconds: float = 1.0, gap_timeout: float = 10.0, batch: int = 1000) -> None:
        self.dsn = dsn
        self.poll_seconds = poll_seconds
        self.gap_timeout = gap_timeout
        self.batch = batch
        self.subscribers: dict[str, set[Subscriber]] = {}
        self.high = -1                       # highest id delivered (-1: not started)
        self.gaps: dict[int, float] = {}     # ids skipped and not seen yet -> when first skipped
        self.delivered = 0
        self.ready = asyncio.Event()         # set once the watermark is known
        self._task: asyncio.Task[None] | None = None

    # -- subscribers -------------------------------------------------------------------------------

    def subscribe(self, user_id: str) -> Subscriber:
        sub = Subscriber(user_id=str(uuid.UUID(user_id)))
        self.subscribers.setdefault(sub.user_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self.subscribers.get(sub.user_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.subscribers[sub.user_id]

    @property
    def client_count(self) -> int:
        return sum(len(s) for s in self.subscribers.values())

    def dispatch(self, event: LiveEvent) -> None:
        for user_id in event.audience:
            for sub in self.subscribers.get(user_id, ()):
                try:
                    sub.queue.put_nowait(event)
                except asyncio.QueueFull:
                    sub.overflowed = True
        self.delivered += 1

    # -- the relay ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="autodoc-event-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as e:   # the database went away: reconnect, the watermark carries on
                log.warning("event relay: %s; reconnecting in 1 s", e)
                await asyncio.sleep(1.0)

    async def _listen(self) -> None:
        conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, row_factory=dict_row,
                                                     application_name="autodoc-event-relay")
        async with conn:
            await conn.execute("SET ROLE autodoc_worker")
            await conn.execute(f"LISTEN {CHANNEL}")
            if self.high < 0:
                row = await (await conn.execute("SELECT newest_id FROM api.live_events_head()")).fetchone()
                self.high = int(row["newest_id"] or 0) if row else 0
            self.ready.set()
            while True:
                await self._read(conn)
                # wait for a wake-up or the poll interval, then read again (several NOTIFYs: one read)
                async for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                    break

    async def _read(self, conn: psycopg.AsyncConnection[dict[str, Any]]) -> None:
        while True:
            now = time.monotonic()
            for gap, since in list(self.gaps.items()):
                if now - since > self.gap_timeout:
                    del self.gaps[gap]       # rolled back (or far too slow): stop waiting for it
            low = min(min(self.gaps, default=self.high + 1) - 1, self.high)
            rows = await (await conn.execute("SELECT * FROM api.live_events_after(%s, %s)",
                                             [low, self.batch])).fetchall()
            for row in rows:
                event = LiveEvent.from_row(row)
                if event.id <= self.high and event.id not in self.gaps:
                    continue                 # delivered already (re-read while waiting for a gap)
                self.gaps.pop(event.id, None)
                if event.id > self.high:
                    if event.id - self.high <= MAX_GAP:   # a bigger jump: ids burnt by rollbacks, not in flight
                        for missing in range(self.high + 1, event.id):
                            self.gaps[missing] = now
                    self.high = event.id
                self.dispatch(event)
            if len(rows) < self.batch:
                return

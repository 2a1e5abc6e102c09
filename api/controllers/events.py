"""Server-Sent Events: `GET /api/events`, the caller's live events (see api/events.py, docs/events.md).

Each message is `id: <event id>`, `event: <kind>`, `data: {"id", "kind", "session_id", "created_at",
"payload"}`. A reconnecting client sends `Last-Event-ID` (browsers do it by themselves): the events
addressed to it since then are replayed from the table (row-level security decides, as the caller)
when that id is still inside the retention window; otherwise the stream starts with a
`replay.unavailable` event and the client should reload its state over REST. A comment line every
15 seconds keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from litestar import Request, get
from litestar.params import Parameter
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from api.db import begin_request, call_rows
from api.errors import api_error, field_error
from api.events import EventHub, LiveEvent

KEEPALIVE_SECONDS = 15.0
REPLAY_BATCH = 5000


def hub_of(request: Request[Any, Any, Any]) -> EventHub:
    hub: EventHub = request.app.state.events
    hub.start()   # the process's one relay starts with its first client
    return hub


def _message(event: LiveEvent) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=json.dumps(event.public(), separators=(",", ":"), default=str),
                                  event=event.kind, id=event.id)


def _last_event_id(header: str | None, query: int | None) -> int | None:
    value = header if header not in (None, "") else query
    if value is None:
        return None
    try:
        after = int(value)
    except (TypeError, ValueError):
        raise field_error("Last-Event-ID", "header", "Not an event id (an integer)") from None
    if not 0 <= after < 2**63:
        raise field_error("Last-Event-ID", "header", "Out of range")
    return after


async def _replay(request: Request[Any, Any, Any], claims: dict[str, Any], after: int,
                  hub: EventHub) -> tuple[list[LiveEvent], dict[str, Any] | None]:
    """The caller's events after `after` (RLS), or why they cannot be replayed."""
    pool = request.app.state.pool
    events: list[LiveEvent] = []
    async with pool.connection() as conn, conn.transaction():
        await begin_request(conn, claims)   # the caller, as the database decides it (RLS replays)
        head = (await call_rows(conn, "live_events_head"))[0]
        oldest, newest = head["oldest_id"], head["newest_id"]
        # Events between `after` and the oldest kept one were purged: whether any was for this caller
        # cannot be known any more.
        lost = (after + 1 < oldest) if oldest is not None else (after < max(hub.high, 0))
        if lost:
            return [], {"last_event_id": after, "oldest_available_id": oldest, "newest_id": newest,
                        "reason": "outside_replay_window"}
        cursor = after
        while True:
            rows = await call_rows(conn, "my_live_events", {"p_after_id": cursor, "p_limit": REPLAY_BATCH})
            events += [LiveEvent.from_row(r) for r in rows]
            if len(rows) < REPLAY_BATCH:
                return events, None
            cursor = int(rows[-1]["id"])


@get("/api/events", tags=["events"], media_type="text/event-stream",
     summary="My live events (Server-Sent Events); Last-Event-ID replays",
     description="text/event-stream of the caller's live events (offers, session status, waitlist). "
                 "Reconnect with the Last-Event-ID header (or ?lastEventId=) to replay what was missed.")
async def events_stream(
    request: Request[Any, Any, Any],
    last_event_id: Annotated[str | None, Parameter(header="Last-Event-ID", required=False)] = None,
    last_event_id_query: Annotated[int | None, Parameter(query="lastEventId", required=False, ge=0)] = None,
) -> ServerSentEvent:
    claims: dict[str, Any] = request.scope.get("user") or {}
    user_id = claims.get("sub")
    if not user_id:
        raise api_error(401, "unauthorized", "A bearer token is required")
    after = _last_event_id(last_event_id, last_event_id_query)
    hub = hub_of(request)
    try:
        await asyncio.wait_for(hub.ready.wait(), timeout=10)
    except TimeoutError:
        raise api_error(503, "retry", "Live events are not available right now; please retry") from None
    sub = hub.subscribe(user_id)   # before the replay: nothing committed in between is missed
    try:
        replayed, unavailable = (await _replay(request, claims, after, hub)) if after is not None else ([], None)
    except BaseException:
        hub.unsubscribe(sub)
        raise

    async def stream() -> AsyncGenerator[ServerSentEventMessage, None]:
        try:
            yield ServerSentEventMessage(data=None, comment="autodoc live events", retry=3000)
            if unavailable is not None:
                yield ServerSentEventMessage(data=json.dumps(unavailable), event="replay.unavailable")
            seen = {e.id for e in replayed}
            for event in replayed:
                yield _message(event)
            while not sub.overflowed:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ServerSentEventMessage(data=None, comment="keepalive")
                    continue
                if event.id in seen:
                    continue
                yield _message(event)
            # too slow a reader: end the stream; the client reconnects with Last-Event-ID and is replayed
        finally:
            hub.unsubscribe(sub)

    return ServerSentEvent(stream(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


ROUTE_HANDLERS: list[Any] = [events_stream]

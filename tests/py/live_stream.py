"""A real API server (uvicorn in a thread) and Server-Sent Events clients, for the tests that watch
`GET /api/events`: matching's offers and statuses, the waitlist's notifications.

A Stream's first line is the server's opening comment, sent once the relay has subscribed it, so every
event after `Stream.open` returns must reach it; tests wait for the event itself, never sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from typing import Any

import httpx
import uvicorn

from api.app import create_app
from api.config import Settings
from api.devtools.cluster import free_port


class ApiServer:
    """The application under uvicorn in a thread, on 127.0.0.1 and a free port."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class Stream:
    """One SSE connection read by a task: events go to a queue as dicts {id, event, data}."""

    def __init__(self, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.http = http
        self.headers = headers
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.status = 0
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, http: httpx.AsyncClient, headers: dict[str, str]) -> Stream:
        stream = cls(http, headers)
        stream.task = asyncio.create_task(stream._read())
        await asyncio.wait_for(stream.connected.wait(), 15)
        return stream

    async def _read(self) -> None:
        async with self.http.stream("GET", "/api/events", headers=self.headers, timeout=None) as r:
            self.status = r.status_code
            if r.status_code != 200:
                self.connected.set()
                return
            message: dict[str, Any] = {}
            async for line in r.aiter_lines():
                if line.startswith(":"):
                    self.connected.set()   # the opening comment: subscribed
                elif line == "":
                    if "event" in message:
                        await self.events.put(message)
                    message = {}
                else:
                    field, _, value = line.partition(": ")
                    message[field] = json.loads(value) if field == "data" and value else value

    async def next(self, kind: str | None = None, within: float = 15.0) -> dict[str, Any]:
        """The next event (of `kind`: earlier events of other kinds are skipped), within `within` seconds."""
        deadline = time.monotonic() + within
        while True:
            message = await asyncio.wait_for(self.events.get(), max(deadline - time.monotonic(), 0.01))
            if kind is None or message["event"] == kind:
                return message

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self.task

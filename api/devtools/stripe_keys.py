"""An HTTP layer in front of localstripe that honours `Idempotency-Key` like Stripe, and remembers
the keys across restarts (SQLite file under .data/stripe/).

localstripe ignores idempotency keys. In a local run the worker was killed after a charge and
before its write-back, the local Stripe server was restarted with it, and the retry (same key)
created a second PaymentIntent: real Stripe would have answered with the first one. This layer
stores the response of every POST that carries a key and replays it (`Idempotent-Replayed: true`)
when the same key comes again, without forwarding; a reused key with other parameters gets
Stripe's 400 `idempotency_error`; 5xx answers are not stored (Stripe lets those be retried). A
request with a key waits for an earlier one with the same key still in flight. The test suite's
replaying proxy (tests/py/stripe_idempotency_proxy.py) is this layer with its keys in memory.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import sqlite3
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}
IDEMPOTENCY_ERROR = (b'{"error": {"type": "idempotency_error", "message": "Keys for idempotent requests can only be '
                     b'used with the same parameters they were first used with."}}')


class KeyStore:
    """Idempotency keys and the responses they got, in one SQLite file (None: in memory)."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS idempotency_keys (key TEXT PRIMARY KEY, "
                         "fingerprint TEXT NOT NULL, status INTEGER NOT NULL, headers TEXT NOT NULL, "
                         "body BLOB NOT NULL, stored_at REAL NOT NULL)")
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[str, int, list[tuple[str, str]], bytes] | None:
        with self._lock:
            row = self._db.execute("SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE key = ?",
                                   (key,)).fetchone()
        if row is None:
            return None
        return row[0], int(row[1]), [(str(k), str(v)) for k, v in json.loads(row[2])], bytes(row[3])

    def put(self, key: str, fingerprint: str, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        with self._lock:  # written (and synced by SQLite) before the answer goes back to the caller
            self._db.execute("INSERT OR REPLACE INTO idempotency_keys VALUES (?, ?, ?, ?, ?, ?)",
                             (key, fingerprint, status, json.dumps(headers), body, time.time()))

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()


class IdempotencyLayer:
    """Listens on host:port and forwards to localstripe at `upstream_port`."""

    def __init__(self, upstream_port: int, store: KeyStore, host: str = "127.0.0.1", port: int = 0,
                 upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.store = store
        self.forwarded = 0
        self.replayed = 0
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        layer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                """Quiet: the worker logs its Stripe calls."""

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.headers.get("Idempotency-Key")
                if self.command == "POST" and key:
                    layer._with_key(self, key, body)
                else:
                    layer._send(self, *layer._forward(self, body))

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="stripe-keys", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> IdempotencyLayer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _with_key(self, handler: BaseHTTPRequestHandler, key: str, body: bytes) -> None:
        fingerprint = hashlib.sha256(handler.command.encode() + handler.path.encode() + b"\0" + body).hexdigest()
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            stored = self.store.get(key)
            if stored is not None:
                if stored[0] != fingerprint:
                    self._send(handler, 400, [("Content-Type", "application/json")], IDEMPOTENCY_ERROR)
                    return
                with self._lock:
                    self.replayed += 1
                self._send(handler, stored[1], [*stored[2], ("Idempotent-Replayed", "true")], stored[3])
                return
            status, headers, response = self._forward(handler, body)
            if status < 500:
                self.store.put(key, fingerprint, status, headers, response)
            self._send(handler, status, headers, response)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            self.forwarded += 1
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
            conn.request(handler.command, handler.path, body=body or None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            return r.status, [(k, v) for k, v in r.getheaders() if k.lower() not in HOP_BY_HOP], data
        except OSError as e:
            error = json.dumps({"error": {"type": "api_error", "message": f"local Stripe unreachable: {e}"}})
            return 502, [("Content-Type", "application/json")], error.encode()
        finally:
            conn.close()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        handler.send_response(status)
        for k, v in headers:
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

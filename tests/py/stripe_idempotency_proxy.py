"""A tiny HTTP proxy in front of localstripe that honours `Idempotency-Key` like Stripe does.

localstripe ignores idempotency keys, so on its own it cannot show that a retried call with the
same key is safe. This proxy stores the response of every POST that carries a key and replays it
(with `Idempotent-Replayed: true`) when the same key comes again, without forwarding; a reused
key with different parameters gets Stripe's 400 `idempotency_error`. Responses of 5xx are not
stored (Stripe lets those be retried). Used by the crash-safety tests only.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


@dataclass
class Stored:
    fingerprint: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class ProxyStats:
    forwarded: int = 0
    replayed: int = 0
    keys_seen: list[str] = field(default_factory=list)


class IdempotencyProxy:
    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.stored: dict[str, Stored] = {}
        self.stats = ProxyStats()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = self.headers.get("Idempotency-Key")
                if self.command == "POST" and key:
                    proxy._with_key(self, key, body)
                else:
                    proxy._send(self, *proxy._forward(self, body))

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> IdempotencyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _with_key(self, handler: BaseHTTPRequestHandler, key: str, body: bytes) -> None:
        fingerprint = hashlib.sha256(handler.command.encode() + handler.path.encode() + b"\0" + body).hexdigest()
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
            self.stats.keys_seen.append(key)
        with key_lock:  # a concurrent request with the same key waits for the first (Stripe: 409)
            stored = self.stored.get(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    error = (b'{"error": {"type": "idempotency_error", "message": "Keys for idempotent requests '
                             b'can only be used with the same parameters they were first used with."}}')
                    self._send(handler, 400, [("Content-Type", "application/json")], error)
                    return
                with self._lock:
                    self.stats.replayed += 1
                self._send(handler, stored.status, [*stored.headers, ("Idempotent-Replayed", "true")], stored.body)
                return
            status, headers, response = self._forward(handler, body)
            if status < 500:
                self.stored[key] = Stored(fingerprint, status, headers, response)
            self._send(handler, status, headers, response)

    def _forward(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            self.stats.forwarded += 1
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
            conn.request(handler.command, handler.path, body=body or None, headers=headers)
            r = conn.getresponse()
            data = r.read()
            kept = [(k, v) for k, v in r.getheaders() if k.lower() not in HOP_BY_HOP]
            return r.status, kept, data
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

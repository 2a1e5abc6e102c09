"""A proxy in front of localstripe that honours `Idempotency-Key` like Stripe does, for the tests.

localstripe ignores idempotency keys, so on its own it cannot show that a retried call with the
same key is safe. This is the local run's layer (api/devtools/stripe_keys.py: a POST with a key is
answered once and replayed with `Idempotent-Replayed: true`, a reused key with other parameters gets
Stripe's 400 `idempotency_error`, 5xx answers are not stored) with its keys in memory, plus what the
crash-safety tests assert on: how many calls were forwarded and replayed, and every key seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from api.devtools.stripe_keys import IdempotencyLayer, KeyStore


@dataclass(frozen=True)
class ProxyStats:
    forwarded: int
    replayed: int
    keys_seen: list[str]


class IdempotencyProxy(IdempotencyLayer):
    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        parts = urlsplit(upstream)
        super().__init__(parts.port or 80, KeyStore(None), host=host, upstream_host=parts.hostname or "127.0.0.1")
        self.keys_seen: list[str] = []

    @property
    def stats(self) -> ProxyStats:
        with self._lock:
            return ProxyStats(self.forwarded, self.replayed, list(self.keys_seen))

    def start(self) -> IdempotencyProxy:
        super().start()
        return self

    def _with_key(self, handler: BaseHTTPRequestHandler, key: str, body: bytes) -> None:
        with self._lock:
            self.keys_seen.append(key)
        super()._with_key(handler, key, body)

"""Fixtures and helpers shared by the side-effect tests (outbox, worker, Stripe, webhooks, email,
reminders). Test modules import the fixtures they use from here.

Real parts only: the migrated test database of conftest.py, localstripe (one per test session,
bound to 127.0.0.1), an aiosmtpd server per test, the replaying idempotency proxy, and the worker
itself (in-process, or as a subprocess when a test SIGKILLs it).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
import stripe
from psycopg.rows import dict_row

from api.config import PROJECT_ROOT, Settings
from api.devtools.local_services import LocalSMTP, LocalStripe
from api.effects import Effect
from api.worker import Worker
from tests.py.stripe_idempotency_proxy import IdempotencyProxy

Database = Any  # conftest.py's cloned test database (superuser_dsn, api_url, ...)

WEBHOOK_SECRET = "whsec_test_" + "s" * 32


@pytest.fixture(scope="session")
def local_stripe() -> LocalStripe:
    # One per process (localstripe keeps its state in module globals); each test module imports
    # this fixture, so it must not start a second one. Objects are told apart by our metadata.
    return LocalStripe.shared()


@pytest.fixture
def stripe_proxy(local_stripe: LocalStripe) -> Iterator[IdempotencyProxy]:
    proxy = IdempotencyProxy(local_stripe.url).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[LocalSMTP]:
    server = LocalSMTP(tmp_path / "mail").start()
    try:
        yield server
    finally:
        server.stop()


# Retry backoff of every kind in the test databases: the policy is data (app.outbox_kinds), so a
# test that wants fast retries changes the rows, as an operator would.
TEST_BACKOFF_SECONDS = 0.02


@pytest.fixture
def fx_settings(settings: Settings, database: Database, local_stripe: LocalStripe, smtp: LocalSMTP) -> Settings:
    """Settings pointing at this test's database, localstripe and SMTP server, with a fast worker
    (and fast retries: every kind's backoff in this database is TEST_BACKOFF_SECONDS)."""
    with psycopg.connect(database.superuser_dsn, autocommit=True) as conn:
        conn.execute("UPDATE app.outbox_kinds SET backoff_base_seconds = %s, backoff_max_seconds = 3600",
                     [TEST_BACKOFF_SECONDS])
    return replace(settings, stripe_api_base=local_stripe.url, smtp_port=smtp.port,
                   stripe_webhook_secret=WEBHOOK_SECRET, worker_poll_seconds=0.2, worker_lease_seconds=30)


@pytest.fixture
def su(database: Database) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """A superuser connection (autocommit) to arrange and assert."""
    conn = psycopg.connect(database.superuser_dsn, autocommit=True, row_factory=dict_row)
    try:
        yield conn
    finally:
        conn.close()


def one(conn: psycopg.Connection[Any], query: str, params: Any = None) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def rows(conn: psycopg.Connection[Any], query: str, params: Any = None) -> list[dict[str, Any]]:
    return conn.execute(query, params).fetchall()


def set_clock(conn: psycopg.Connection[Any], at: Any, *, local: bool = False) -> None:
    """Move the trusted clock (app_private.now()) of this connection to `at` (None: the real time
    again); with local=True only for the current transaction. Test databases allow injection."""
    conn.execute("SELECT set_config('autodoc.now', %s, %s)", ["" if at is None else str(at), local])


def wait_until(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Wait for a real event (with a timeout), polling `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def outbox_status(conn: psycopg.Connection[Any]) -> dict[str, int]:
    found = rows(conn, "SELECT status, count(*)::int AS n FROM app.outbox GROUP BY status")
    return {r["status"]: r["n"] for r in found}


def all_done(conn: psycopg.Connection[Any]) -> bool:
    return bool(one(conn, "SELECT NOT EXISTS (SELECT 1 FROM app.outbox WHERE status <> 'done')"))


class WorkerThread:
    """An in-process worker on its own event loop in a thread; stop() is a graceful shutdown."""

    def __init__(self, settings: Settings, worker_id: str = "test-worker",
                 effects: Mapping[str, Effect] | None = None) -> None:
        self.worker = Worker(settings, worker_id=worker_id, effects=effects)
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            self._started.set()
            await self.worker.run(self._stop)

        try:
            self._loop.run_until_complete(main())
        except BaseException as e:
            self.error = e
        finally:
            self._loop.close()

    def start(self) -> WorkerThread:
        self._thread.start()
        self._started.wait(10)
        return self

    def wait_listening(self, timeout: float = 10.0) -> None:
        wait_until(self.worker.listening.is_set, timeout, "the worker to LISTEN")

    def stop(self) -> None:
        if self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self.error is not None:
            raise self.error

    def __enter__(self) -> WorkerThread:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_worker_until_idle(settings: Settings, worker_id: str = "test-worker",
                          effects: Mapping[str, Effect] | None = None) -> Any:
    """Process everything due now, then return the worker's stats."""
    return asyncio.run(Worker(settings, worker_id=worker_id, effects=effects).run(asyncio.Event(), exit_when_idle=True))


def worker_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for `python -m api.worker` in a subprocess, pointed at this test's services."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODOC_WORKER_")}
    env.update({
        "AUTODOC_DATABASE_URL": settings.database_url,
        "AUTODOC_STRIPE_API_BASE": settings.stripe_api_base,
        "AUTODOC_STRIPE_API_KEY": settings.stripe_api_key,
        "AUTODOC_STRIPE_TEST_PAYMENT_METHOD": settings.stripe_test_payment_method,
        "AUTODOC_SMTP_HOST": settings.smtp_host,
        "AUTODOC_SMTP_PORT": str(settings.smtp_port),
        "AUTODOC_WORKER_POLL_SECONDS": str(settings.worker_poll_seconds),
        "AUTODOC_WORKER_LEASE_SECONDS": str(settings.worker_lease_seconds),
        "AUTODOC_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def spawn_worker(settings: Settings, worker_id: str, *args: str, faulty: bool = False,
                 **env: str) -> subprocess.Popen[bytes]:
    """`python -m api.worker` in a subprocess; with `faulty`, the worker with fault injection
    (tests/py/faulty_worker.py, configured by the AUTODOC_WORKER_* variables in `env`)."""
    module = "tests.py.faulty_worker" if faulty else "api.worker"
    return subprocess.Popen([sys.executable, "-m", module, "--worker-id", worker_id, *args],
                            cwd=PROJECT_ROOT, env=worker_env(settings, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stripe_client(local_stripe: LocalStripe) -> stripe.StripeClient:
    """Talks to localstripe directly (not through the proxy), to count what really exists there."""
    return stripe.StripeClient("sk_test_local", base_addresses={"api": local_stripe.url}, max_network_retries=0)


def _stored(prefix: str) -> list[Any]:
    from localstripe.resources import store  # localstripe runs in this process (the session fixture)

    return [value for key, value in list(store.items()) if key.startswith(prefix + ":")]


def intents_for_payment(payment_id: str) -> list[Any]:
    """Every PaymentIntent that exists at (local) Stripe for one of our payments."""
    return [pi for pi in _stored("payment_intent") if (pi.metadata or {}).get("payment_id") == payment_id]


def refunds_for_payment(payment_id: str) -> list[Any]:
    """Every Refund that exists at (local) Stripe for one of our payments."""
    return [r for r in _stored("refund") if (r.metadata or {}).get("payment_id") == payment_id]


def messages_to(smtp: LocalSMTP, address: str) -> list[EmailMessage]:
    return [m for m in smtp.messages if address in str(m["To"])]


def make_app(settings: Settings) -> Any:
    """The real application."""
    from api.app import create_app

    return create_app(settings)


def bearer(user_id: str, role: str) -> dict[str, str]:
    from api.auth import mint_token
    from tests.py.conftest import JWT_SECRET

    return {"Authorization": f"Bearer {mint_token(JWT_SECRET, user_id, role)}"}

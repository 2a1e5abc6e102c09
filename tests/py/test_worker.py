# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""The worker process: graceful shutdown on SIGTERM, failures that back off and end in the dead
letters, heartbeats. (Crash safety is in test_worker_crash.py.)"""

from __future__ import annotations

import signal
import time
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from api.config import Settings
from api.devtools.local_services import LocalSMTP
from api.effects import Job
from api.worker import Worker
from tests.py.faulty_worker import FaultyWorker
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    fx_settings,
    local_stripe,
    one,
    run_worker_until_idle,
    smtp,
    spawn_worker,
    su,
    wait_until,
)
from tests.py.test_email import _reminder_payload


def test_sigterm_finishes_the_current_effect_and_gives_the_rest_back(fx_settings: Settings,
                                                                     su: psycopg.Connection[Any],
                                                                     tmp_path: Any) -> None:
    def slow(envelope: Any) -> None:
        time.sleep(1.0)  # the SMTP conversation takes a while: SIGTERM lands mid-effect
        return None

    # One email at a time in this database (the lane's budget is data), so three wait their turn.
    su.execute("UPDATE app.outbox_lanes SET concurrency = 1 WHERE lane = 'email'")
    with LocalSMTP(tmp_path / "mail", respond=slow) as server:
        settings = replace(fx_settings, smtp_port=server.port)
        for i in range(4):
            su.execute("SELECT app_private.outbox_enqueue('email.send', %s, %s)",
                       [f"email:term:{i}", _reminder_payload()])
        proc = spawn_worker(settings, "graceful")
        try:
            wait_until(lambda: server.handler.attempts >= 1, timeout=30, what="the first email to be in flight")
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, out.decode()[-2000:]
        assert len(server.messages) == 1, "the effect in flight was finished"
    statuses = su.execute("SELECT status, attempts, count(*)::int AS n FROM app.outbox "
                          "GROUP BY 1, 2 ORDER BY 1").fetchall()
    assert [(r["status"], r["attempts"], r["n"]) for r in statuses] == [("done", 1, 1), ("pending", 0, 3)], \
        "written back; the rows waiting their turn were never claimed (no attempt used)"
    assert one(su, "SELECT stopped_at IS NOT NULL FROM app.worker_heartbeats WHERE worker_id = 'graceful'")


def test_an_effect_that_keeps_failing_backs_off_then_is_a_dead_letter(fx_settings: Settings,
                                                                      su: psycopg.Connection[Any]) -> None:
    # The retry policy is the kind's row in the registry: 3 attempts, 0.1 s doubling.
    base = 0.1
    su.execute("UPDATE app.outbox_kinds SET max_attempts = 3, backoff_base_seconds = %s WHERE kind = 'noop'", [base])
    su.execute("SELECT app_private.outbox_enqueue('noop', 'flaky', '{}')")
    assert one(su, "SELECT max_attempts FROM app.outbox WHERE idempotency_key = 'flaky'") == 3
    calls: list[float] = []

    def broken(settings: Settings, job: Job) -> dict[str, Any]:
        calls.append(time.monotonic())
        raise RuntimeError("boom")

    from tests.py.side_effect_fixtures import WorkerThread

    with WorkerThread(fx_settings, effects={"noop": broken}):
        wait_until(lambda: one(su, "SELECT status = 'dead' FROM app.outbox WHERE idempotency_key = 'flaky'"),
                   what="the dead letter")
    assert len(calls) == 3
    assert calls[1] - calls[0] >= base and calls[2] - calls[1] >= 2 * base, "exponential backoff between attempts"
    assert "RuntimeError: boom" in one(su, "SELECT last_error FROM app.outbox WHERE idempotency_key = 'flaky'")


def test_a_kind_without_an_effect_is_dead_at_once(fx_settings: Settings, su: psycopg.Connection[Any]) -> None:
    su.execute("SELECT app_private.outbox_enqueue('noop', 'orphan', '{}')")
    stats = run_worker_until_idle(fx_settings, effects={})
    assert stats.dead == 1
    row = su.execute("SELECT status, attempts, last_error FROM app.outbox WHERE idempotency_key = 'orphan'").fetchone()
    assert row is not None and (row["status"], row["attempts"]) == ("dead", 1)
    assert "no effect registered" in row["last_error"]


def test_fault_injection_is_validated(fx_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTODOC_WORKER_CRASH_AT", "sometime")
    with pytest.raises(ValueError):
        FaultyWorker(fx_settings, effects={})
    Worker(fx_settings, effects={})  # the runtime worker reads no fault-injection setting

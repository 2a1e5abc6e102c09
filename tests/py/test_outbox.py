# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""The outbox and its wake-ups: NOTIFY only on commit, nothing on rollback, polling catches what
NOTIFY missed, two workers never run one row twice."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import psycopg
from psycopg.rows import dict_row

from api.config import Settings
from api.effects import Job
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    Database,
    WorkerThread,
    all_done,
    fx_settings,
    local_stripe,
    one,
    run_worker_until_idle,
    smtp,
    su,
    wait_until,
)

CHANNEL = "autodoc_outbox_v1"


def _listener(database: Database) -> psycopg.Connection[Any]:
    conn = psycopg.connect(database.superuser_dsn, autocommit=True)
    conn.execute(f"LISTEN {CHANNEL}")
    return conn


def _notifications(conn: psycopg.Connection[Any], timeout: float) -> list[dict[str, Any]]:
    return [json.loads(n.payload) for n in conn.notifies(timeout=timeout, stop_after=1)]


def test_outbox_row_and_notify_appear_only_on_commit(database: Database) -> None:
    listener = _listener(database)
    with psycopg.connect(database.superuser_dsn) as writer:
        # the booking's event, fanned out by the factory as the worker would: charge + confirmation + mechanic notice
        session_id = one(writer, "SELECT tests.se_booking()")
        with psycopg.connect(database.superuser_dsn) as other:
            assert one(other, "SELECT count(*) FROM app.outbox") == 0, "uncommitted rows are invisible"
        assert _notifications(listener, 0.3) == [], "no wake-up before the commit"
        writer.commit()
    got = _notifications(listener, 5)
    assert got and got[0]["op"] == "insert" and got[0]["count"] >= 1
    with psycopg.connect(database.superuser_dsn) as check:
        assert one(check, "SELECT count(*) FROM app.outbox WHERE session_id = %s", [session_id]) == 4
    listener.close()


def test_rollback_leaves_no_row_and_no_notify(database: Database) -> None:
    listener = _listener(database)
    with psycopg.connect(database.superuser_dsn) as writer:
        one(writer, "SELECT tests.se_booking()")
        writer.rollback()
    assert _notifications(listener, 0.5) == []
    with psycopg.connect(database.superuser_dsn) as check:
        assert one(check, "SELECT count(*) FROM app.outbox") == 0
        assert one(check, "SELECT count(*) FROM app.scheduled_payments") == 0
    listener.close()


def test_one_statement_inserting_many_rows_sends_one_small_notify(database: Database) -> None:
    listener = _listener(database)
    with psycopg.connect(database.superuser_dsn) as writer:
        writer.execute("INSERT INTO app.outbox (kind, idempotency_key) "
                       "SELECT 'noop', 'many:' || g FROM generate_series(1, 500) g")
    got = [json.loads(n.payload) for n in listener.notifies(timeout=0.5)]
    assert len(got) == 1 and got[0]["count"] == 500
    assert len(json.dumps(got[0])) < 100
    listener.close()


def test_worker_started_after_the_commit_picks_the_row_up(database: Database, fx_settings: Settings) -> None:
    with psycopg.connect(database.superuser_dsn) as conn:
        conn.execute("SELECT app_private.outbox_enqueue('noop', 'late-worker', '{}')")
    stats = run_worker_until_idle(fx_settings)
    assert stats.done == 1
    with psycopg.connect(database.superuser_dsn) as conn:
        assert one(conn, "SELECT status FROM app.outbox WHERE idempotency_key = 'late-worker'") == "done"


def test_polling_finds_a_row_whose_notify_was_lost(database: Database, fx_settings: Settings,
                                                   su: psycopg.Connection[Any]) -> None:
    with WorkerThread(fx_settings) as w:
        w.wait_listening()
        time.sleep(fx_settings.worker_poll_seconds * 2)  # let it go idle in its wait
        # Insert with triggers off (replica mode): the NOTIFY is never sent, as when nobody listened.
        with psycopg.connect(database.superuser_dsn) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute("INSERT INTO app.outbox (kind, idempotency_key) VALUES ('noop', 'silent')")
        started = time.monotonic()
        wait_until(lambda: one(su, "SELECT status = 'done' FROM app.outbox WHERE idempotency_key = 'silent'"),
                   timeout=10, what="the silent row to be done")
        assert time.monotonic() - started < fx_settings.worker_poll_seconds + 2


def test_notify_wakes_an_idle_worker_before_its_next_poll(database: Database, fx_settings: Settings,
                                                          su: psycopg.Connection[Any]) -> None:
    from dataclasses import replace

    slow_poll = replace(fx_settings, worker_poll_seconds=30)
    with WorkerThread(slow_poll) as w:
        w.wait_listening()
        time.sleep(0.3)
        su.execute("SELECT app_private.outbox_enqueue('noop', 'wake', '{}')")
        wait_until(lambda: one(su, "SELECT status = 'done' FROM app.outbox WHERE idempotency_key = 'wake'"),
                   timeout=10, what="the notified row to be done (the poll interval is 30 s)")


def test_two_workers_never_run_one_row_twice(database: Database, fx_settings: Settings,
                                             su: psycopg.Connection[Any]) -> None:
    su.execute("INSERT INTO app.outbox (kind, idempotency_key) "
               "SELECT 'noop', 'pair:' || g FROM generate_series(1, 300) g")
    runs: Counter[int] = Counter()
    by_worker: Counter[str] = Counter()
    lock = threading.Lock()

    def recording(worker: str) -> Any:
        def effect(settings: Settings, job: Job) -> dict[str, Any]:
            with lock:
                runs[job.id] += 1
                by_worker[worker] += 1
            time.sleep(0.001)
            return {"by": worker}
        return effect

    a = WorkerThread(fx_settings, "worker-a", {"noop": recording("a")}).start()
    b = WorkerThread(fx_settings, "worker-b", {"noop": recording("b")}).start()
    try:
        wait_until(lambda: all_done(su), timeout=60, what="all 300 rows done")
    finally:
        a.stop()
        b.stop()
    assert len(runs) == 300
    assert max(runs.values()) == 1, "a row ran twice"
    assert by_worker["a"] > 0 and by_worker["b"] > 0, "both workers took part"


def test_concurrent_claims_are_disjoint(database: Database, su: psycopg.Connection[Any]) -> None:
    su.execute("INSERT INTO app.outbox (kind, idempotency_key) "
               "SELECT 'noop', 'claim:' || g FROM generate_series(1, 50) g")
    conns = [psycopg.connect(database.superuser_dsn, row_factory=dict_row) for _ in range(2)]
    try:
        for c in conns:
            c.execute("SET ROLE autodoc_worker")
        first = {r["id"] for r in conns[0].execute("SELECT id FROM api.outbox_claim('a', 30)").fetchall()}
        # While the first transaction still holds its row locks, the second skips them.
        second = {r["id"] for r in conns[1].execute("SELECT id FROM api.outbox_claim('b', 30)").fetchall()}
        assert len(first) == 30 and len(second) == 20 and not first & second
        for c in conns:
            c.commit()
    finally:
        for c in conns:
            c.close()


def test_health_shows_depth_oldest_age_dead_letters_and_heartbeat(database: Database, fx_settings: Settings,
                                                                  su: psycopg.Connection[Any]) -> None:
    su.execute("INSERT INTO app.outbox (kind, idempotency_key, created_at, run_after) "
               "VALUES ('noop', 'old', now() - interval '90 seconds', now() + interval '1 hour')")
    su.execute("INSERT INTO app.outbox (kind, idempotency_key, status) VALUES ('noop', 'gone', 'dead')")
    with WorkerThread(fx_settings, "health-worker"):
        health = wait_until(lambda: (h := one(su, "SELECT api.outbox_health()"))["workers_alive"] == 1 and h,
                            what="a live heartbeat")
    assert health["pending"] == 1 and health["dead"] == 1
    assert health["oldest_pending_age_seconds"] >= 90
    assert [w["worker_id"] for w in health["workers"]] == ["health-worker"]
    after = one(su, "SELECT api.outbox_health()")
    assert after["workers_alive"] == 0, "a stopped worker is no longer counted"

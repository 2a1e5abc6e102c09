# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""The outbox and its wake-ups: no NOTIFY from the writing transaction, one wake-up from the API
after a writing request committed, polling finds what nobody announced, two workers never run one
row twice."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import psycopg
from litestar.testing import TestClient
from psycopg.rows import dict_row

from api.config import Settings
from api.effects import Job
from api.wake import WAKE_SQL
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    Database,
    WorkerThread,
    all_done,
    bearer,
    fx_settings,
    local_stripe,
    make_app,
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


def test_outbox_row_appears_only_on_commit_and_its_transaction_notifies_nobody(database: Database) -> None:
    """NOTIFY is off the write path (issue 13): a committing transaction that issued NOTIFY would hold
    a cluster-wide lock until its commit is flushed. The rows appear on commit, silently; the API
    wakes the worker after the commit (next test), SQL-only writers are found by the poll."""
    listener = _listener(database)
    with psycopg.connect(database.superuser_dsn) as writer:
        # the booking's event, fanned out by the factory as the worker would: charge + confirmation + mechanic notice
        session_id = one(writer, "SELECT tests.se_booking()")
        with psycopg.connect(database.superuser_dsn) as other:
            assert one(other, "SELECT count(*) FROM app.outbox") == 0, "uncommitted rows are invisible"
        writer.commit()
    assert _notifications(listener, 0.5) == [], "the writing transaction sends no NOTIFY, not even on commit"
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


def test_a_writing_request_wakes_the_worker_and_the_relays_after_its_commit(
        database: Database, fx_settings: Settings, su: psycopg.Connection[Any]) -> None:
    """The API sends one small wake-up on both channels in a statement of its own once a writing
    request committed; a POST that only reads (an availability lookup) and a failed write send none."""
    listener = _listener(database)
    listener.execute("LISTEN autodoc_events_v1")
    customer = str(one(su, "SELECT tests.se_customer()"))
    mechanic = str(one(su, "SELECT tests.se_mechanic()"))
    me = bearer(customer, "customer")
    with TestClient(app=make_app(fx_settings)) as client:
        r = client.post("/api/customer/vehicles", json={"make": "Honda", "model": "Civic"}, headers=me)
        assert r.status_code in (200, 201), r.text
        got = [(n.channel, n.payload) for n in listener.notifies(timeout=2, stop_after=2)]
        assert sorted(got) == [("autodoc_events_v1", "wake"), ("autodoc_outbox_v1", '{"op": "wake"}')]
        assert len(got[0][1]) < 100
        r = client.post("/api/mechanics/availability/slots", json={"mechanicId": mechanic, "date": "2031-01-07"},
                        headers=me)
        assert r.status_code == 200, r.text
        r = client.post("/api/customer/vehicles", json={"make": ""}, headers=me)  # refused: rolled back
        assert r.status_code >= 400
        assert [n.payload for n in listener.notifies(timeout=0.5)] == [], "reads and failed writes wake nobody"
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
        # A SQL-only writer (psql, pg_cron) sends no wake-up at all: only the poll finds its row.
        with psycopg.connect(database.superuser_dsn) as conn:
            conn.execute("SET session_replication_role = replica")
            conn.execute("INSERT INTO app.outbox (kind, idempotency_key) VALUES ('noop', 'silent')")
        started = time.monotonic()
        wait_until(lambda: one(su, "SELECT status = 'done' FROM app.outbox WHERE idempotency_key = 'silent'"),
                   timeout=10, what="the silent row to be done")
        assert time.monotonic() - started < fx_settings.worker_poll_seconds + 2


def test_the_wake_up_after_commit_wakes_an_idle_worker_before_its_next_poll(
        database: Database, fx_settings: Settings, su: psycopg.Connection[Any]) -> None:
    from dataclasses import replace

    slow_poll = replace(fx_settings, worker_poll_seconds=30)
    with WorkerThread(slow_poll) as w:
        w.wait_listening()
        time.sleep(0.3)
        su.execute("SELECT app_private.outbox_enqueue('noop', 'wake', '{}')")  # committed (autocommit)
        su.execute(WAKE_SQL)  # what the API sends after a writing request's commit
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

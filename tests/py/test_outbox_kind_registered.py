# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""The outbox's kind check without the foreign key's lock (migration 0031), under real concurrency:
a kind withdrawn while an outbox writer is in flight, either way round, never leaves a row naming a
kind that is gone; under REPEATABLE READ the check takes the key's own lock. (The single-session
rules are in tests/sql/30-outbox-kind-registered.sql.)"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from tests.py.side_effect_fixtures import Database, one, su, wait_until  # noqa: F401 (fixtures)

KIND = "test.race"
ENQUEUE = "SELECT app_private.outbox_enqueue(%s, %s, '{}')"


def _register(su: psycopg.Connection[Any]) -> None:
    su.execute("INSERT INTO app.outbox_kinds (kind, band, domain) VALUES (%s, 30, 'outbox')", [KIND])


def _in_background(database: Database, query: str, params: list[Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Runs `query` in its own autocommit connection on a thread; the outcome lands in the dict."""
    outcome: dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        with psycopg.connect(database.superuser_dsn, autocommit=True) as conn:
            outcome["pid"] = one(conn, "SELECT pg_backend_pid()")
            ready.set()
            try:
                conn.execute(query, params)
                outcome["ok"] = True
            except psycopg.Error as e:
                outcome["sqlstate"] = e.sqlstate

    thread = threading.Thread(target=run)
    thread.start()
    assert ready.wait(10)
    return thread, outcome


def _blocked_on_a_lock(su: psycopg.Connection[Any], pid: int) -> bool:
    return bool(one(su, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", [pid]))


def test_a_kind_withdrawn_while_a_writer_is_in_flight_waits_and_is_refused(
        database: Database, su: psycopg.Connection[Any]) -> None:
    _register(su)
    with psycopg.connect(database.superuser_dsn) as writer:
        one(writer, ENQUEUE, [KIND, "race:1"])  # uncommitted: the deleter cannot see it yet
        thread, outcome = _in_background(database, "DELETE FROM app.outbox_kinds WHERE kind = %s", [KIND])
        wait_until(lambda: _blocked_on_a_lock(su, outcome["pid"]), what="the delete waiting for the outbox writer")
        writer.commit()
    thread.join(10)
    assert outcome == {"pid": outcome["pid"], "sqlstate": "23503"}, "the delete saw the committed row"
    assert one(su, "SELECT count(*) FROM app.outbox_kinds WHERE kind = %s", [KIND]) == 1


def test_a_writer_after_a_withdrawal_in_flight_waits_and_is_refused(
        database: Database, su: psycopg.Connection[Any]) -> None:
    _register(su)
    with psycopg.connect(database.superuser_dsn) as deleter:
        deleter.execute("DELETE FROM app.outbox_kinds WHERE kind = %s", [KIND])  # no row names it: allowed
        thread, outcome = _in_background(database, ENQUEUE, [KIND, "race:2"])
        wait_until(lambda: _blocked_on_a_lock(su, outcome["pid"]), what="the writer waiting for the withdrawal")
        deleter.commit()
    thread.join(10)
    assert outcome == {"pid": outcome["pid"], "sqlstate": "23503"}, "the writer read the registry as the delete left it"
    assert one(su, "SELECT count(*) FROM app.outbox WHERE kind = %s", [KIND]) == 0


def test_under_repeatable_read_the_check_takes_the_keys_lock(database: Database, su: psycopg.Connection[Any]) -> None:
    """A REPEATABLE READ snapshot still shows a kind withdrawn after it was taken; a plain lookup would
    store an orphan. The check locks the kind's row there, which fails on a row deleted since."""
    _register(su)
    with psycopg.connect(database.superuser_dsn) as writer:
        writer.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        assert one(writer, "SELECT count(*) FROM app.outbox_kinds WHERE kind = %s", [KIND]) == 1
        su.execute("DELETE FROM app.outbox_kinds WHERE kind = %s", [KIND])
        with pytest.raises(psycopg.errors.SerializationFailure):
            writer.execute(ENQUEUE, [KIND, "race:3"])
        writer.rollback()
    assert one(su, "SELECT count(*) FROM app.outbox WHERE kind = %s", [KIND]) == 0

# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Reminders end to end (job -> outbox -> worker -> SMTP) with an injected "now" (the trusted clock
of the arranging connection; the worker runs in real time), and two job runs at the same moment
sending each reminder once (the job is set-based: it reads the sessions due in its window).
(Boundaries, reschedule and cancellation are also covered in
tests/sql/50-reminders.sql.) Bookings are made three days before START on the injected clock, so
the tests hold at any real date."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import psycopg

from api.config import Settings
from api.devtools.local_services import LocalSMTP
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    Database,
    fx_settings,
    local_stripe,
    messages_to,
    one,
    run_worker_until_idle,
    set_clock,
    smtp,
    su,
)

START = dt.datetime(2030, 3, 10, 15, 0, tzinfo=dt.UTC)


def _book(su: psycopg.Connection[Any], start: dt.datetime = START) -> tuple[str, str]:
    set_clock(su, START - dt.timedelta(days=3))
    session_id = str(one(su, "SELECT tests.se_booking(%s)", [start]))
    email = str(one(su, "SELECT u.email FROM app.sessions s JOIN app.users u ON u.id = s.customer_id WHERE s.id = %s",
                    [session_id]))
    return session_id, email


def _run(su: psycopg.Connection[Any], at: dt.datetime) -> dict[str, int]:
    set_clock(su, at)
    result: dict[str, int] = one(su, "SELECT api.send_due_reminders()")
    return result


def test_each_reminder_is_emailed_once_with_the_waiver_link(fx_settings: Settings, smtp: LocalSMTP,
                                                             su: psycopg.Connection[Any]) -> None:
    session_id, email = _book(su)
    run_worker_until_idle(fx_settings)  # the charge and the confirmation
    before = len(messages_to(smtp, email))
    for offset in (dt.timedelta(days=1), dt.timedelta(hours=1), dt.timedelta(minutes=15)):
        assert _run(su, START - offset)["sent"] == 1
        assert _run(su, START - offset)["sent"] == 0, "the job running twice sends nothing more"
    run_worker_until_idle(fx_settings)
    # The email lane sends several at once: the order they arrive in is not the order they were due.
    order = ["reminder_1d", "reminder_1h", "reminder_15m"]
    reminders = sorted(messages_to(smtp, email)[before:],
                       key=lambda m: [k in str(m["X-AutoDoctor-Key"]) for k in order].index(True))
    subjects = [str(m["Subject"]).strip() for m in reminders]
    assert len(subjects) == 3 and subjects[1] == "Starting in 1 hour: your AutoDoctor appointment", subjects
    last = reminders[2]
    text = last.get_body(("plain",))
    assert text is not None
    waiver = f"{fx_settings.app_url}/customer/appointments/{session_id}/waiver"
    assert waiver in text.get_content(), "the 15-minute reminder links to the frontend's waiver page"


def test_a_late_run_sends_only_what_is_still_meaningful(fx_settings: Settings, smtp: LocalSMTP,
                                                        su: psycopg.Connection[Any]) -> None:
    _, email = _book(su)
    run_worker_until_idle(fx_settings)
    before = len(messages_to(smtp, email))
    assert _run(su, START - dt.timedelta(minutes=10)) == {"sent": 1, "skipped": 2}
    run_worker_until_idle(fx_settings)
    late = [str(m["Subject"]).strip() for m in messages_to(smtp, email)[before:]]
    assert late == ["Starting in 15 minutes: sign your waiver and join"]


def test_two_runs_at_once_send_each_reminder_once(database: Database, su: psycopg.Connection[Any]) -> None:
    for i in range(20):
        _book(su, START + dt.timedelta(minutes=31 * i))
    at = START + dt.timedelta(hours=5)  # within a day of every due time: many reminders due, some stale
    due_at = START - dt.timedelta(hours=24) + dt.timedelta(seconds=1)
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def run() -> None:
        with psycopg.connect(database.superuser_dsn) as conn:
            set_clock(conn, due_at, local=True)  # this transaction only
            barrier.wait()
            row = conn.execute("SELECT api.send_due_reminders()").fetchone()
            assert row is not None
            results.append(row[0])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r["sent"] for r in results) == 1, results  # only the first booking's 1-day reminder is due
    assert one(su, "SELECT count(*) FROM app.outbox WHERE payload ->> 'template' LIKE 'reminder_%%'") == 1
    # and now everything at once, twice concurrently: each due reminder exactly once
    results.clear()
    due_at = at
    barrier.reset()
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    counts = su.execute("""SELECT payload ->> 'template' AS t, session_id, count(*)::int AS n FROM app.outbox
                            WHERE payload ->> 'template' LIKE 'reminder_%%' GROUP BY 1, 2""").fetchall()
    assert all(c["n"] == 1 for c in counts), "no reminder twice"
    sent = sum(r["sent"] for r in results)
    assert sent > 0 and sent == len(counts) - 1, (results, len(counts))  # each sent by one of the two runs

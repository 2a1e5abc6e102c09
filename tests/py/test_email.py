# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Email over real SMTP: calendar invites through confirmation -> reschedule -> cancellation, SMTP
4xx retried, 5xx dead-lettered after N attempts, an SMTP outage losing nothing, the .ics download,
resend, and the admin dead-letter endpoints."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import psycopg
from icalendar import Calendar
from litestar.testing import TestClient

from api.config import Settings
from api.devtools.local_services import LocalSMTP
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    WorkerThread,
    all_done,
    bearer,
    fx_settings,
    local_stripe,
    make_app,
    messages_to,
    one,
    run_worker_until_idle,
    smtp,
    su,
    wait_until,
)

UTC = dt.UTC


def _calendar(msg: EmailMessage) -> tuple[Calendar, str]:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "one calendar part"
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload), str(parts[0].get_param("method"))


def _book(su: psycopg.Connection[Any], start: str) -> tuple[str, str]:
    customer = str(one(su, "SELECT tests.se_customer('casey-' || gen_random_uuid() || '@example.test', 'Casey')"))
    session_id = str(one(su, "SELECT tests.se_session(%s, tests.se_mechanic(), %s)", [customer, start]))
    email = str(one(su, "SELECT email FROM app.users WHERE id = %s", [customer]))
    return session_id, email


def test_confirmation_reschedule_cancel_three_invites_same_uid_increasing_sequence(
        fx_settings: Settings, smtp: LocalSMTP, su: psycopg.Connection[Any]) -> None:
    # Each email is sent before the next change (the worker picks a row up within milliseconds; an
    # email sent later describes the session as it is then: tests/sql/50-email-facts.sql).
    session_id, email = _book(su, "2030-03-04 15:00:00+00")
    run_worker_until_idle(fx_settings)
    su.execute("UPDATE app.sessions SET scheduled_for = '2030-03-06 17:30:00+00', ends_at = '2030-03-06 18:00:00+00' "
               "WHERE id = %s", [session_id])
    run_worker_until_idle(fx_settings)
    su.execute("UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = %s", [session_id])
    run_worker_until_idle(fx_settings)

    mine = messages_to(smtp, email)
    assert len(mine) == 3, [m["Subject"] for m in mine]
    invites = []
    for msg in mine:
        cal, mime_method = _calendar(msg)
        vevent = cal.walk("VEVENT")[0]
        assert str(cal["METHOD"]) == mime_method, "the MIME method matches the calendar's METHOD"
        invites.append((str(cal["METHOD"]), str(vevent["UID"]), int(vevent["SEQUENCE"]),
                        vevent.decoded("DTSTART"), vevent.decoded("DTEND"), str(vevent["STATUS"])))
        kinds = {p.get_content_type() for p in msg.walk()}
        assert {"text/plain", "text/html", "text/calendar"} <= kinds, "plain text, HTML and the invite"
    by_seq = sorted(invites, key=lambda i: i[2])
    assert [i[2] for i in by_seq] == [0, 1, 2], "strictly increasing SEQUENCE"
    assert {i[1] for i in invites} == {f"{session_id}@autodoctor"}, "one stable UID"
    assert [i[0] for i in by_seq] == ["REQUEST", "REQUEST", "CANCEL"]
    assert by_seq[0][3:5] == (dt.datetime(2030, 3, 4, 15, 0, tzinfo=UTC), dt.datetime(2030, 3, 4, 15, 30, tzinfo=UTC))
    assert by_seq[1][3:5] == (dt.datetime(2030, 3, 6, 17, 30, tzinfo=UTC), dt.datetime(2030, 3, 6, 18, 0, tzinfo=UTC))
    assert by_seq[2][5] == "CANCELLED"
    in_order = sorted(mine, key=lambda m: _calendar(m)[0].walk("VEVENT")[0]["SEQUENCE"])
    subjects = [str(m["Subject"]).strip() for m in in_order]
    assert subjects[0].startswith("Confirmed") and subjects[1].startswith("Rescheduled")
    assert subjects[2].startswith("Cancelled")
    ics = _calendar(mine[0])[0]
    organizer = ics.walk("VEVENT")[0]["ORGANIZER"]
    assert str(organizer) == "mailto:bookings@autodoctor.local"


def test_smtp_4xx_is_retried_until_accepted(fx_settings: Settings, su: psycopg.Connection[Any],
                                            tmp_path: Any) -> None:
    refusals = {"left": 2}

    def respond(envelope: Any) -> str | None:
        if refusals["left"] > 0:
            refusals["left"] -= 1
            return "451 4.3.0 Mailbox busy, try again later"
        return None

    with LocalSMTP(tmp_path / "mail", respond=respond) as server:
        settings = replace(fx_settings, smtp_port=server.port)
        su.execute("SELECT app_private.outbox_enqueue('email.send', 'email:test:4xx', %s)", [_reminder_payload()])
        with WorkerThread(settings):
            wait_until(lambda: all_done(su), what="the email to be delivered")
        assert len(server.messages) == 1, "delivered once"
        assert server.handler.attempts == 3
    row = su.execute("SELECT attempts, last_error FROM app.outbox WHERE idempotency_key = 'email:test:4xx'").fetchone()
    assert row is not None and row["attempts"] == 3 and "451" in row["last_error"]


def test_smtp_5xx_ends_in_the_dead_letters_after_n_attempts(fx_settings: Settings, su: psycopg.Connection[Any],
                                                            tmp_path: Any) -> None:
    with LocalSMTP(tmp_path / "mail", respond=lambda e: "550 5.1.1 No such user here") as server:
        settings = replace(fx_settings, smtp_port=server.port)
        su.execute("SELECT app_private.outbox_enqueue('email.send', 'email:test:5xx', %s, NULL, NULL, 4)",
                   [_reminder_payload()])
        with WorkerThread(settings):
            wait_until(lambda: one(su, "SELECT status = 'dead' FROM app.outbox "
                                       "WHERE idempotency_key = 'email:test:5xx'"),
                       what="the dead letter")
        assert server.handler.attempts == 4 and server.messages == []
    row = su.execute("SELECT attempts, last_error FROM app.outbox WHERE idempotency_key = 'email:test:5xx'").fetchone()
    assert row is not None and row["attempts"] == 4 and "550" in row["last_error"]


def test_an_smtp_outage_loses_nothing(fx_settings: Settings, su: psycopg.Connection[Any], tmp_path: Any) -> None:
    down = LocalSMTP(tmp_path / "mail")  # not started yet: the port refuses connections
    settings = replace(fx_settings, smtp_port=down.port)
    for i in range(5):
        su.execute("SELECT app_private.outbox_enqueue('email.send', %s, %s, NULL, NULL, 30)",
                   [f"email:outage:{i}", _reminder_payload()])
    with WorkerThread(settings):
        wait_until(lambda: one(su, "SELECT bool_and(attempts >= 2 AND status = 'pending') FROM app.outbox"),
                   what="every email to have failed at least twice")
        with down:  # the server comes back on the same port
            wait_until(lambda: all_done(su), timeout=30, what="every email to be delivered")
            assert len(down.messages) == 5
    assert one(su, "SELECT count(*) FROM app.outbox WHERE status = 'done'") == 5


def test_calendar_download_and_resend_confirmation(fx_settings: Settings, smtp: LocalSMTP,
                                                   su: psycopg.Connection[Any]) -> None:
    session_id, email = _book(su, "2030-05-01 15:00:00+00")
    customer = str(one(su, "SELECT customer_id FROM app.sessions WHERE id = %s", [session_id]))
    with TestClient(app=make_app(fx_settings)) as client:
        r = client.get(f"/api/appointments/{session_id}/calendar.ics", headers=bearer(customer, "customer"))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/calendar") and "method=REQUEST" in r.headers["content-type"]
        vevent = Calendar.from_ical(r.content).walk("VEVENT")[0]
        assert (str(vevent["UID"]), int(vevent["SEQUENCE"])) == (f"{session_id}@autodoctor", 0)
        assert vevent.decoded("DTSTART") == dt.datetime(2030, 5, 1, 15, 0, tzinfo=UTC)

        stranger = str(one(su, "SELECT tests.se_customer()"))
        r = client.get(f"/api/appointments/{session_id}/calendar.ics", headers=bearer(stranger, "customer"))
        assert r.status_code == 404 and r.json()["code"] == "session_not_found"
        r = client.get("/api/appointments/not-a-uuid/calendar.ics", headers=bearer(customer, "customer"))
        assert (r.status_code, r.json()["code"], r.json()["detail"]["field"]) == (422, "validation_error",
                                                                                  "appointment_id")

        r = client.post(f"/api/appointments/{session_id}/resend-confirmation", headers=bearer(customer, "customer"))
        assert r.status_code == 202, r.text
        r = client.post(f"/api/appointments/{session_id}/resend-confirmation", headers=bearer(customer, "customer"))
        assert r.status_code == 429 and r.json()["code"] == "resend_too_soon", "a double click mails once"
        assert 0 < r.json()["detail"]["retry_after_seconds"] <= 300
    run_worker_until_idle(fx_settings)
    mine = messages_to(smtp, email)
    assert len(mine) == 2, "the confirmation and its re-send"
    assert any(str(m["Subject"]).strip().startswith("[Re-sent]") for m in mine)
    assert len({m["Message-ID"] for m in mine}) == 2


def test_admins_list_and_retry_dead_letters(fx_settings: Settings, smtp: LocalSMTP,
                                            su: psycopg.Connection[Any]) -> None:
    su.execute("INSERT INTO app.outbox (kind, idempotency_key, payload, status, attempts, last_error) "
               "VALUES ('email.send', 'email:dead:1', %s, 'dead', 8, 'SMTP 550')", [_reminder_payload()])
    outbox_id = one(su, "SELECT id FROM app.outbox WHERE idempotency_key = 'email:dead:1'")
    admin = str(one(su, "SELECT tests.create_user('admin')"))
    customer = str(one(su, "SELECT tests.se_customer()"))
    with TestClient(app=make_app(fx_settings)) as client:
        r = client.get("/api/admin/outbox/dead", headers=bearer(customer, "customer"))
        assert r.status_code == 403
        r = client.get("/api/admin/outbox/dead", headers=bearer(admin, "admin"))
        assert r.status_code == 200 and [d["idempotency_key"] for d in r.json()] == ["email:dead:1"]
        r = client.post(f"/api/admin/outbox/{outbox_id}/retry", headers=bearer(admin, "admin"))
        assert r.status_code == 200 and r.json()["status"] == "pending"
        r = client.post(f"/api/admin/outbox/{outbox_id}/retry", headers=bearer(admin, "admin"))
        assert r.status_code == 409 and r.json()["code"] == "outbox_not_dead"
    run_worker_until_idle(fx_settings)
    assert len(smtp.messages) == 1, "the retried email went out"


def _reminder_payload() -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb({
        "template": "reminder_1h",
        "to": {"email": "someone@example.test", "name": "Someone"},
        "context": {"session_id": "00000000-0000-4000-8000-000000000000", "customer": {"name": "Someone"},
                    "plan": {"name": "Standard", "duration_minutes": 30}, "starts_at": "2030-03-04T15:00:00+00:00",
                    "ends_at": "2030-03-04T15:30:00+00:00", "timezone": "America/Toronto", "place": None,
                    "links": {"join": "/customer/sessions/x", "appointment": "/customer/appointments/x"}},
    })

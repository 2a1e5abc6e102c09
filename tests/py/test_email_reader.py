# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Emails as their readers see them, through the real worker and SMTP server: each recipient's
times in their own zone (a Toronto customer and a Vancouver mechanic), a session with no mechanic
yet in the customer's zone (never UTC), links on the frontend's URL (AUTODOC_APP_URL) and not the
API's, and an absolute link in the .ics DESCRIPTION (emailed and downloaded)."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import psycopg
import pytest
from icalendar import Calendar
from litestar.testing import TestClient

from api.config import Settings
from api.devtools.local_services import LocalSMTP
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    bearer,
    fx_settings,
    local_stripe,
    make_app,
    messages_to,
    one,
    run_worker_until_idle,
    smtp,
    su,
)

APP_URL = "https://app.autodoctor.example"
API_URL = "https://api.autodoctor.example"


@pytest.fixture
def mail_settings(fx_settings: Settings) -> Settings:
    """A deployment whose frontend and API live on different hosts."""
    return replace(fx_settings, app_url=APP_URL, public_base_url=API_URL)


def _text(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def _html(msg: EmailMessage) -> str:
    body = msg.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def _description(ics: bytes) -> str:
    return str(Calendar.from_ical(ics).walk("VEVENT")[0]["DESCRIPTION"])


def _invite(msg: EmailMessage) -> bytes:
    [part] = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def _customer(su: psycopg.Connection[Any], email: str, name: str, zone: str | None) -> str:
    customer = str(one(su, "SELECT tests.se_customer(%s, %s)", [email, name]))
    su.execute("UPDATE app.customers SET timezone = %s WHERE user_id = %s", [zone, customer])
    return customer


def test_toronto_customer_and_vancouver_mechanic_each_read_their_own_time(
        mail_settings: Settings, smtp: LocalSMTP, su: psycopg.Connection[Any]) -> None:
    customer = _customer(su, "tori@example.test", "Tori Toronto", "America/Toronto")
    mechanic = str(one(su, "SELECT tests.se_mechanic('America/Vancouver', p_email => 'val@example.test', "
                           "p_name => 'Val Vancouver')"))
    # 2030-03-05 17:00 UTC = 12:00 PM in Toronto (EST) = 9:00 AM in Vancouver (PST)
    session_id = str(one(su, "SELECT tests.se_session(%s, %s, '2030-03-05 17:00+00')", [customer, mechanic]))
    run_worker_until_idle(mail_settings)

    [confirmation] = messages_to(smtp, "tori@example.test")
    assert "Tuesday, March 5, 2030 at 12:00 PM" in str(confirmation["Subject"])
    assert "12:00 PM - 12:30 PM (America/Toronto)" in _text(confirmation)
    assert "America/Vancouver" not in _text(confirmation) and "9:00 AM" not in _text(confirmation)
    assert "12:00 PM" in _html(confirmation)

    [notice] = messages_to(smtp, "val@example.test")
    assert "Tuesday, March 5, 2030 at 9:00 AM" in str(notice["Subject"])
    assert "9:00 AM - 9:30 AM (America/Vancouver)" in _text(notice)
    assert "12:00 PM" not in _text(notice)

    # links: the frontend's pages, never the API's host
    text = _text(confirmation)
    assert f"{APP_URL}/customer/appointments/{session_id}/waiver" in text
    assert f"{APP_URL}/customer/appointments/{session_id}" in text
    assert API_URL not in text and API_URL not in _html(confirmation) and API_URL not in _text(notice)
    assert f'href="{APP_URL}/customer/appointments/{session_id}' in _html(confirmation)

    # the invite: UTC instants, and a DESCRIPTION with absolute links (many calendars show only it)
    description = _description(_invite(confirmation))
    assert f"{APP_URL}/customer/appointments/{session_id}/waiver" in description
    assert "Sign the waiver" in description and " /customer/" not in description
    assert str(Calendar.from_ical(_invite(confirmation)).walk("VEVENT")[0]["URL"]).startswith(APP_URL)
    assert "waiver" not in _description(_invite(notice)), "the mechanic's invite has no waiver link"


def test_the_customer_changes_zone_and_later_emails_follow(
        mail_settings: Settings, smtp: LocalSMTP, su: psycopg.Connection[Any]) -> None:
    customer = _customer(su, "mover@example.test", "Mo Mover", "America/Toronto")
    mechanic = str(one(su, "SELECT tests.se_mechanic('America/Toronto')"))
    with TestClient(app=make_app(mail_settings)) as client:
        r = client.patch("/api/customer/profile", json={"timezone": "Europe/London"},
                         headers=bearer(customer, "customer"))
        assert r.status_code == 200, r.text
    one(su, "SELECT tests.se_session(%s, %s, '2030-03-05 17:00+00')", [customer, mechanic])
    run_worker_until_idle(mail_settings)
    [confirmation] = messages_to(smtp, "mover@example.test")
    assert "5:00 PM - 5:30 PM (Europe/London)" in _text(confirmation)


def test_no_mechanic_yet_shows_the_customers_zone_never_utc(
        mail_settings: Settings, smtp: LocalSMTP, su: psycopg.Connection[Any]) -> None:
    kolkata = _customer(su, "chitra@example.test", "Chitra Iyer", "Asia/Kolkata")
    one(su, "SELECT tests.se_session(%s, NULL, '2030-03-05 17:00+00')", [kolkata])
    untold = _customer(su, "untold@example.test", "Una Told", None)
    one(su, "SELECT tests.se_session(%s, NULL, '2030-03-06 17:00+00')", [untold])
    run_worker_until_idle(mail_settings)

    [mine] = messages_to(smtp, "chitra@example.test")
    assert "10:30 PM - 11:00 PM (Asia/Kolkata)" in _text(mine), _text(mine)
    assert "UTC" not in _text(mine) and "UTC" not in str(mine["Subject"])
    [theirs] = messages_to(smtp, "untold@example.test")
    assert "12:00 PM - 12:30 PM (America/Toronto)" in _text(theirs), "the platform default zone, not UTC"
    assert "UTC" not in _text(theirs)


def test_in_person_customer_without_a_zone_reads_the_workshops(
        mail_settings: Settings, smtp: LocalSMTP, su: psycopg.Connection[Any]) -> None:
    customer = _customer(su, "walkin@example.test", "Walk In", None)
    mechanic = str(one(su, "SELECT tests.se_mechanic('Europe/London', p_with_workshop => true)"))
    one(su, "SELECT tests.se_session(%s, %s, '2030-07-01 09:00+00', 'in_person')", [customer, mechanic])
    run_worker_until_idle(mail_settings)
    [confirmation] = messages_to(smtp, "walkin@example.test")
    assert "10:00 AM - 10:30 AM (Europe/London)" in _text(confirmation), "BST: the workshop's wall clock"


def test_the_downloaded_invite_links_to_the_frontend(
        mail_settings: Settings, su: psycopg.Connection[Any]) -> None:
    customer = _customer(su, "dl@example.test", "Dee Download", "America/Toronto")
    mechanic = str(one(su, "SELECT tests.se_mechanic('America/Vancouver')"))
    session_id = str(one(su, "SELECT tests.se_session(%s, %s, '2030-03-05 17:00+00')", [customer, mechanic]))
    with TestClient(app=make_app(mail_settings)) as client:
        r = client.get(f"/api/appointments/{session_id}/calendar.ics", headers=bearer(customer, "customer"))
        assert r.status_code == 200, r.text
    description = _description(r.content)
    assert f"{APP_URL}/customer/appointments/{session_id}/waiver" in description
    assert API_URL not in r.text

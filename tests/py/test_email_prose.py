# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""All email and invite prose lives in the templates: SQL hands over facts, every email template
has its subject, text and HTML, times and the workshop address are formatted once
(api/presentation.py) and read the same in the email and in its calendar invite."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
from icalendar import Calendar

from api.config import Settings
from api.devtools.local_services import LocalSMTP
from api.effects.mail import TEMPLATE_DIR
from api.presentation import local_datetime, local_time, place
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    fx_settings,
    local_stripe,
    messages_to,
    one,
    run_worker_until_idle,
    smtp,
    su,
)


def test_every_email_template_has_a_subject_text_and_html() -> None:
    names = {p.name.split(".")[0] for p in Path(TEMPLATE_DIR).glob("*.j2") if not p.name.startswith("_")}
    assert names, "templates found"
    for name in sorted(names):
        for suffix in ("subject.j2", "txt.j2", "html.j2"):
            assert (Path(TEMPLATE_DIR) / f"{name}.{suffix}").is_file(), f"{name}.{suffix}"


def test_every_template_the_database_names_exists(su: psycopg.Connection[Any]) -> None:
    """The template names SQL enqueues are spelled in db/functions; each has its files."""
    sql = "\n".join(p.read_text() for p in Path(TEMPLATE_DIR).parents[2].glob("db/functions/*.sql"))
    # literal names only ('waitlist_' || p_what is built at run time; its three files are checked above)
    named = {a or b for a, b in re.findall(r"enqueue_\w+_email\(p_session_id, '(\w+)'|'template', '(\w+)'(?!\s*\|\|)",
                                           sql)}
    named |= {f"reminder_{kind}" for kind in one(su, "SELECT array_agg(kind) FROM app_private.reminder_offsets()")}
    assert {"confirmation", "mechanic_booking", "cancellation", "reminder_15m"} <= named, named
    for name in named:
        assert (Path(TEMPLATE_DIR) / f"{name}.subject.j2").is_file(), name


def test_presentation_formats_times_and_places_once() -> None:
    assert local_datetime("2030-03-04T15:00:00+00:00", "America/Toronto") == "Monday, March 4, 2030 at 10:00 AM"
    assert local_time("2030-03-04T15:30:00+00:00", "America/Toronto") == "10:30 AM"
    assert local_time("2030-03-04T12:05:00+00:00", "UTC") == "12:05 PM"
    assert place(None) == "Online (AutoDoctor)"
    assert place({"name": "Downtown Auto", "address_line1": "1 King St W", "address_line2": None,
                  "city": "Toronto", "state_province": "ON", "postal_code": "M5H 1A1", "country": "CA"}) == \
        "Downtown Auto, 1 King St W, Toronto, ON, M5H 1A1, CA"


def test_an_in_person_confirmation_reads_the_same_in_the_email_and_its_invite(
        fx_settings: Settings, smtp: LocalSMTP, su: psycopg.Connection[Any]) -> None:
    customer = str(one(su, "SELECT tests.se_customer('prose-' || gen_random_uuid() || '@example.test', 'Pat')"))
    mechanic = str(one(su, "SELECT tests.se_mechanic('America/Toronto', true)"))
    session_id = str(one(su, "SELECT tests.se_session(%s, %s, '2030-03-04 15:00:00+00', 'in_person')",
                         [customer, mechanic]))
    email = str(one(su, "SELECT email FROM app.users WHERE id = %s", [customer]))
    run_worker_until_idle(fx_settings)
    [msg] = messages_to(smtp, email)
    assert str(msg["Subject"]).strip() == "Confirmed: your AutoDoctor appointment on Monday, March 4, 2030 at 10:00 AM"
    text = msg.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    where = "Downtown Auto, 1 King St W, Toronto, ON, M5H 1A1, CA"
    assert "Monday, March 4, 2030 at 10:00 AM - 10:30 AM (America/Toronto)" in body
    assert where in body
    ics = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    payload = ics.get_payload(decode=True)
    assert isinstance(payload, bytes)
    event = Calendar.from_ical(payload).walk("VEVENT")[0]
    assert str(event["LOCATION"]) == where, "one place line for the email and the invite"
    assert str(event["SUMMARY"]) == "AutoDoctor Standard consultation with Morgan Mechanic"
    waiver = f"{fx_settings.app_url}/customer/appointments/{session_id}/waiver"
    assert waiver in str(event["DESCRIPTION"]), "the invite's waiver link is absolute"

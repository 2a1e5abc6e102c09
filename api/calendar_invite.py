"""Calendar invites (RFC 5545 / iTIP RFC 5546) for appointments, with icalendar.

The database owns the invite's identity and order: a UID stable per session
(`<session-id>@autodoctor`) and a SEQUENCE it increments on every change (reschedule, new mechanic,
cancellation). This module only renders that data: METHOD REQUEST (new or updated) or CANCEL,
instants in UTC (no VTIMEZONE needed; every client shows them in the viewer's zone), AutoDoctor as
ORGANIZER and the recipient as ATTENDEE. Google Calendar, Apple Calendar and Outlook all accept it.
The database hands over facts; SUMMARY and DESCRIPTION are written by the templates in
api/templates/calendar/, LOCATION by api/presentation.py (the same place line the emails show).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from icalendar import Calendar, Event, vCalAddress, vText

from api.presentation import instant, place

PRODID = "-//AutoDoctor//Booking//EN"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "calendar"


def _instant(value: Any) -> dt.datetime:
    """An ISO 8601 instant in UTC, whole seconds."""
    return instant(value).astimezone(dt.UTC).replace(microsecond=0)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=False,
                              trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)


def invite_text(invite: Mapping[str, Any], base_url: str = "") -> tuple[str, str, str]:
    """(SUMMARY, DESCRIPTION, LOCATION) written from the invite's facts."""
    variables = {"invite": invite, "cancelled": str(invite.get("method") or "").upper() == "CANCEL",
                 "url": lambda path: str(path) if "://" in str(path) else base_url.rstrip("/") + str(path or "")}
    env = _env()
    summary = " ".join(env.get_template("summary.txt.j2").render(**variables).split())
    description = env.get_template("description.txt.j2").render(**variables).strip()
    return summary, description, place(invite.get("place"))


def organizer_from(mail_from: str) -> tuple[str, str]:
    """(name, address) from a From header value like 'AutoDoctor <bookings@autodoctor.local>'."""
    name, address = parseaddr(mail_from)
    return name or "AutoDoctor", address or "bookings@autodoctor.local"


def build_invite(invite: Mapping[str, Any], *, organizer_name: str, organizer_email: str,
                 base_url: str = "", now: dt.datetime | None = None) -> bytes:
    """The .ics bytes for one invite as the database describes it (api.appointment_invite /
    the email payload's `invite`): uid, sequence, method, status, start, end, url, waiver_url,
    attendees [{email, name}], and the facts SUMMARY/DESCRIPTION/LOCATION are written from
    (recipient, plan, service_mode, concern, customer_name, mechanic_name, place). `base_url` is
    the frontend's (AUTODOC_APP_URL): relative paths (url, waiver_url) become absolute links on it,
    and the DESCRIPTION carries them too (many calendar apps show only the description)."""
    def absolute(path: Any) -> str:
        text = str(path)
        return text if "://" in text else base_url.rstrip("/") + text

    method = str(invite.get("method") or "REQUEST").upper()
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported METHOD {method!r}")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)

    event = Event()
    event.add("uid", str(invite["uid"]))
    event.add("sequence", int(invite["sequence"]))
    event.add("dtstamp", (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0))
    event.add("dtstart", _instant(invite["start"]))
    event.add("dtend", _instant(invite["end"]))
    summary, description, location = invite_text(invite, base_url)
    event.add("summary", summary)
    if description:
        event.add("description", description)
    event.add("location", location)
    if invite.get("url"):
        event.add("url", absolute(invite["url"]))
    event.add("status", "CANCELLED" if method == "CANCEL" else str(invite.get("status") or "CONFIRMED"))
    event.add("transp", "OPAQUE")

    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["CN"] = vText(organizer_name)
    event.add("organizer", organizer)
    for person in invite.get("attendees") or []:
        if not person or not person.get("email"):
            continue
        attendee = vCalAddress(f"mailto:{person['email']}")
        if person.get("name"):
            attendee.params["CN"] = vText(str(person["name"]))
        attendee.params["ROLE"] = vText("REQ-PARTICIPANT")
        attendee.params["PARTSTAT"] = vText("NEEDS-ACTION")
        attendee.params["RSVP"] = vText("FALSE")
        event.add("attendee", attendee)
    cal.add_component(event)
    return bytes(cal.to_ical())

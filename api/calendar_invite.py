"""Calendar invites (RFC 5545 / iTIP RFC 5546) for appointments, with icalendar.

The database owns the invite's identity and order: a UID stable per session
(`<session-id>@autodoctor`) and a SEQUENCE it increments on every change (reschedule, new mechanic,
cancellation). This module only renders that data: METHOD REQUEST (new or updated) or CANCEL,
instants in UTC (no VTIMEZONE needed; every client shows them in the viewer's zone), AutoDoctor as
ORGANIZER and the recipient as ATTENDEE. Google Calendar, Apple Calendar and Outlook all accept it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//AutoDoctor//Booking//EN"


def _instant(value: Any) -> dt.datetime:
    """An ISO 8601 instant (as PostgreSQL's jsonb writes timestamptz) in UTC, whole seconds."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"instant without a time zone: {value!r}")
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def organizer_from(mail_from: str) -> tuple[str, str]:
    """(name, address) from a From header value like 'AutoDoctor <bookings@autodoctor.local>'."""
    name, address = parseaddr(mail_from)
    return name or "AutoDoctor", address or "bookings@autodoctor.local"


def build_invite(invite: Mapping[str, Any], *, organizer_name: str, organizer_email: str,
                 base_url: str = "", now: dt.datetime | None = None) -> bytes:
    """The .ics bytes for one invite as the database describes it (api.appointment_invite /
    the email payload's `invite`): uid, sequence, method, status, start, end, summary,
    description, location, url, waiver_url, attendees [{email, name}]. `base_url` is the
    frontend's (AUTODOC_APP_URL): relative paths (url, waiver_url) become absolute links on it,
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
    event.add("summary", str(invite.get("summary") or "AutoDoctor appointment"))
    lines = [str(invite["description"])] if invite.get("description") else []
    if invite.get("waiver_url") and method != "CANCEL":
        lines.append(f"Sign the waiver from 15 minutes before the start: {absolute(invite['waiver_url'])}")
    if invite.get("url") and method != "CANCEL":
        lines.append(f"Your appointment: {absolute(invite['url'])}")
    if lines:
        event.add("description", "\n".join(lines))
    if invite.get("location"):
        event.add("location", str(invite["location"]))
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

"""How facts the database hands over are shown to people: local times and places.

SQL gives emails and calendar invites facts only (UTC instants, an IANA zone, the workshop's name
and address parts); the wording lives in the templates (api/templates/). These helpers are the one
place a time or an address is formatted, for emails and invites alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ONLINE_PLACE = "Online (AutoDoctor)"


def instant(value: Any) -> dt.datetime:
    """An ISO 8601 instant (as PostgreSQL's jsonb writes timestamptz), aware."""
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"instant without a time zone: {value!r}")
    return moment


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _clock(moment: dt.datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def local_datetime(value: Any, zone: Any) -> str:
    """'Monday, March 4, 2030 at 10:00 AM' in the given zone ('' for no value)."""
    if value in (None, ""):
        return ""
    moment = instant(value).astimezone(_zone(zone))
    return f"{moment:%A}, {moment:%B} {moment.day}, {moment.year} at {_clock(moment)}"


def local_time(value: Any, zone: Any) -> str:
    """'10:30 AM' in the given zone ('' for no value)."""
    if value in (None, ""):
        return ""
    return _clock(instant(value).astimezone(_zone(zone)))


def place(facts: Mapping[str, Any] | None) -> str:
    """The workshop's name and address on one line, or the online place."""
    if not facts:
        return ONLINE_PLACE
    parts = (facts.get(k) for k in ("name", "address_line1", "address_line2", "city", "state_province",
                                    "postal_code", "country"))
    return ", ".join(str(p) for p in parts if p)

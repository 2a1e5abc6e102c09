"""Arranging booking data for the API and concurrency tests — through the same `api.*` functions
an admin or a DBA would call (no raw INSERTs), each call in its own transaction as a given caller.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tests.py.conftest import ClonedDatabase

ADMIN = "a0000000-0000-4000-8000-00000000000a"
TORONTO = ZoneInfo("America/Toronto")


def call(conn: psycopg.Connection[Any], function: str, **args: Any) -> Any:
    """`SELECT api.<function>(p_x => ...)` with keyword arguments named without the `p_` prefix."""
    named = {f"p_{k}": (Jsonb(v) if isinstance(v, dict | list) and not _texts(v) else v) for k, v in args.items()}
    query = sql.SQL("SELECT {}.{}({}) AS result").format(
        sql.Identifier("api"), sql.Identifier(function),
        sql.SQL(", ").join(sql.SQL("{} => {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in named))
    row = conn.execute(query, named).fetchone()
    assert row is not None
    return row[0] if not isinstance(row, dict) else row["result"]


def _texts(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v)


def authenticate(conn: psycopg.Connection[Any], user_id: str, role: str) -> None:
    """Become the caller for the current transaction, as the API does per request."""
    conn.execute("SELECT tests.authenticate_as(%s, %s)", [user_id, role])


@dataclass
class World:
    """A test database plus helpers that arrange data as an admin (or as the given caller)."""

    db: ClonedDatabase

    def __post_init__(self) -> None:
        # The database decides a token's role (app.users), so the admin whose tokens tests send exists.
        with psycopg.connect(self.db.superuser_dsn) as conn:
            conn.execute("INSERT INTO app.users (id, email, full_name, role) VALUES "
                         "(%s, 'test-admin@example.test', 'Test Admin', 'admin') ON CONFLICT DO NOTHING", [ADMIN])

    @contextmanager
    def as_caller(self, user_id: str, role: str, *,
                  now: dt.datetime | None = None) -> Iterator[psycopg.Connection[Any]]:
        """One transaction as that caller; `now` sets the trusted clock for it (test databases only)."""
        with psycopg.connect(self.db.superuser_dsn, row_factory=dict_row) as conn, conn.transaction():
            authenticate(conn, user_id, role)
            if now is not None:
                conn.execute("SELECT tests.set_now(%s)", [now])
            yield conn

    def admin(self, function: str, **args: Any) -> Any:
        with self.as_caller(ADMIN, "admin") as conn:
            return call(conn, function, **args)

    def customer(self, *, city: str | None = "Toronto", vehicle: bool = True) -> tuple[str, str | None]:
        """A customer (and one vehicle of theirs): (user id, vehicle id)."""
        email = f"c-{uuid.uuid4().hex[:10]}@example.test"
        cid = str(self.admin("create_customer", email=email, full_name="Casey Customer", country="CA",
                             state_province="ON", city=city, postal_code="M5V 1A1"))
        vid = None
        if vehicle:
            with self.as_caller(cid, "customer") as conn:
                vid = str(call(conn, "add_vehicle", make="Honda", model="Civic", year=2018))
        return cid, vid

    def mechanic(self, *, name: str = "Morgan Mechanic", timezone: str = "America/Toronto",
                 workshop_id: str | None = None, brands: list[str] | None = None, city: str = "Toronto",
                 on_shift: bool = False, rating: float = 4.5) -> str:
        args: dict[str, Any] = {"email": f"m-{uuid.uuid4().hex[:10]}@example.test", "full_name": name,
                                "city": city, "country": "CA", "state_province": "ON",
                                "rating": Decimal(str(rating))}
        if workshop_id:
            args["workshop_id"] = workshop_id
        else:
            args["timezone"] = timezone
        if brands:
            args["brand_specialist_brands"] = brands
            args["specialties"] = brands
        with self.as_caller(ADMIN, "admin") as conn:
            mid = str(call(conn, "create_mechanic", **args))
            if on_shift:
                call(conn, "set_shift", on_shift=True, mechanic_id=mid)
        return mid

    def session(self, customer_id: str, **args: Any) -> dict[str, Any]:
        """api.create_session as that customer (defaults: a video diagnostic, standard plan)."""
        args = {"type": "video", "plan_code": "standard", "concern": "Engine light is on", **args}
        with self.as_caller(customer_id, "customer") as conn:
            result: dict[str, Any] = call(conn, "create_session", **args)
            return result

    def one(self, query: str, params: Any = None) -> Any:
        with psycopg.connect(self.db.superuser_dsn) as conn:
            row = conn.execute(query, params).fetchone()
            return row[0] if row else None


def local(day: dt.date, hour: int, minute: int = 0, tz: ZoneInfo = TORONTO) -> dt.datetime:
    """A local wall-clock time as an aware instant."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=tz)


def booking_day(days_ahead: int = 3, tz: ZoneInfo = TORONTO) -> dt.date:
    """A local day safely inside the booking window (past the minimum notice, before the horizon)."""
    return (dt.datetime.now(tz) + dt.timedelta(days=days_ahead)).date()


def iso(moment: dt.datetime) -> str:
    return moment.isoformat()

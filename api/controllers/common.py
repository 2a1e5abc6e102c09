"""Helpers the booking controllers share: SQL arguments from request bodies, path values.

Handlers stay thin: they only check the *shape* of a request (Litestar + msgspec do most of it),
pass the values to one SQL function and return what it returns. Who may do what, and every
business rule, is the database's job (grants, row-level security, checks inside the functions).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from psycopg.types.json import Jsonb

from api.db import Conn, SqlArgs, call
from api.errors import field_error
from api.schemas import TimeOffRequest


def sql_args(data: msgspec.Struct, *, rename: dict[str, str] | None = None, jsonb: tuple[str, ...] = (),
             aliases: dict[str, str] | None = None, **extra: Any) -> SqlArgs:
    """The SQL function's named arguments from a request body: `p_<field>` for every field the
    client sent (fields left UNSET are omitted, so the SQL function's own defaults apply).
    Fields named in `jsonb` are passed as JSON (e.g. a list of objects to a jsonb parameter).

    It also records, for every body field, the SQL field (parameter without `p_`) -> the name
    the client used (`plan_code` -> `plan`, `starts_at` -> `startTime`), which errors use to name
    fields; `aliases` adds SQL names a helper reports for a field (e.g. `scheduled_for` for the
    hold's `start_time`)."""
    rename = rename or {}
    args: dict[str, Any] = {}
    names: dict[str, str] = {}
    for f in msgspec.structs.fields(type(data)):
        sql_name = rename.get(f.name, f"p_{f.name}")
        names[sql_name.removeprefix("p_")] = f.encode_name
        value = getattr(data, f.name)
        if value is msgspec.UNSET:
            continue
        if f.name in jsonb:
            value = Jsonb(msgspec.to_builtins(value))
        args[sql_name] = value
    for sql_field, body_field in (aliases or {}).items():
        names[sql_field] = names.get(rename.get(body_field, f"p_{body_field}").removeprefix("p_"), body_field)
    args.update(extra)
    return SqlArgs(args, names)


def parse_uuid(value: str, field: str) -> uuid.UUID:
    """A path parameter that must be a uuid: 422 validation_error otherwise (never a 404 or 500)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise field_error(field, "path", "Invalid UUID", f"{field} must be a UUID") from None


def parse_day(value: str, field: str = "date") -> dt.date:
    """A calendar day: 'YYYY-MM-DD', or an ISO 8601 instant whose date part (as written) is used,
    because the plan's calendar sends `date.toISOString()`. 422 validation_error otherwise."""
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise field_error(field, "body", "Invalid date", f"{field} must be a date like 2026-11-01") from None


async def time_off_args(db: Conn, data: TimeOffRequest, mechanic: uuid.UUID | None) -> SqlArgs:
    """`api.add_time_off`'s arguments from `{start_date, end_date, reason?}`, where each bound is an
    instant with its offset or a local day: a start day counts from that day's local midnight, an
    end day through the end of that day (the database knows the mechanic's zone:
    `api.mechanic_day_start`)."""
    args = sql_args(data, p_mechanic_id=mechanic)
    for field, is_end in (("start_date", False), ("end_date", True)):
        value: str = getattr(data, field)
        if len(value) == 10:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                raise field_error(field, "body", "Invalid date", f"{field} must be a date like 2026-12-10") from None
            day_args = {"p_day": day + dt.timedelta(days=1) if is_end else day, "p_mechanic_id": mechanic}
            args[f"p_{field}"] = await call(db, "mechanic_day_start", SqlArgs(day_args, {"day": field}))
        else:
            try:
                instant = dt.datetime.fromisoformat(value)
            except ValueError:
                instant = None
            if instant is None or instant.tzinfo is None:
                raise field_error(field, "body", "Invalid instant",
                                  f"{field} must be a day (2026-12-10) or an instant with its offset")
            args[f"p_{field}"] = instant
    return args

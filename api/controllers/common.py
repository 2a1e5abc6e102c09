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

from api.errors import api_error


def sql_args(data: msgspec.Struct, *, rename: dict[str, str] | None = None, jsonb: tuple[str, ...] = (),
             **extra: Any) -> dict[str, Any]:
    """The SQL function's named arguments from a request body: `p_<field>` for every field the
    client sent (fields left UNSET are omitted, so the SQL function's own defaults apply).
    Fields named in `jsonb` are passed as JSON (e.g. a list of objects to a jsonb parameter)."""
    rename = rename or {}
    args: dict[str, Any] = {}
    for field in data.__struct_fields__:
        value = getattr(data, field)
        if value is msgspec.UNSET:
            continue
        if field in jsonb:
            value = Jsonb(msgspec.to_builtins(value))
        args[rename.get(field, f"p_{field}")] = value
    args.update(extra)
    return args


def parse_uuid(value: str, field: str) -> uuid.UUID:
    """A path parameter that must be a uuid: 400 validation_error otherwise (never a 404 or 500)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise api_error(400, "validation_error", f"{field} must be a UUID",
                        [{"key": field, "source": "path", "message": "Invalid UUID"}]) from None


def parse_day(value: str, field: str = "date") -> dt.date:
    """A calendar day: 'YYYY-MM-DD', or an ISO 8601 instant whose date part (as written) is used,
    because the plan's calendar sends `date.toISOString()`. 400 validation_error otherwise."""
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value)
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise api_error(400, "validation_error", f"{field} must be a date like 2026-11-01",
                        [{"key": field, "source": "body", "message": "Invalid date"}]) from None

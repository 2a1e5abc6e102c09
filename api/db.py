"""Database access for the API: one pool of the API login role, one transaction per request.

Each request's transaction does `SET LOCAL ROLE autodoc_<role>` and sets `request.jwt.claims`,
so row-level security and grants decide what the caller may see and do — exactly as for a DBA
who connects with psql and does the same.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import Any

import psycopg
from litestar import Request
from psycopg import AsyncConnection, adapters, sql
from psycopg.adapt import Dumper
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from api.errors import field_error, remember_request_names

APP_ROLES = frozenset({"anon", "customer", "mechanic", "admin", "worker"})

Conn = AsyncConnection[dict[str, Any]]


def make_pool(url: str, *, min_size: int = 2, max_size: int = 16) -> AsyncConnectionPool[Conn]:
    return AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                               kwargs={"row_factory": dict_row, "application_name": "autodoc-api"})


async def as_caller(conn: Conn, claims: dict[str, Any]) -> None:
    """Become an internal caller (the worker, anon health checks) for the rest of the current
    transaction, with exactly these claims. Requests from people go through `begin_request`."""
    role = claims.get("role", "anon")
    if role not in APP_ROLES:  # the JWT layer rejects these first; this is the last line of defence
        raise ValueError(f"unknown role {role!r}")
    await conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(f"autodoc_{role}")))
    await conn.execute("SELECT set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])


async def begin_request(conn: Conn, identity: dict[str, Any] | None) -> str:
    """Become the caller a verified token names (api/auth.py) for the rest of the transaction, in
    one round trip: the DATABASE decides the application role from app.users (a token's role claim
    never elevates; see app_private.begin_request). Returns that role; raises 403 account_deleted
    as a database error."""
    row = await (await conn.execute("SELECT app_private.begin_request(%s) AS role",
                                    [Jsonb(identity or {})])).fetchone()
    return str(row["role"]) if row else "anon"


async def provide_db(request: Request[Any, Any, Any]) -> AsyncGenerator[Conn, None]:
    """Litestar dependency `db`: a connection inside the caller's transaction.

    An exception in the handler is thrown into this generator, which rolls the transaction back.
    """
    identity: dict[str, Any] | None = request.scope.get("user")
    pool: AsyncConnectionPool[Conn] = request.app.state.pool
    async with pool.connection() as conn, conn.transaction():
        role = await begin_request(conn, identity)
        if isinstance(identity, dict):
            identity["role"] = role  # what error messages say the caller was (api/errors.py)
        yield conn


class SqlArgs(dict[str, Any]):
    """Named SQL arguments that remember how the client named each one (`names`: SQL field, i.e.
    the parameter without `p_`, -> request field), so errors speak the client's names."""

    def __init__(self, args: dict[str, Any], names: dict[str, str]) -> None:
        super().__init__(args)
        self.names = names


def _request_name(args: dict[str, Any], key: str) -> str:
    field = key.removeprefix("p_")
    return args.names.get(field, field) if isinstance(args, SqlArgs) else field


async def _execute(db: Conn, query: sql.Composed, args: dict[str, Any]) -> Any:
    try:
        return await db.execute(query, _adapt(args))
    except psycopg.Error as e:
        if isinstance(args, SqlArgs):
            remember_request_names(e, args.names)
        raise


def _named(args: dict[str, Any]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("{} => {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in args)


async def call_rows(db: Conn, function: str, args: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """`SELECT * FROM api.<function>(name => value, ...)` for set-returning functions: every row."""
    args = args or {}
    query = sql.SQL("SELECT * FROM {}.{}({})").format(sql.Identifier("api"), sql.Identifier(function), _named(args))
    rows = await (await _execute(db, query, args)).fetchall()
    # numeric columns (ratings, scores) as JSON numbers rather than msgspec's decimal strings
    return [{k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()} for row in rows]


async def call(db: Conn, function: str, args: dict[str, Any] | None = None) -> Any:
    """`SELECT api.<function>(name => value, ...)`: the one way handlers run SQL. Returns the value."""
    args = args or {}
    query = sql.SQL("SELECT {}.{}({}) AS result").format(sql.Identifier("api"), sql.Identifier(function),
                                                         _named(args))
    row = await (await _execute(db, query, args)).fetchone()
    return row["result"] if row else None


class _UntypedInt(int):
    """An integer argument whose SQL type the function's parameter decides (see `_adapt`)."""


class _UntypedIntDumper(Dumper):
    oid = 0  # "unknown": PostgreSQL reads the text as the parameter's declared type

    def dump(self, obj: Any) -> bytes:
        return str(int(obj)).encode()


adapters.register_dumper(_UntypedInt, _UntypedIntDumper)


def _adapt(args: dict[str, Any]) -> dict[str, Any]:
    """Python values as the SQL function's parameter types: dicts -> jsonb, floats -> numeric
    (float8 does not implicitly cast to numeric in function resolution); lists of str stay text[].

    Integers go untyped: psycopg would send the smallest type that holds the value (int2, int4,
    int8, numeric), and an int8 or numeric argument matches no `integer` parameter, so a large
    value (`?offset=2147483648`, an outbox id past 2^63) made "function does not exist" (42883, a
    500). Untyped, the server reads the value as the declared type and a value too large for it is
    "out of range" (22003, a 422 validation_error)."""
    out: dict[str, Any] = {}
    for k, v in args.items():
        _reject_nul(v, _request_name(args, k))
        _reject_out_of_range(v, _request_name(args, k))
        if isinstance(v, dict):
            out[k] = Jsonb(v)
        elif isinstance(v, float):
            out[k] = Decimal(repr(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            out[k] = _UntypedInt(v)
        else:
            out[k] = v
    return out


# Instants and days outside these years are refused as malformed: nothing real is booked there, and
# at the edges of the calendar PostgreSQL answers with values Python cannot represent (year 0, 10000).
EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


def _reject_out_of_range(value: Any, field: str) -> None:
    if isinstance(value, dt.datetime):
        ok = value.tzinfo is None or EARLIEST <= value < LATEST
    elif isinstance(value, dt.date):
        ok = EARLIEST.date() <= value < LATEST.date()
    else:
        return
    if not ok:
        raise field_error(field, "body", "Out of range", f"{field} must be between the years 1900 and 2999")


def _reject_nul(value: Any, field: str) -> None:
    """PostgreSQL text (and jsonb) cannot hold NUL characters; say so as a 422, not a driver error."""
    if isinstance(value, Jsonb):
        value = value.obj
    if isinstance(value, str):
        if "\x00" in value:
            raise field_error(field, "body", "NUL character", f"{field} must not contain NUL characters")
    elif isinstance(value, dict):
        for k, v in value.items():
            _reject_nul(k, field)
            _reject_nul(v, field)
    elif isinstance(value, list | tuple):
        for v in value:
            _reject_nul(v, field)

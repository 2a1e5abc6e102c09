"""Database access for the API: one pool of the API login role, one transaction per request.

Each request's transaction does `SET LOCAL ROLE autodoc_<role>` and sets `request.jwt.claims`,
so row-level security and grants decide what the caller may see and do — exactly as for a DBA
who connects with psql and does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import psycopg
from litestar import Request
from psycopg import AsyncConnection, adapters, sql
from psycopg.adapt import Dumper
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.errors import field_error, remember_request_names
from api.outage import OutcomeUnknown, is_connection_loss, tune_pool_reconnect
from api.wake import WAKE_SQL

log = logging.getLogger("autodoc.api")

APP_ROLES = frozenset({"anon", "customer", "mechanic", "admin", "worker"})

Conn = AsyncConnection[dict[str, Any]]


DEFAULT_POOL_TIMEOUT = 5.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

async def wake_after_commit(conn: Conn) -> None:
    """Wake the worker and the relays (best effort: the polls cover a lost wake-up)."""
    try:
        await conn.set_autocommit(True)
        try:
            await conn.execute(WAKE_SQL)
        finally:
            await conn.set_autocommit(False)
    except psycopg.Error as e:
        log.info("wake-up after commit not sent (%s); the worker's and relays' polls will find the rows", e)


def make_pool(url: str, *, min_size: int = 2, max_size: int = 16,
              timeout: float = DEFAULT_POOL_TIMEOUT) -> AsyncConnectionPool[Conn]:
    """The API's pool. `timeout` bounds the wait for a connection (AUTODOC_DB_POOL_TIMEOUT; then
    503 database_unavailable). The pool never gives up reconnecting (reconnect_timeout: a day) and
    retries at a constant short pace (api/outage.py), so it is back as soon as the database is."""
    tune_pool_reconnect()
    return AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False, timeout=timeout,
                               reconnect_timeout=86400.0,
                               kwargs={"row_factory": dict_row, "application_name": "autodoc-api"})


_stale_check: set[asyncio.Task[None]] = set()


def _check_pool_soon(pool: AsyncConnectionPool[Conn]) -> None:
    """One stale connection found means the others in the pool are stale too (the server restarted):
    have the pool test and replace them all in the background, once at a time."""
    if _stale_check:
        return
    task = asyncio.ensure_future(pool.check())
    _stale_check.add(task)
    task.add_done_callback(_stale_check.discard)


def _after_commit(conn: Conn, hook: Callable[[Conn], Awaitable[None]]) -> Callable[..., Awaitable[bool]]:
    async def exit_(exc_type: type[BaseException] | None, *_: object) -> bool:
        if exc_type is None:  # the transaction committed (its context left without an error)
            await hook(conn)
        return False
    return exit_


@contextlib.asynccontextmanager
async def caller_transaction(pool: AsyncConnectionPool[Conn], become: Callable[[Conn], Awaitable[None]],
                             wait: float | None = None,
                             after_commit: Callable[[Conn], Awaitable[None]] | None = None,
                             ) -> AsyncGenerator[Conn, None]:
    """A connection inside a transaction, after `become(conn)` made it the caller's; `after_commit`
    runs on the same connection once the transaction committed (before it goes back to the pool).

    A pooled connection can be stale (the server restarted since it was last used). Its first
    statements (BEGIN, becoming the caller) then fail with a connection-loss error before anything was
    done, so it is safe to drop it and take another: no request fails because of a stale pooled
    connection. The whole wait is bounded by the pool timeout (then PoolTimeout: a 503)."""
    deadline = time.monotonic() + (wait if wait is not None else pool.timeout)
    while True:
        stack = contextlib.AsyncExitStack()
        try:
            conn = await stack.enter_async_context(pool.connection(timeout=max(deadline - time.monotonic(), 0.001)))
            if after_commit is not None:
                stack.push_async_exit(_after_commit(conn, after_commit))
            await stack.enter_async_context(conn.transaction())
            await become(conn)
        except psycopg.OperationalError as e:
            with contextlib.suppress(Exception):
                await stack.__aexit__(type(e), e, e.__traceback__)
            if not is_connection_loss(e) or isinstance(e, PoolTimeout) or time.monotonic() >= deadline:
                raise
            log.info("dropped a stale pooled connection (%s)", type(e).__name__)
            _check_pool_soon(pool)
            continue
        except BaseException as e:
            await stack.__aexit__(type(e), e, e.__traceback__)
            raise
        async with stack:
            yield conn
        return


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
    A connection lost while COMMIT was in flight leaves the outcome unknown: OutcomeUnknown (503
    outcome_unknown) for requests that may write; for reads it is a plain database_unavailable.
    """
    identity: dict[str, Any] | None = request.scope.get("user")
    pool: AsyncConnectionPool[Conn] = request.app.state.pool
    committing = False

    async def become(conn: Conn) -> None:
        role = await begin_request(conn, identity)
        if isinstance(identity, dict):
            identity["role"] = role  # what error messages say the caller was (api/errors.py)

    # A writing request wakes the worker and the relays once it committed. POST routes that only
    # read (availability lookups) say so with opt={"reads_only": True}.
    writes = request.method not in SAFE_METHODS and not request.route_handler.opt.get("reads_only")
    try:
        async with caller_transaction(pool, become, after_commit=wake_after_commit if writes else None) as conn:
            yield conn
            committing = True  # the handler returned: leaving the block sends COMMIT
    except psycopg.OperationalError as e:
        if committing and is_connection_loss(e) and request.method not in SAFE_METHODS:
            raise OutcomeUnknown(str(e)) from e
        raise


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

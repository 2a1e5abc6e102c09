"""Database access for the API: one pool of the API login role, one transaction per request.

Each request's transaction does `SET LOCAL ROLE autodoc_<role>` and sets `request.jwt.claims`,
so row-level security and grants decide what the caller may see and do — exactly as for a DBA
who connects with psql and does the same.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

APP_ROLES = frozenset({"anon", "customer", "mechanic", "admin", "worker"})

Conn = AsyncConnection[dict[str, Any]]


def make_pool(url: str, *, min_size: int = 2, max_size: int = 16) -> AsyncConnectionPool[Conn]:
    return AsyncConnectionPool(url, min_size=min_size, max_size=max_size, open=False,
                               kwargs={"row_factory": dict_row, "application_name": "autodoc-api"})


async def as_caller(conn: Conn, claims: dict[str, Any]) -> None:
    """Become the caller for the rest of the current transaction."""
    role = claims.get("role", "anon")
    if role not in APP_ROLES:  # the JWT layer rejects these first; this is the last line of defence
        raise ValueError(f"unknown role {role!r}")
    await conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(f"autodoc_{role}")))
    await conn.execute("SELECT set_config('request.jwt.claims', %s, true)", [json.dumps(claims)])


async def provide_db(request: Request[Any, Any, Any]) -> AsyncGenerator[Conn, None]:
    """Litestar dependency `db`: a connection inside the caller's transaction.

    An exception in the handler is thrown into this generator, which rolls the transaction back.
    """
    claims: dict[str, Any] = request.scope.get("user") or {"role": "anon"}
    pool: AsyncConnectionPool[Conn] = request.app.state.pool
    async with pool.connection() as conn, conn.transaction():
        await as_caller(conn, claims)
        yield conn


async def call(db: Conn, function: str, args: dict[str, Any] | None = None) -> Any:
    """`SELECT api.<function>(name => value, ...)`: the one way handlers run SQL. Returns the value."""
    args = args or {}
    named = sql.SQL(", ").join(sql.SQL("{} => {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in args)
    query = sql.SQL("SELECT {}.{}({}) AS result").format(sql.Identifier("api"), sql.Identifier(function), named)
    row = await (await db.execute(query, args)).fetchone()
    return row["result"] if row else None

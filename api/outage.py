"""Losing the database: what a request answers, and how the pool gets back quickly.

Three things a client can be told when the database connection is the problem (issue 15):

- 503 `database_unavailable` + `Retry-After`: the request did nothing (the connection was lost
  before COMMIT was sent, or none could be had within AUTODOC_DB_POOL_TIMEOUT). Safe to retry.
- 503 `outcome_unknown` + `Retry-After`: the connection was lost while COMMIT was in flight, so
  the change may or may not have been saved. Check (e.g. list my appointments) before retrying;
  a retried booking is refused as a duplicate or overlap if the first one was saved.
- Anything else from PostgreSQL keeps its usual mapping (api/errors.py).

"Connection lost" is decided here once: SQLSTATE class 08 (connection exception), 57P01/57P02/57P03
(admin shutdown, crash shutdown, cannot connect now), an OperationalError with no SQLSTATE at all
(the socket closed under us), or the pool giving up waiting (PoolTimeout).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import psycopg_pool
from litestar import Request, Response

from api.errors import database_error_handler, error_body

log = logging.getLogger("autodoc.api")

RETRY_AFTER_SECONDS = 1
LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})

# How fast the pool reconnects. psycopg_pool retries a failed connection attempt with exponential
# backoff (1 s, 2 s, 4 s, ...), so after a 45 s outage the API answered again 14.5 s after the
# database was back. The attempt class is module state of psycopg_pool, used only by the pools of
# this process (the API's one pool): retry every 0.2 s at a constant pace instead, so the first
# request succeeds within ~0.2 s of the database accepting connections, whatever the outage's
# length. A refused connection attempt costs next to nothing. The fault suite measures it.
RECONNECT_INTERVAL_SECONDS = 0.2


def tune_pool_reconnect() -> None:
    # psycopg_pool logs every failed attempt as a warning: five lines a second per connection during
    # an outage. Requests that meet the outage are logged (operational_error_handler); that is enough.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    attempt = psycopg_pool.base.AttemptWithBackoff
    attempt.INITIAL_DELAY = RECONNECT_INTERVAL_SECONDS
    attempt.DELAY_BACKOFF = 1.0
    attempt.DELAY_JITTER = 0.25


def is_connection_loss(exc: BaseException) -> bool:
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate or ""
    return not state or state.startswith("08") or state in LOST_SQLSTATES


class OutcomeUnknown(Exception):
    """The connection was lost while COMMIT was in flight (raised by api.db.provide_db)."""


UNAVAILABLE = "The database is unavailable; please retry shortly."
UNKNOWN = ("The database connection was lost while saving; the change may or may not have been saved. "
           "Check before retrying.")
RETRY = {"retry_after_seconds": RETRY_AFTER_SECONDS}
RETRY_HEADERS = {"Retry-After": str(RETRY_AFTER_SECONDS)}


def unavailable_response() -> Response[Any]:
    return Response(error_body("database_unavailable", UNAVAILABLE, RETRY), status_code=503, headers=RETRY_HEADERS)


def outcome_unknown_response() -> Response[Any]:
    return Response(error_body("outcome_unknown", UNKNOWN, RETRY), status_code=503, headers=RETRY_HEADERS)


def operational_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """psycopg.OperationalError (PoolTimeout included): a lost connection is a 503; any other
    operational error (serialization failure, lock or statement timeout) keeps its mapping."""
    if is_connection_loss(exc):
        log.warning("%s %s: database unavailable (%s: %s)", request.method, request.url.path,
                    type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        return unavailable_response()
    return database_error_handler(request, exc)


def outcome_unknown_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("%s %s: connection lost during COMMIT (%s): outcome unknown", request.method, request.url.path,
              exc.__cause__)
    return outcome_unknown_response()

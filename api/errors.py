"""The one place that turns database errors into HTTP errors `{code, message, detail}`.

Business rules raise through `app_private.raise_error(status, code, message, detail)`, i.e.
SQLSTATE 'AD<status>' with HINT = code and DETAIL = JSON; constraints are mapped by name;
everything else by SQLSTATE. Nothing here decides a rule — it only translates.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException

log = logging.getLogger("autodoc.api")

# Constraint name -> (HTTP status, stable code, message). One entry per constraint clients can hit.
CONSTRAINT_CODES: dict[str, tuple[int, str, str]] = {
    "sessions_no_mechanic_overlap": (409, "slot_unavailable", "That time slot is no longer available."),
    "sessions_no_customer_overlap": (409, "customer_overlap", "You already have an appointment at that time."),
    "users_email_unique": (409, "email_taken", "That email address is already registered."),
}

SQLSTATE_CODES: dict[str, tuple[int, str, str]] = {
    "42501": (403, "forbidden", "You are not allowed to do that."),
    "23503": (422, "validation_error", "A referenced record does not exist."),
    "23502": (422, "validation_error", "A required value is missing."),
    "23514": (422, "validation_error", "A value is out of range."),
    "22P02": (422, "validation_error", "A value has the wrong format."),
    "22007": (422, "validation_error", "A date or time has the wrong format."),
    "22008": (422, "validation_error", "A date or time is out of range."),
    "22023": (422, "validation_error", "A value is invalid."),
    "22003": (422, "validation_error", "A number is out of range."),
    "22001": (422, "validation_error", "A value is too long."),
    "23505": (409, "conflict", "That already exists."),
    "23P01": (409, "conflict", "That conflicts with an existing record."),
    "P0002": (404, "not_found", "Not found."),
    "40001": (503, "retry", "The database was busy; please retry."),
    "40P01": (503, "retry", "The database was busy; please retry."),
    "55P03": (503, "retry", "The database was busy; please retry."),
    "57014": (503, "timeout", "The request took too long."),
}


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "detail": detail}


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def translate(exc: psycopg.Error) -> tuple[int, dict[str, Any]]:
    diag = exc.diag
    state = diag.sqlstate or ""
    if state.startswith("AD") and state[2:].isdigit():
        return int(state[2:]), error_body(diag.message_hint or "error", diag.message_primary or "",
                                          _json_or_none(diag.message_detail))
    if diag.constraint_name and diag.constraint_name in CONSTRAINT_CODES:
        status, code, message = CONSTRAINT_CODES[diag.constraint_name]
        return status, error_body(code, message, {"constraint": diag.constraint_name})
    if state in SQLSTATE_CODES:
        status, code, message = SQLSTATE_CODES[state]
        detail = {"constraint": diag.constraint_name} if diag.constraint_name else None
        return status, error_body(code, message, detail or (diag.message_primary or None))
    log.exception("unmapped database error %s", state, exc_info=exc)
    return 500, error_body("internal_error", "Something went wrong on our side.")


def database_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, psycopg.Error)
    status, body = translate(exc)
    return Response(body, status_code=status)


def http_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.extra, dict) and "code" in exc.extra:  # raised by our own handlers
        return Response(error_body(exc.extra["code"], exc.detail, exc.extra.get("detail")),
                        status_code=exc.status_code)
    if isinstance(exc, NotAuthorizedException):
        code = "unauthorized"
    elif isinstance(exc, ValidationException) or exc.status_code == 400:
        # Litestar's own 400s (malformed JSON, a body that is not an object) are shape errors too.
        code = "validation_error"
    else:
        code = {404: "not_found", 405: "method_not_allowed", 403: "forbidden"}.get(exc.status_code, "http_error")
    return Response(error_body(code, exc.detail, exc.extra or None), status_code=exc.status_code)


def api_error(status: int, code: str, message: str, detail: Any = None) -> HTTPException:
    """An HTTP error raised by a handler for a shape problem the database never saw."""
    return HTTPException(status_code=status, detail=message, extra={"code": code, "detail": detail})

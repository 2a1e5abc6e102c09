"""The one place that turns errors into HTTP errors `{code, message, detail}`.

Business rules raise through `app_private.raise_error(status, code, message, detail)`, i.e.
SQLSTATE 'AD<status>' with HINT = code and DETAIL = JSON; constraints are mapped by name;
everything else by SQLSTATE. Nothing here decides a rule — it only translates.

Field names: SQL functions name the offending *parameter* in `detail.field` (`plan_code`,
`starts_at`); a client must see the name it sent (`plan`, `startTime`). Handlers pass their body
through `sql_args` (api/controllers/common.py), which knows both names; `call`/`call_rows` attach
that map to the database error, and `translate` below renames `detail.field` with it — the one
place SQL names become request names.

Every code raised here or in SQL is listed in docs/conventions.md (a test compares both ways).
"""

from __future__ import annotations

import json
import logging
import re
from http import HTTPStatus
from typing import Any

import jwt
import psycopg
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema

log = logging.getLogger("autodoc.api")

# Constraint name -> (HTTP status, stable code, message). One entry per constraint clients can hit.
# The message is the code's one message in the database's error catalog (db/functions/00_errors.sql);
# tests/py/test_error_messages.py fails if they differ.
CONSTRAINT_CODES: dict[str, tuple[int, str, str]] = {
    "sessions_no_mechanic_overlap": (409, "slot_unavailable", "That time slot is not available"),
    "sessions_no_customer_overlap": (409, "customer_overlap", "You already have an appointment at that time"),
    "users_email_unique": (409, "email_taken", "That email address is already registered"),
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

# Litestar's own HTTP errors (routing, auth, body size) -> our code for that status.
HTTP_STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}

_REQUEST_NAMES = "autodoc_request_names"


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "detail": detail}


def remember_request_names(exc: BaseException, names: dict[str, str]) -> None:
    """Attach "SQL field -> request field" to a database error on its way to `translate`."""
    setattr(exc, _REQUEST_NAMES, names)


def _json_or_none(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _to_request_names(message: str, detail: Any, names: dict[str, str]) -> tuple[str, Any]:
    """`detail.field` (and the same word in the message) as the client named it."""
    if not names or not isinstance(detail, dict) or not isinstance(detail.get("field"), str):
        return message, detail
    sql_field = detail["field"]
    request_field = names.get(sql_field)
    if request_field is None or request_field == sql_field:
        return message, detail
    message = re.sub(rf"\b{re.escape(sql_field)}\b", request_field, message)
    return message, {**detail, "field": request_field}


def translate(exc: psycopg.Error) -> tuple[int, dict[str, Any]]:
    diag = exc.diag
    state = diag.sqlstate or ""
    if state.startswith("AD") and state[2:].isdigit():
        message, detail = _to_request_names(diag.message_primary or "", _json_or_none(diag.message_detail),
                                            getattr(exc, _REQUEST_NAMES, {}))
        return int(state[2:]), error_body(diag.message_hint or "error", message, detail)
    if diag.constraint_name and diag.constraint_name in CONSTRAINT_CODES:
        status, code, message = CONSTRAINT_CODES[diag.constraint_name]
        return status, error_body(code, message, {"constraint": diag.constraint_name})
    if state in SQLSTATE_CODES:
        status, code, message = SQLSTATE_CODES[state]
        if status == 403:  # the caller gets told what they may not do, never the SQL object's name
            return status, error_body(code, message)
        detail = {"constraint": diag.constraint_name} if diag.constraint_name else None
        return status, error_body(code, message, detail or (diag.message_primary or None))
    log.exception("unmapped database error %s", state, exc_info=exc)
    return 500, error_body("internal_error", "Something went wrong on our side.")


def _caller_role(request: Request[Any, Any, Any]) -> str:
    user = request.scope.get("user")
    return str(user.get("role", "anon")) if isinstance(user, dict) else "anon"


def database_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, psycopg.Error)
    status, body = translate(exc)
    headers: dict[str, str] = {}
    if exc.diag.sqlstate == "42501":
        # a grant or a row-level security policy refused: "permission denied for function ..."
        # names SQL objects; say instead which request this role may not make
        role = _caller_role(request)
        article = "An" if role[:1] in ("a", "e", "i", "o", "u") else "A"
        body = error_body("forbidden", f"{article} {role} may not {request.method} {request.url.path}.",
                          {"role": role, "method": request.method, "path": request.url.path})
    if status == 429 and isinstance(body["detail"], dict) and "retry_after_seconds" in body["detail"]:
        headers["Retry-After"] = str(max(1, int(body["detail"]["retry_after_seconds"])))
    return Response(body, status_code=status, headers=headers or None)


def field_error(field: str | None, source: str, reason: str, message: str | None = None,
                errors: list[dict[str, str]] | None = None) -> HTTPException:
    """422 validation_error for one field, named as the client sent it (`detail.field`; null when
    the body as a whole is wrong, e.g. an array where an object is meant)."""
    detail: dict[str, Any] = {"field": field, "source": source, "reason": reason}
    if errors and len(errors) > 1:
        detail["errors"] = errors
    return api_error(422, "validation_error", message or f"{field}: {reason}", detail)


def _litestar_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """Litestar's parameter errors (query, path, header): `extra` is a list of {key, source, message},
    `key` the handler's argument; the client knows the parameter by its alias (`from`, not `from_date`)."""
    params = request.route_handler.parsed_fn_signature.parameters
    errors: list[dict[str, str]] = []
    for e in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(e, dict):
            continue
        key, source = str(e.get("key", "")), e.get("source", "")
        kwarg = getattr(params.get(key), "kwarg_definition", None)
        alias = getattr(kwarg, "query", None) or getattr(kwarg, "header", None)
        errors.append({"field": alias or key, "source": str(getattr(source, "value", source)),
                       "reason": str(e.get("message", ""))})
    first = errors[0] if errors else {"field": "", "source": "", "reason": str(exc.detail)}
    err = field_error(first["field"], first["source"], first["reason"], errors=errors)
    assert isinstance(err.extra, dict)
    return Response(error_body("validation_error", err.detail, err.extra["detail"]), status_code=422)


def http_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    if isinstance(exc.extra, dict) and "code" in exc.extra:  # raised by our own handlers
        return Response(error_body(exc.extra["code"], exc.detail, exc.extra.get("detail")),
                        status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, NotAuthorizedException):
        # api/auth.py chains the token's fault: expired (refresh and retry) or invalid (sign in again)
        if isinstance(exc.__cause__, jwt.ExpiredSignatureError):
            return Response(error_body("token_expired", "The token has expired; get a new one."), status_code=401)
        if isinstance(exc.__cause__, jwt.InvalidTokenError):
            return Response(error_body("invalid_token", "The token is not valid."), status_code=401)
        return Response(error_body("unauthorized", exc.detail), status_code=401)
    if isinstance(exc, ValidationException):
        return _litestar_validation(request, exc)
    code = HTTP_STATUS_CODES.get(exc.status_code, "http_error")
    return Response(error_body(code, exc.detail, exc.extra or None), status_code=exc.status_code)


def too_deep_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A request body nested deeper than Python can walk (`[[[[...]]]]`, `{"metadata": {"a": {...}}}`):
    msgspec, json and our own checks all recurse, and every one of them ends in RecursionError."""
    assert isinstance(exc, RecursionError)
    log.warning("%s %s: request nested too deeply", request.method, request.url.path)
    return Response(error_body("malformed_json", "The request body is nested too deeply.", None), status_code=400)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything else that escaped a handler: a 500, but still `{code, message, detail}` (Litestar's
    own fallback answers `{status_code, detail}`) and logged with its traceback."""
    log.error("%s %s: unhandled %s", request.method, request.url.path, type(exc).__name__, exc_info=exc)
    return Response(error_body("internal_error", "Something went wrong on our side."), status_code=500)


def api_error(status: int, code: str, message: str, detail: Any = None,
              headers: dict[str, str] | None = None) -> HTTPException:
    """An HTTP error raised by a handler for a shape problem the database never saw."""
    return HTTPException(status_code=status, detail=message, extra={"code": code, "detail": detail}, headers=headers)


def json_error_bodies(response: Response[Any]) -> Response[Any]:
    """`after_request`: an error a handler *returned* with a body that is not JSON becomes
    `{code, message, detail}` too (Litestar's schema router answers unknown /schema/... paths with
    an HTML 404 page). Raised errors never get here: the handlers above shape them."""
    status = response.status_code or 200
    # media_type None: the handler's own, JSON for every handler that can answer an error this way
    # (/health's 503 report is one: it keeps its `{status, database}` shape)
    if status < 400 or response.media_type in (None, MediaType.JSON):
        return response
    code = HTTP_STATUS_CODES.get(status, "http_error")
    message = HTTPStatus(status).phrase if status in _KNOWN_STATUSES else "Error"
    return Response(error_body(code, message), status_code=status, media_type=MediaType.JSON)


_KNOWN_STATUSES = frozenset(int(s) for s in HTTPStatus)

ERROR_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["code", "message", "detail"],
    properties={
        "code": Schema(type=OpenAPIType.STRING,
                       description="Stable machine-readable code (docs/conventions.md lists every one)"),
        "message": Schema(type=OpenAPIType.STRING, description="For people"),
        "detail": Schema(
            one_of=[Schema(type=OpenAPIType.NULL), Schema(type=OpenAPIType.STRING),
                    Schema(type=OpenAPIType.OBJECT, additional_properties=True),
                    Schema(type=OpenAPIType.ARRAY, items=Schema())],
            description="null, or facts for the client: validation errors carry field (the request's name), "
                        "source and reason; business errors carry the ids and limits involved"),
    },
    additional_properties=False,
    description="Every error the API answers with",
)


def document_errors(openapi: OpenAPI) -> None:
    """Make the OpenAPI document say what errors look like: Litestar documents its own
    `{status_code, detail: string, extra}` for 400s, which is not what clients get. Every API
    operation's error responses (and any other 4XX/5XX) refer to the one `Error` schema."""
    openapi.components.schemas["Error"] = ERROR_SCHEMA
    ref = Reference(ref="#/components/schemas/Error")

    def response(description: str) -> OpenAPIResponse:
        return OpenAPIResponse(description=description, content={MediaType.JSON: OpenAPIMediaType(schema=ref)})

    for path, item in (openapi.paths or {}).items():
        if not path.startswith("/api/"):
            continue  # /health documents its own 503 body
        for method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for status, documented in list(responses.items()):
                if status[:1] in "45" and isinstance(documented, OpenAPIResponse):
                    responses[status] = response(documented.description)
            responses.setdefault("4XX", response("The request was refused: see code and detail"))
            responses.setdefault("5XX", response("The server failed or is unavailable"))
            operation.responses = responses

"""Strict request bodies: the one gate every JSON body passes before a handler runs.

Litestar converts a body into the handler's msgspec Struct in *lax* mode (`"2018"` becomes 2018,
`"true"` and `1` become True, `"null"` becomes None), and it reads any content type as JSON. This
`before_request` hook decodes the body itself, strictly, against the same Struct first:

- a body that is not `application/json` (or `application/*+json`)  -> 415 unsupported_media_type
- a body that is not JSON at all (or none where one is required)   -> 400 malformed_json
- JSON with a wrong type, a missing or unknown field, a value out of bounds
                                                                    -> 422 validation_error with
  `detail.field` = the field as the client named it (`startTime`, `blocks[0].day_of_week`).

A body that passes decodes to the same values in Litestar's lax mode, so the handler then gets
exactly what was checked here.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.handlers import HTTPRouteHandler

from api.errors import api_error, field_error

_NO_BODY = object()

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED = re.compile(r"(?:missing required|unknown) field `(?P<name>[^`]+)`")


def body_type(handler: HTTPRouteHandler) -> tuple[Any, bool]:
    """The Struct a handler takes as `data` (or _NO_BODY), and whether the body may be left out."""
    param = handler.parsed_fn_signature.parameters.get("data")
    if param is None:
        return _NO_BODY, True
    return param.annotation, param.has_default


def is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def field_of(error: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's message -> (the request's field path, the reason). Paths use the encoded (JSON)
    names: `$.startTime`, `$.blocks[0].day_of_week`; a missing/unknown field names itself."""
    text = str(error)
    path, reason = "", text
    if m := _AT.search(text):
        path, reason = m.group("path"), text[: m.start()]
    path = path.removeprefix(".")
    if m := _NAMED.search(reason):
        path = f"{path}.{m.group('name')}" if path else m.group("name")
    return path, reason


async def strict_body(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook (see the module docstring)."""
    target, optional = body_type(request.route_handler)
    if target is _NO_BODY:
        return
    body = await request.body()
    if optional and not body.strip():
        return  # e.g. a rejection without a reason
    if body.strip() and not is_json_media_type(request.headers.get("content-type")):
        raise api_error(415, "unsupported_media_type", "Send the body as JSON (Content-Type: application/json).",
                        {"content_type": request.headers.get("content-type")})
    try:
        msgspec.json.decode(body, type=target, strict=True)
    except msgspec.ValidationError as e:
        field, reason = field_of(e)
        raise field_error(field or None, "body", reason, f"{field or 'body'}: {reason}") from None
    except msgspec.DecodeError as e:
        message = "A JSON body is required." if not body.strip() else "The request body is not valid JSON."
        raise api_error(400, "malformed_json", message, {"reason": str(e)}) from None

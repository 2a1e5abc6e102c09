"""The OpenAPI document as a contract: component schemas from msgspec itself.

Litestar builds component schemas from the handlers' signatures but drops constraints nested
inside a container or a union (`list[Annotated[str, Meta(max_length=500)]] | UnsetType` loses
the item's maxLength, `Literal`s and `additionalProperties: false` go too). msgspec generates the
exact JSON Schema (2020-12, what OpenAPI 3.1 uses) of the Structs the API really decodes and
encodes, so every component Litestar names is replaced by msgspec's schema of the same Struct:
the document says exactly what the code enforces.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPI, OpenAPIType, Reference, Schema, SecurityScheme

from api import responses, schemas
from api.errors import document_errors


def _structs() -> list[type[msgspec.Struct]]:
    return [t for module in (schemas, responses) for t in vars(module).values()
            if isinstance(t, type) and issubclass(t, msgspec.Struct) and t.__module__ == module.__name__]


def _to_spec(value: Any) -> Any:
    """msgspec's JSON Schema (dicts) as Litestar Schema objects, which the document serializes."""
    if isinstance(value, list):
        return [_to_spec(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$ref" in value:
        return Reference(ref=value["$ref"])
    fields = {"anyOf": "any_of", "oneOf": "one_of", "allOf": "all_of", "maxLength": "max_length",
              "minLength": "min_length", "maxItems": "max_items", "minItems": "min_items",
              "additionalProperties": "additional_properties", "exclusiveMinimum": "exclusive_minimum",
              "exclusiveMaximum": "exclusive_maximum", "minimum": "minimum", "maximum": "maximum",
              "type": "type", "format": "format", "pattern": "pattern", "enum": "enum", "items": "items",
              "properties": "properties", "required": "required", "title": "title", "description": "description",
              "default": "default", "const": "const", "minProperties": "min_properties",
              "maxProperties": "max_properties"}
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in fields:
            raise ValueError(f"unmapped JSON Schema keyword {key!r}")
        if key == "properties":
            kwargs["properties"] = {name: _to_spec(sub) for name, sub in item.items()}
        elif key in ("anyOf", "oneOf", "allOf"):
            kwargs[fields[key]] = [_to_spec(sub) for sub in item]
        elif key in ("items", "additionalProperties") and isinstance(item, dict):
            kwargs[fields[key]] = _to_spec(item) if item else Schema()
        else:
            kwargs[fields[key]] = item
    return Schema(**kwargs)


def document_contract(openapi: OpenAPI) -> None:
    _, components = msgspec.json.schema_components(_structs(), ref_template="#/components/schemas/{name}")
    named = openapi.components.schemas
    pending = [name for name in named if name in components]
    done: set[str] = set()
    while pending:  # the Structs Litestar names, and every Struct they refer to
        name = pending.pop()
        if name in done:
            continue
        done.add(name)
        named[name] = _to_spec(components[name])
        pending += [ref.rsplit("/", 1)[-1] for ref in _refs(components[name])]
    # Litestar's JWT scheme also carries `name` (an apiKey field), which an `http` scheme may not
    # have: openapi-spec-validator refuses the document with it
    for scheme in (openapi.components.security_schemes or {}).values():
        if isinstance(scheme, SecurityScheme) and scheme.type == "http":
            scheme.name = None
    # A streamed body (GET /api/events answers text/event-stream) is text; Litestar leaves its
    # schema empty, which says nothing at all
    for item in (openapi.paths or {}).values():
        for method in ("get", "post"):
            operation = getattr(item, method, None)
            for response in (operation.responses or {}).values() if operation else ():
                for media, content in (getattr(response, "content", None) or {}).items():
                    if media == "text/event-stream":
                        content.schema = Schema(type=OpenAPIType.STRING, description=(
                            "Server-Sent Events: `id`, `event` and `data` (JSON) lines per event (docs/events.md)"))
    document_errors(openapi)


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if "$ref" in value else []
        return own + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []

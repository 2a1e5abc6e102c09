"""The OpenAPI document is a contract a generated client can build on: it validates, every
operation's responses have named schemas, every list and string a client sends is bounded, and
the docs UI works without internet access."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from openapi_spec_validator import validate

from api.app import create_app
from api.config import Settings

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Any]]:
    # the document needs no database: the pool only connects on the first request
    settings = Settings.from_env()
    from dataclasses import replace

    settings = replace(settings, jwt_secret="s" * 40, database_url="postgresql://nobody@127.0.0.1:1/none")
    with TestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def doc(client: TestClient[Any]) -> dict[str, Any]:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def test_the_document_validates(doc: dict[str, Any]) -> None:
    validate(doc)  # openapi-spec-validator: raises on any violation of OpenAPI 3.1
    assert doc["openapi"].startswith("3.1")


def test_every_operation_has_named_response_schemas(doc: dict[str, Any]) -> None:
    """No operation answers an untyped object: each success body is a named component (or a list of
    one), each /api error body is the Error component; the one non-JSON body (.ics) is a string."""
    schemas = doc["components"]["schemas"]
    untyped: list[str] = []
    count = 0
    for method, path, operation in operations(doc):
        count += 1
        for status, response in operation["responses"].items():
            for media, content in response.get("content", {}).items():
                schema = content.get("schema", {})
                if media != "application/json":
                    ok = schema.get("type") == "string"
                else:
                    ref = schema.get("$ref") or (schema.get("items", {}).get("$ref")
                                                 if schema.get("type") == "array" else None)
                    name = ref.rsplit("/", 1)[-1] if ref else None
                    ok = name in schemas and bool(schemas[name].get("properties"))
                    if status[0] in "45" and path.startswith("/api/"):  # /health's 503 is its own report
                        ok = ok and name == "Error"
                if not ok:
                    untyped.append(f"{method} {path} {status} {media}: {schema}")
            if status.startswith("2") and not response.get("content") and status != "204":
                untyped.append(f"{method} {path} {status}: no body schema")
    assert count >= 60
    assert untyped == []


def _unbounded(schema: dict[str, Any], where: str, schemas: dict[str, Any], seen: set[str]) -> Iterator[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _unbounded(schemas[name], name, schemas, seen)
        return
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from _unbounded({**sub, **{k: v for k, v in schema.items() if k in ("maxLength", "maxItems")}},
                                  f"{where}|{i}", schemas, seen)
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and "format" not in schema and "enum" not in schema:
        yield f"{where}: string without maxLength"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: array without maxItems"
        yield from _unbounded(schema.get("items", {}), f"{where}[]", schemas, seen)
    if kind == "object":
        for name, prop in schema.get("properties", {}).items():
            yield from _unbounded(prop, f"{where}.{name}", schemas, seen)


def test_every_list_and_string_a_client_sends_is_bounded(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    problems: list[str] = []
    for method, path, operation in operations(doc):
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            problems += list(_unbounded(body, f"{method} {path}", schemas, set()))
        for param in operation.get("parameters", []):
            schema = param.get("schema", {})
            if param["in"] == "query":
                problems += list(_unbounded(schema, f"{method} {path} ?{param['name']}", schemas, set()))
    assert problems == []


def test_uploaded_files_has_a_count_and_size_limit(doc: dict[str, Any]) -> None:
    files = doc["components"]["schemas"]["CreateSessionRequest"]["properties"]["uploaded_files"]
    assert files["maxItems"] == 20 and files["items"]["maxLength"] == 500


def test_the_docs_ui_needs_no_internet(client: TestClient[Any]) -> None:
    for page in ("/schema", "/schema/swagger"):
        r = client.get(page)
        assert r.status_code == 200 and "text/html" in r.headers["content-type"], page
        links = re.findall(r"""(?:src|href)=["']([^"']+)["']""", r.text)
        assert links, page
        assert all(not re.match(r"(?i)(https?:)?//", link) for link in links), links
        for link in links:
            if link.startswith("/docs-assets/"):
                asset = client.get(link)
                assert asset.status_code == 200 and len(asset.content) > 1000, link
    assert client.get("/docs-assets/swagger-ui-bundle.js").headers["content-type"].startswith(
        ("application/javascript", "text/javascript"))

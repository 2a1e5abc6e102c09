"""Bad input never gets a 500 or an error body of another shape: each case here was one (found with
schemathesis and by hand) and is now a 4xx `{code, message, detail}`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import stripe
from litestar.testing import TestClient

from api.app import create_app
from api.auth import mint_token
from api.config import Settings
from tests.py.conftest import JWT_SECRET, ClonedDatabase

ADMIN = "00000000-0000-4000-a000-000000000001"
CUSTOMER = "00000000-0000-4000-a000-00000000c001"
WEBHOOK_SECRET = "whsec_robustness_test"


@pytest.fixture
def client(settings: Settings, database: ClonedDatabase) -> Iterator[TestClient[Any]]:
    with database.connect() as conn:  # the database decides a token's role: the admin must exist
        conn.execute("INSERT INTO app.users (id, email, full_name, role) "
                     "VALUES (%s, 'ada@example.test', 'Ada', 'admin')", [ADMIN])
    with TestClient(app=create_app(replace(settings, stripe_webhook_secret=WEBHOOK_SECRET))) as c:
        yield c


def bearer(role: str, user: str = CUSTOMER) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(JWT_SECRET, user, role)}"}


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body: dict[str, Any] = r.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code, body
    return body


# ---------------------------------------------------------------------------- integers past int4 / int8

@pytest.mark.parametrize("offset", [2**31, 10**12, 10**30])
def test_an_offset_too_large_for_integer_is_422_not_500(client: TestClient[Any], offset: int) -> None:
    # psycopg sent int8/numeric, which no `integer` parameter takes: "function does not exist" (500)
    r = client.get(f"/api/admin/outbox/dead?offset={offset}", headers=bearer("admin", ADMIN))
    body = error(r, 422, "validation_error")
    assert "out of range" in body["detail"]


@pytest.mark.parametrize("outbox_id", [2**63, -(2**63) - 1, 10**22])
def test_an_outbox_id_too_large_for_bigint_is_422_not_500(client: TestClient[Any], outbox_id: int) -> None:
    r = client.post(f"/api/admin/outbox/{outbox_id}/retry", headers=bearer("admin", ADMIN))
    error(r, 422, "validation_error")


def test_integers_in_range_still_reach_the_function(client: TestClient[Any]) -> None:
    r = client.get(f"/api/admin/outbox/dead?offset={2**31 - 1}&limit=1", headers=bearer("admin", ADMIN))
    assert r.status_code == 200, r.text
    r = client.post(f"/api/admin/outbox/{2**63 - 1}/retry", headers=bearer("admin", ADMIN))
    error(r, 404, "outbox_not_found")
    r = client.get("/api/mechanics?limit=1&offset=0", headers=bearer("customer"))
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------------- deeply nested JSON

@pytest.mark.parametrize("depth", [100_000, 5000, 1100, 1000, 990, 980, 970, 960, 950])
def test_deeply_nested_bodies_are_400(client: TestClient[Any], depth: int) -> None:
    # the decoder, msgspec.to_builtins, the NUL check and json.dumps all recurse: RecursionError was
    # answered by Litestar's fallback, a 500 `{status_code, detail}`
    headers = {**bearer("customer"), "Content-Type": "application/json"}
    for path, body in [
        ("/api/customer/vehicles", "[" * depth + "]" * depth),
        ("/api/sessions/create", '{"metadata":' + '{"a":' * depth + "1" + "}" * (depth + 1)),
        ("/api/sessions/create", '{"metadata":{"a":' + "[" * depth + "]" * depth + "}}"),
    ]:
        r = client.post(path, content=body, headers=headers)
        assert r.status_code < 500, (path, depth, r.text)
        assert set(r.json()) == {"code", "message", "detail"}, (path, depth, r.text)


def test_a_deep_body_says_so(client: TestClient[Any]) -> None:
    headers = {**bearer("customer"), "Content-Type": "application/json"}
    r = client.post("/api/sessions/create", content='{"metadata":' + '{"a":' * 20_000 + "1" + "}" * 20_001,
                    headers=headers)
    body = error(r, 400, "malformed_json")
    assert "nested too deeply" in body["message"]
    # a deep array where an object is meant is refused at its first bracket: well-formed, wrong type
    r = client.post("/api/customer/vehicles", content="[" * 20_000 + "]" * 20_000, headers=headers)
    assert error(r, 422, "validation_error")["detail"]["reason"] == "Expected `object`, got `array`"


# ---------------------------------------------------------------------------- anything unforeseen

def test_an_unexpected_exception_is_a_500_of_the_error_shape(client: TestClient[Any],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("api.controllers.customers.call_rows", broken)
    r = client.get("/api/customer/vehicles", headers=bearer("customer"))
    body = error(r, 500, "internal_error")
    assert "boom" not in r.text and body["detail"] is None


def test_a_body_over_the_limit_is_413(client: TestClient[Any]) -> None:
    r = client.post("/api/customer/vehicles", content=b'{"make": "' + b"x" * 300_000 + b'"}',
                    headers={**bearer("customer"), "Content-Type": "application/json"})
    error(r, 413, "body_too_large")


def test_an_unknown_schema_path_is_a_json_404(client: TestClient[Any]) -> None:
    # Litestar's schema router answered with an HTML page
    error(client.get("/schema/nonexistent"), 404, "not_found")
    assert client.get("/schema/openapi.json").status_code == 200


# ---------------------------------------------------------------------------- Stripe webhook

def signed(payload: bytes) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), WEBHOOK_SECRET, int(time.time()))
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


@pytest.mark.parametrize("payload", [
    pytest.param(b"[1]", id="array"),  # the SDK's construct_event raised TypeError building an Event: 500
    pytest.param(b"null", id="null"),
    pytest.param(b'"evt"', id="string"),
    pytest.param(b'{"id":"evt_deep","type":"x","data":' + b"[" * 5000 + b"]" * 5000 + b"}", id="deep"),
    pytest.param(b'{"id":"evt_nan","type":"x","data":{"amount":NaN}}', id="nan"),
    pytest.param(b'{"id":"evt_big","type":"x","data":{"amount":1e400}}', id="1e400"),
    pytest.param(b'{"id":"\\ud800","type":"x"}', id="lone-surrogate"),
])
def test_a_signed_body_that_is_not_an_event_is_400(client: TestClient[Any], payload: bytes) -> None:
    r = client.post("/api/webhooks/stripe", content=payload, headers=signed(payload))
    error(r, 400, "invalid_payload")


def test_a_signed_event_nested_just_below_the_limit_is_a_4xx(client: TestClient[Any]) -> None:
    # parses, but the SDK's Event builder recursed past the limit (500); now the database judges it
    payload = b'{"id":"evt_deep2","type":"x","data":' + b"[" * 900 + b"]" * 900 + b"}"
    r = client.post("/api/webhooks/stripe", content=payload, headers=signed(payload))
    assert 400 <= r.status_code < 500, r.text
    assert set(r.json()) == {"code", "message", "detail"}


def test_a_signed_event_with_a_non_ascii_timestamp_is_400(client: TestClient[Any]) -> None:
    # the SDK reads the first exact "t=" item; our future-timestamp check must not int("²")
    payload = b'{"id":"evt_sup","type":"x"}'
    header = b" t=\xb2," + signed(payload)["Stripe-Signature"].encode()
    r = client.post("/api/webhooks/stripe", content=payload,
                    headers={b"Stripe-Signature": header, b"Content-Type": b"application/json"})
    error(r, 400, "invalid_signature")


def test_a_signed_event_still_gets_through(client: TestClient[Any]) -> None:
    payload = json.dumps({"id": "evt_robust", "type": "payment_intent.succeeded",
                          "data": {"object": {"id": "pi_unknown"}}}).encode()
    r = client.post("/api/webhooks/stripe", content=payload, headers=signed(payload))
    assert r.status_code == 200, r.text
    assert r.json()["received"] is True


# ---------------------------------------------------------------------------- the OpenAPI document

def test_the_openapi_document_describes_the_error_shape(client: TestClient[Any]) -> None:
    doc = client.get("/schema/openapi.json").json()
    error_schema = doc["components"]["schemas"]["Error"]
    assert error_schema["required"] == ["code", "message", "detail"]
    ref = {"$ref": "#/components/schemas/Error"}
    for path, item in doc["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in item.items():
            responses = operation["responses"]
            assert "4XX" in responses, (method, path)
            for status, response in responses.items():
                if status[0] in "45":  # was Litestar's {status_code, detail: string, extra} for 400s
                    assert response["content"]["application/json"]["schema"] == ref, (method, path, status)

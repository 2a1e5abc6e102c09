# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""`POST /api/webhooks/stripe`: valid, bad signature, stale, replayed 3 times, out of order."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import stripe
from litestar.testing import TestClient

from api.config import Settings
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    WEBHOOK_SECRET,
    fx_settings,
    local_stripe,
    make_app,
    one,
    smtp,
    su,
)

URL = "/api/webhooks/stripe"


@pytest.fixture
def client(fx_settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=make_app(fx_settings)) as c:
        yield c


def event(event_id: str, kind: str, obj: dict[str, Any]) -> str:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "created": int(time.time()),
                       "data": {"object": obj}})


def signed(payload: str, secret: str = WEBHOOK_SECRET, at: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, at or int(time.time()))
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


@pytest.fixture
def booking(su: psycopg.Connection[Any]) -> dict[str, str]:
    session_id = str(one(su, "SELECT tests.se_booking()"))
    payment_id = str(one(su, "SELECT id FROM app.scheduled_payments WHERE session_id = %s", [session_id]))
    return {"session": session_id, "payment": payment_id}


def succeeded(booking: dict[str, str], event_id: str = "evt_ok") -> str:
    return event(event_id, "payment_intent.succeeded",
                 {"id": "pi_" + booking["payment"][:8], "object": "payment_intent", "status": "succeeded",
                  "metadata": {"payment_id": booking["payment"]}})


def state(su: psycopg.Connection[Any], booking: dict[str, str]) -> tuple[Any, ...]:
    row = su.execute("""SELECT p.status AS payment, s.status AS session,
                               (SELECT count(*) FROM app.stripe_events)::int AS events
                          FROM app.scheduled_payments p JOIN app.sessions s ON s.id = p.session_id
                         WHERE p.id = %s""", [booking["payment"]]).fetchone()
    assert row is not None
    return row["payment"], row["session"], row["events"]


def test_a_valid_event_is_applied(client: TestClient[Any], su: psycopg.Connection[Any],
                                  booking: dict[str, str]) -> None:
    payload = succeeded(booking)
    r = client.post(URL, content=payload, headers=signed(payload))
    assert r.status_code == 200, r.text
    assert r.json() == {"received": True, "event_id": "evt_ok", "duplicate": False, "outcome": "payment_succeeded"}
    assert state(su, booking) == ("succeeded", "scheduled", 1)


@pytest.mark.parametrize("headers", [
    pytest.param(lambda p: signed(p, secret="whsec_wrong_" + "w" * 32), id="wrong-secret"),
    pytest.param(lambda p: {"Stripe-Signature": "t=1,v1=deadbeef"}, id="garbage-signature"),
    pytest.param(lambda p: {}, id="no-signature"),
    pytest.param(lambda p: signed(p, at=int(time.time()) - 301), id="stale-301s"),
    pytest.param(lambda p: signed(p, at=int(time.time()) + 3600), id="from-the-future"),
])
def test_a_bad_or_stale_signature_is_400_and_changes_nothing(client: TestClient[Any], su: psycopg.Connection[Any],
                                                              booking: dict[str, str], headers: Any) -> None:
    payload = succeeded(booking)
    r = client.post(URL, content=payload, headers=headers(payload))
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_signature" and set(r.json()) == {"code", "message", "detail"}
    assert state(su, booking) == ("pending", "scheduled", 0)


def test_a_tampered_body_fails_the_signature(client: TestClient[Any], su: psycopg.Connection[Any],
                                             booking: dict[str, str]) -> None:
    payload = succeeded(booking)
    headers = signed(payload)
    r = client.post(URL, content=payload.replace("succeeded", "payment_failed", 1), headers=headers)
    assert r.status_code == 400
    assert state(su, booking) == ("pending", "scheduled", 0)


def test_a_signed_non_event_is_400(client: TestClient[Any], su: psycopg.Connection[Any]) -> None:
    payload = json.dumps({"hello": "world"})
    r = client.post(URL, content=payload, headers=signed(payload))
    assert r.status_code == 400 and r.json()["code"] == "invalid_payload"
    assert one(su, "SELECT count(*) FROM app.stripe_events") == 0


def test_a_replayed_event_changes_nothing_twice(client: TestClient[Any], su: psycopg.Connection[Any],
                                                booking: dict[str, str]) -> None:
    payload = succeeded(booking)
    first = client.post(URL, content=payload, headers=signed(payload)).json()
    assert first["duplicate"] is False
    charged_at = one(su, "SELECT charged_at FROM app.scheduled_payments WHERE id = %s", [booking["payment"]])
    for _ in range(3):
        again = client.post(URL, content=payload, headers=signed(payload))
        assert again.status_code == 200
        assert again.json()["duplicate"] is True and again.json()["outcome"] == "payment_succeeded"
    assert state(su, booking) == ("succeeded", "scheduled", 1)
    assert one(su, "SELECT charged_at FROM app.scheduled_payments WHERE id = %s", [booking["payment"]]) == charged_at


def test_out_of_order_events_never_move_a_payment_backwards(client: TestClient[Any], su: psycopg.Connection[Any],
                                                            booking: dict[str, str]) -> None:
    intent = "pi_" + booking["payment"][:8]
    refunded = event("evt_refund", "charge.refunded",
                     {"id": "ch_1", "object": "charge", "payment_intent": intent, "amount": 2900,
                      "amount_refunded": 2900, "refunds": {"data": [{"id": "re_1", "amount": 2900,
                                                                     "status": "succeeded"}]}})
    ok = succeeded(booking, "evt_success")
    failed = event("evt_failed", "payment_intent.payment_failed",
                   {"id": intent, "object": "payment_intent", "metadata": {"payment_id": booking["payment"]},
                    "last_payment_error": {"message": "Your card was declined."}})
    # Stripe's order was failed -> succeeded -> refunded; they arrive succeeded, refunded, failed.
    for payload in (ok, refunded, failed):
        assert client.post(URL, content=payload, headers=signed(payload)).status_code == 200
    assert state(su, booking) == ("refunded", "scheduled", 3), "a late failure neither un-refunds nor cancels"


def test_payment_failed_cancels_the_booking_and_frees_the_slot(client: TestClient[Any], su: psycopg.Connection[Any],
                                                               booking: dict[str, str]) -> None:
    payload = event("evt_fail", "payment_intent.payment_failed",
                    {"id": "pi_x", "object": "payment_intent", "metadata": {"payment_id": booking["payment"]},
                     "last_payment_error": {"message": "Your card was declined."}})
    r = client.post(URL, content=payload, headers=signed(payload))
    assert r.json()["outcome"] == "payment_failed"
    assert state(su, booking) == ("failed", "cancelled", 1)
    assert one(su, "SELECT cancel_reason FROM app.sessions WHERE id = %s", [booking["session"]]) == "payment_failed"
    # the same mechanic and time can be booked by someone else now
    one(su, """SELECT tests.se_session(tests.se_customer(), s.mechanic_id, s.scheduled_for)
                 FROM app.sessions s WHERE s.id = %s""", [booking["session"]])


def test_without_a_configured_secret_the_endpoint_refuses(su: psycopg.Connection[Any], fx_settings: Settings,
                                                          booking: dict[str, str]) -> None:
    from dataclasses import replace

    with TestClient(app=make_app(replace(fx_settings, stripe_webhook_secret=""))) as c:
        payload = succeeded(booking)
        r = c.post(URL, content=payload, headers=signed(payload))
    assert r.status_code == 503 and r.json()["code"] == "webhooks_not_configured"
    assert state(su, booking) == ("pending", "scheduled", 0)


def test_localstripe_signed_webhooks_reach_the_running_api(fx_settings: Settings, su: psycopg.Connection[Any],
                                                           local_stripe: Any) -> None:
    """End to end over real HTTP: the worker charges at localstripe, localstripe signs and POSTs
    `payment_intent.succeeded` to the API (uvicorn), which verifies and records it."""
    import threading

    import uvicorn
    from localstripe import webhooks as localstripe_webhooks

    from api.devtools.local_services import free_port
    from tests.py.side_effect_fixtures import run_worker_until_idle, wait_until

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(make_app(fx_settings), host="127.0.0.1", port=port, log_level="warning",
                                          lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, what="the API to start")
        local_stripe.register_webhook(f"http://127.0.0.1:{port}{URL}", WEBHOOK_SECRET,
                                      events=["payment_intent.succeeded"], webhook_id="e2e")
        session_id = str(one(su, "SELECT tests.se_booking()"))
        run_worker_until_idle(fx_settings)
        intent = one(su, "SELECT payment_intent_id FROM app.scheduled_payments WHERE session_id = %s", [session_id])
        event = wait_until(lambda: su.execute(
            "SELECT type, outcome FROM app.stripe_events WHERE payload -> 'data' -> 'object' ->> 'id' = %s",
            [intent]).fetchone(), what="localstripe's webhook")
        assert event["type"] == "payment_intent.succeeded"
        assert event["outcome"] == "no_change", "the worker's write-back had already recorded the success"
    finally:
        localstripe_webhooks._webhooks.pop("e2e", None)
        server.should_exit = True
        thread.join(10)

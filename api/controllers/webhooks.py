"""Stripe webhooks: `POST /api/webhooks/stripe`.

The signature is checked with the Stripe SDK (`Stripe-Signature`, the secret from
AUTODOC_STRIPE_WEBHOOK_SECRET, 300 s tolerance) before anything else; a bad signature, a stale
timestamp or a body that is not an event is a 400 and touches nothing. A verified event goes to
`api.stripe_apply_event`, which records it by event id first, so a replay, a duplicate or an
out-of-order delivery changes nothing twice. The endpoint needs no token (Stripe has none); it
runs the database call as the internal worker role, which alone may apply events.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
import stripe
from litestar import Controller, Request, post
from psycopg.types.json import Jsonb

from api.db import Conn, as_caller, call
from api.errors import api_error
from api.responses import WebhookReceived, shape

SIGNATURE_TOLERANCE_SECONDS = 300


class StripeWebhookController(Controller):
    path = "/api/webhooks/stripe"
    tags = ["payments"]

    @post("/", status_code=200, summary="Receive a signed Stripe event (payment succeeded/failed, charge refunded)")
    async def receive(self, request: Request[Any, Any, Any], db: Conn) -> WebhookReceived:
        secret = request.app.state.settings.stripe_webhook_secret
        if not secret:
            raise api_error(503, "webhooks_not_configured", "Stripe webhooks are not configured on this server.")
        body = await request.body()
        signature = request.headers.get("stripe-signature")
        try:
            # The signature only: the SDK's construct_event also builds an Event from the body and
            # fails with a TypeError or RecursionError (a 500) on a signed `[1]`, `null` or `[[[...]]]`.
            stripe.WebhookSignature.verify_header(body, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS)
            _reject_future_timestamp(signature or "", body)
        except stripe.SignatureVerificationError as e:
            raise api_error(400, "invalid_signature", "The Stripe signature is missing, wrong or too old.",
                            {"reason": str(e.user_message or e)}) from None
        except UnicodeDecodeError:
            raise api_error(400, "invalid_payload", "The body is not a Stripe event.") from None
        event = _parse_event(body)
        await as_caller(db, {"role": "worker"})
        result: dict[str, Any] = await call(db, "stripe_apply_event", {"p_event": Jsonb(event)})
        return shape(WebhookReceived, {"received": True, **result})


def _parse_event(body: bytes) -> dict[str, Any]:
    """The verified body as a JSON object with an id and a type; 400 invalid_payload otherwise.
    msgspec, not json: it refuses NaN, Infinity, numbers out of range and lone surrogates, which
    PostgreSQL's jsonb would refuse later with a less helpful error."""
    try:
        event = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        event = None
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise api_error(400, "invalid_payload", "The body is not a Stripe event.")
    return event


def _reject_future_timestamp(header: str, body: bytes) -> None:
    """The SDK rejects timestamps older than the tolerance; a signed timestamp further in the
    future than that is just as suspect (a clock far off, or a header made for later replay)."""
    stamps = [item.split("=", 1)[1] for item in header.split(",") if item.strip().startswith("t=")]
    if not stamps or not (stamps[0].strip().isascii() and stamps[0].strip().isdigit()):  # not "²"
        raise stripe.SignatureVerificationError(  # type: ignore[no-untyped-call]
            "Unable to extract timestamp from header", header, body.decode())
    if int(stamps[0]) > time.time() + SIGNATURE_TOLERANCE_SECONDS:
        raise stripe.SignatureVerificationError(  # type: ignore[no-untyped-call]
            "Timestamp outside the tolerance zone", header, body.decode())

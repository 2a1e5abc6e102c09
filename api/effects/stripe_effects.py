"""Stripe effects: create (and, locally, confirm) PaymentIntents; create refunds; cancel the
PaymentIntent of a hold given back before it was paid.

Every call carries the outbox row's persisted idempotency key (`charge:<session>:<type>`,
`refund:<session>:<purpose>`, `cancel:<session>:<type>`), so a worker that crashed after Stripe
answered and retries the row gets Stripe's stored answer instead of a second charge. The SDK's own
network retries are off: the outbox is the retry loop, and it reuses the same key. `sync` only
reads (a payment or refund still pending long after its webhook should have come).
"""

from __future__ import annotations

from typing import Any

import stripe

from api.config import Settings
from api.effects import Job, PermanentError, RetryableError


def make_client(settings: Settings) -> stripe.StripeClient:
    """The SDK's own timeout is 80 s: one stalled call held its lane that long. An explicit timeout
    (AUTODOC_STRIPE_TIMEOUT_SECONDS, 12 s) turns a stall into a retryable failure of the row."""
    return stripe.StripeClient(
        settings.stripe_api_key,
        base_addresses={"api": settings.stripe_api_base},
        max_network_retries=0,
        http_client=stripe.new_default_http_client(timeout=settings.stripe_timeout_seconds),
    )


def _classify(exc: stripe.StripeError) -> Exception:
    """Stripe errors that retrying can fix are retryable; requests Stripe rejects are permanent."""
    message = f"{type(exc).__name__}: {exc.user_message or exc}"
    if isinstance(exc, stripe.IdempotencyError):
        return PermanentError(message)  # same key, different parameters: a bug, never retry blindly
    if isinstance(exc, stripe.InvalidRequestError) and (exc.http_status or 0) < 500:
        return PermanentError(message)
    return RetryableError(message)  # connection, rate limit, 5xx, authentication (configuration)


class StripeEffects:
    def __init__(self, settings: Settings, client: stripe.StripeClient | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)

    def charge(self, settings: Settings, job: Job) -> dict[str, Any]:
        """Create the PaymentIntent for one payment. With a test payment method configured (local
        runs and tests) it is confirmed at once; otherwise the client confirms it with the
        client_secret we store. A declined card is a result (`declined: true`), not a failure."""
        p = job.payload
        try:
            amount, currency = int(p["amount_cents"]), str(p.get("currency") or "usd")
            metadata = {"payment_id": str(p["payment_id"]), "session_id": str(p["session_id"]),
                        "payment_type": str(p.get("payment_type", "")), "purpose": job.idempotency_key}
        except (KeyError, TypeError, ValueError) as e:
            raise PermanentError(f"malformed charge payload: {e!r}") from e
        params: dict[str, Any] = {"amount": amount, "currency": currency, "metadata": metadata,
                                  "payment_method_types": ["card"]}
        if settings.stripe_test_payment_method:
            params.update(payment_method=settings.stripe_test_payment_method, confirm=True)
        try:
            intent = self.client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": job.idempotency_key},
            )
        except stripe.CardError as e:
            error = (e.json_body or {}).get("error", {}) if isinstance(e.json_body, dict) else {}
            intent_obj = error.get("payment_intent") or {}
            return {"declined": True, "status": "requires_payment_method",
                    "payment_intent_id": intent_obj.get("id") if isinstance(intent_obj, dict) else None,
                    "error_code": e.code, "error_message": e.user_message or str(e)}
        except stripe.StripeError as e:
            raise _classify(e) from e
        return {"payment_intent_id": intent.id, "client_secret": intent.client_secret, "status": intent.status,
                "amount_cents": intent.amount}

    def refund(self, settings: Settings, job: Job) -> dict[str, Any]:
        """Refund part of a charge. The amount was checked (and reserved) by the database, which
        never lets refunds exceed the charge, and a refund of a failed payment never reaches this
        (the claim skips it); the worker only needs the charge to exist."""
        p = job.payload
        try:
            amount = int(p["amount_cents"])
            metadata = {"refund_id": str(p["refund_id"]), "payment_id": str(p["payment_id"]),
                        "reason": str(p.get("reason", "")), "purpose": job.idempotency_key}
        except (KeyError, TypeError, ValueError) as e:
            raise PermanentError(f"malformed refund payload: {e!r}") from e
        status, intent = p.get("payment_status"), p.get("payment_intent_id")
        if status not in ("succeeded", "refunded") or not intent:
            raise RetryableError(f"charge not settled yet (payment status {status!r})")
        try:
            refund = self.client.v1.refunds.create(
                params={"payment_intent": str(intent), "amount": amount, "metadata": metadata},
                options={"idempotency_key": job.idempotency_key},
            )
        except stripe.StripeError as e:
            raise _classify(e) from e
        return {"refund_id": refund.id, "status": refund.status, "amount_cents": refund.amount}

    def cancel_intent(self, settings: Settings, job: Job) -> dict[str, Any]:
        """Cancel the still-open PaymentIntent of a hold that lapsed or was given back, so the
        customer can no longer confirm it. The intent id is read when the row is claimed; none yet
        means the charge row has not written back, so try again later. Stripe refuses to cancel an
        intent that already succeeded: that is reported as `succeeded`, a late success the database
        refunds in full. Payments already settled in the database never reach this (the claim
        skips them)."""
        p = job.payload
        if "payment_id" not in p:
            raise PermanentError("malformed cancel payload: no payment_id")
        status, intent_id = p.get("payment_status"), p.get("payment_intent_id")
        if not intent_id:
            raise RetryableError(f"no PaymentIntent yet (payment status {status!r}): the charge has not run")
        try:
            intent = self.client.v1.payment_intents.cancel(
                str(intent_id), options={"idempotency_key": job.idempotency_key},
            )
        except stripe.InvalidRequestError as e:
            # Not cancelable in its current state (succeeded, processing, already canceled):
            # what Stripe holds now decides.
            try:
                intent = self.client.v1.payment_intents.retrieve(str(intent_id))
            except stripe.StripeError as e2:
                raise _classify(e2) from e2
            if intent.status not in ("succeeded", "canceled", "processing"):
                raise _classify(e) from e
        except stripe.StripeError as e:
            raise _classify(e) from e
        if intent.status == "processing":
            raise RetryableError("PaymentIntent is processing: its outcome decides, try again later")
        return {"status": intent.status, "payment_intent_id": intent.id}

    def sync(self, settings: Settings, job: Job) -> dict[str, Any]:
        """Read what Stripe holds for a payment still pending (a webhook was lost): the
        PaymentIntent, and for refunds still requested the Charge with its refunds. The database
        applies it as the webhook would (app_private.stripe_sync_apply)."""
        p = job.payload
        result: dict[str, Any] = {"payment_intent": None, "charge": None}
        try:
            intent_id = p.get("payment_intent_id")
            if intent_id and p.get("payment_status") == "pending":
                result["payment_intent"] = self.client.v1.payment_intents.retrieve(str(intent_id)).to_dict()
            refund_ids = [str(r) for r in p.get("requested_refunds") or []]
            if refund_ids:
                refund = self.client.v1.refunds.retrieve(refund_ids[0])
                charge_id = refund.charge if isinstance(refund.charge, str) else getattr(refund.charge, "id", None)
                if charge_id:
                    charge = self.client.v1.charges.retrieve(charge_id, params={"expand": ["refunds"]}).to_dict()
                    result["charge"] = charge
        except stripe.StripeError as e:
            raise _classify(e) from e
        return result

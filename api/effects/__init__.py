"""Side effects the outbox worker performs: Stripe charges, refunds and intent cancels, emails.

An effect is a plain (blocking) function `effect(settings, job) -> result dict`; the worker runs it
in a thread and writes the result back through `api.outbox_complete`. It signals failure by raising
`RetryableError` (back off and try again, up to the row's max_attempts) or `PermanentError` (dead
letter at once: retrying cannot help, e.g. a malformed payload or a request Stripe rejects).
Business outcomes such as a declined card are *results*, not failures: the database decides what a
decline means (the booking is cancelled).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from api.config import Settings


class EffectError(Exception):
    retryable: bool = True


class RetryableError(EffectError):
    retryable = True


class PermanentError(EffectError):
    retryable = False


@dataclass(frozen=True)
class Job:
    """One claimed outbox row (what api.outbox_claim returns)."""

    id: int
    kind: str
    idempotency_key: str
    payload: Mapping[str, Any]
    attempts: int = 1
    max_attempts: int = 8
    session_id: str | None = None
    lane: str = "default"
    skip_reason: str | None = None  # the database decided at claim time that the effect must not run
    extra: Mapping[str, Any] = field(default_factory=dict)

    def with_key(self, key: str) -> Job:
        return replace(self, idempotency_key=key)


Effect = Callable[[Settings, Job], dict[str, Any]]


def noop(settings: Settings, job: Job) -> dict[str, Any]:
    """Does nothing; used by benchmarks and tests of the queue itself."""
    return {"ok": True}


def default_effects(settings: Settings) -> dict[str, Effect]:
    """The effect for each outbox kind. The kinds themselves are rows of the database's registry
    (app.outbox_kinds); the worker warns at start about a registered kind it has no effect for."""
    from api.effects.mail import send_email
    from api.effects.stripe_effects import StripeEffects

    stripe_effects = StripeEffects(settings)
    return {
        "stripe.charge": stripe_effects.charge,
        "stripe.refund": stripe_effects.refund,
        "stripe.cancel_intent": stripe_effects.cancel_intent,
        "email.send": send_email,
        "noop": noop,
    }

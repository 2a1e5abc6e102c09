"""Side effects the outbox worker performs: Stripe charges, refunds and intent cancels, emails.

An effect is a plain (blocking) function `effect(settings, job) -> result dict`; the worker runs it
in a thread and writes the result back through `api.outbox_complete`. It signals failure by raising
`RetryableError` (back off and try again, up to the row's max_attempts) or `PermanentError` (dead
letter at once: retrying cannot help, e.g. a malformed payload or a request Stripe rejects).
Business outcomes such as a declined card are *results*, not failures: the database decides what a
decline means (the booking is cancelled).
"""

from __future__ import annotations

import threading
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


def _lazy(load: Callable[[], Effect]) -> Effect:
    """An effect whose module is imported on first use: the Stripe SDK and the mail stack take most
    of a worker's start-up, and a restarted worker should take back its dead claims first."""
    box: list[Effect] = []
    lock = threading.Lock()

    def run(settings: Settings, job: Job) -> dict[str, Any]:
        if not box:
            with lock:
                if not box:
                    box.append(load())
        return box[0](settings, job)

    return run


def default_effects(settings: Settings) -> dict[str, Effect]:
    """The effect for each outbox kind. The kinds themselves are rows of the database's registry
    (app.outbox_kinds); the worker warns at start about a registered kind it has no effect for."""
    stripe_effects: list[Any] = []
    stripe_lock = threading.Lock()

    def stripe(method: str) -> Effect:
        def load() -> Effect:
            from api.effects.stripe_effects import StripeEffects

            with stripe_lock:  # one client (one connection pool) for every Stripe kind
                if not stripe_effects:
                    stripe_effects.append(StripeEffects(settings))
            effect: Effect = getattr(stripe_effects[0], method)
            return effect
        return _lazy(load)

    def mail() -> Effect:
        from api.effects.mail import send_email

        return send_email

    return {
        "stripe.charge": stripe("charge"),
        "stripe.refund": stripe("refund"),
        "stripe.cancel_intent": stripe("cancel_intent"),
        "stripe.sync": stripe("sync"),
        "email.send": _lazy(mail),
        "noop": noop,
    }

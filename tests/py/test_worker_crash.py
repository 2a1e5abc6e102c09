# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Crash safety: SIGKILL the worker (a) before the Stripe call, (b) after Stripe answered but before
the write-back, (c) after the write-back. Every retry reuses the row's persisted idempotency key, so
against a Stripe that honours keys (the replaying proxy in front of localstripe) there is exactly
one PaymentIntent / Refund per purpose. The negative control shows case (b) charging twice when the
key is not stable across attempts. And a booking's event, applied in one transaction by the
database lane: killed before that commit, nothing of it remains and the restart applies it once."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from typing import Any

import psycopg
import pytest

from api.config import Settings
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    Database,
    fx_settings,
    intents_for_payment,
    local_stripe,
    one,
    refunds_for_payment,
    run_worker_until_idle,
    smtp,
    spawn_worker,
    stripe_proxy,
    su,
    wait_until,
)
from tests.py.stripe_idempotency_proxy import IdempotencyProxy

POINTS = ["before_call", "after_call", "after_writeback"]


def _crash(settings: Settings, worker_id: str, point: str, kind: str, **env: str) -> None:
    proc = spawn_worker(settings, worker_id, faulty=True, AUTODOC_WORKER_CRASH_AT=point,
                        AUTODOC_WORKER_CRASH_KIND=kind, **env)
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == -9, f"the worker should have been SIGKILLed at {point}: {out.decode()[-2000:]}"


def _restart(settings: Settings, worker_id: str, **env: str) -> None:
    proc = spawn_worker(settings, worker_id, "--exit-when-idle", faulty=bool(env), **env)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out.decode()[-2000:]


def _payment(su: psycopg.Connection[Any], session_id: str) -> dict[str, Any]:
    row = su.execute("SELECT * FROM app.scheduled_payments WHERE session_id = %s", [session_id]).fetchone()
    assert row is not None
    return dict(row)


@pytest.fixture
def proxied(fx_settings: Settings, stripe_proxy: IdempotencyProxy) -> Settings:
    return replace(fx_settings, stripe_api_base=stripe_proxy.url)


@pytest.mark.parametrize("point", POINTS)
def test_a_crashed_charge_creates_exactly_one_payment_intent(point: str, proxied: Settings, su: psycopg.Connection[Any],
                                                             stripe_proxy: IdempotencyProxy) -> None:
    session_id = str(one(su, "SELECT tests.se_booking()"))
    payment_id = str(_payment(su, session_id)["id"])

    _crash(proxied, "crash-worker", point, "stripe.charge")
    at_stripe = intents_for_payment(payment_id)
    row = su.execute("SELECT status, attempts FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = %s",
                     [session_id]).fetchone()
    assert row is not None
    if point == "before_call":
        assert at_stripe == [] and row["status"] == "running"
    elif point == "after_call":
        assert len(at_stripe) == 1 and row["status"] == "running", "Stripe charged, the write-back never happened"
        assert _payment(su, session_id)["payment_intent_id"] is None
    else:
        assert len(at_stripe) == 1 and row["status"] == "done"

    _restart(proxied, "crash-worker")  # same worker id: it takes its dead lease back at once

    at_stripe = intents_for_payment(payment_id)
    assert len(at_stripe) == 1, f"exactly one PaymentIntent for charge:{session_id}:full, got {len(at_stripe)}"
    payment = _payment(su, session_id)
    assert payment["status"] == "succeeded"
    assert payment["payment_intent_id"] == at_stripe[0].id
    assert one(su, "SELECT status FROM app.outbox WHERE kind = 'stripe.charge' AND session_id = %s",
               [session_id]) == "done"
    if point == "after_call":
        assert stripe_proxy.stats.replayed >= 1, "the retry got Stripe's stored answer"
    assert set(stripe_proxy.stats.keys_seen) == {f"charge:{session_id}:full"}, "every call used the persisted key"


@pytest.mark.parametrize("point", POINTS)
def test_a_crashed_refund_creates_exactly_one_refund(point: str, proxied: Settings,
                                                     su: psycopg.Connection[Any]) -> None:
    session_id = str(one(su, "SELECT tests.se_booking()"))
    run_worker_until_idle(proxied)  # the charge (and emails) go through normally
    payment = _payment(su, session_id)
    assert payment["status"] == "succeeded"
    su.execute("SELECT app_private.payment_request_refund(%s, 2175, 'cancellation', 'tier_2_24h')", [payment["id"]])

    _crash(proxied, "refund-worker", point, "stripe.refund")
    _restart(proxied, "refund-worker")

    at_stripe = refunds_for_payment(str(payment["id"]))
    assert [r.amount for r in at_stripe] == [2175], "exactly one refund for refund:<session>:tier_2_24h"
    ledger = su.execute("SELECT status, stripe_refund_id FROM app.payment_refunds WHERE payment_id = %s",
                        [payment["id"]]).fetchall()
    assert [(r["status"], r["stripe_refund_id"]) for r in ledger] == [("succeeded", at_stripe[0].id)]


def test_a_dead_lease_of_another_worker_is_taken_over_after_it_expires(proxied: Settings,
                                                                       su: psycopg.Connection[Any]) -> None:
    session_id = str(one(su, "SELECT tests.se_booking()"))
    payment_id = str(_payment(su, session_id)["id"])
    short = replace(proxied, worker_lease_seconds=1)
    _crash(short, "dies", "after_call", "stripe.charge")
    # A different worker (no restart of "dies"): it claims the row once the 1 s lease has lapsed.
    other = spawn_worker(short, "takes-over")
    try:
        wait_until(lambda: one(su, "SELECT status = 'done' FROM app.outbox WHERE kind = 'stripe.charge' "
                                   "AND session_id = %s", [session_id]), timeout=30, what="the charge to be done")
    finally:
        other.terminate()  # SIGTERM: graceful shutdown
        out, _ = other.communicate(timeout=30)
    assert other.returncode == 0, out.decode()[-2000:]
    assert len(intents_for_payment(payment_id)) == 1
    assert _payment(su, session_id)["status"] == "succeeded"
    assert one(su, "SELECT stopped_at IS NOT NULL FROM app.worker_heartbeats WHERE worker_id = 'takes-over'")


def test_negative_control_without_stable_keys_case_b_charges_twice(proxied: Settings, su: psycopg.Connection[Any],
                                                                    stripe_proxy: IdempotencyProxy) -> None:
    """The same crash as case (b), but each attempt uses a fresh key (what a worker that generated
    its key at call time would do): the proxy cannot recognise the retry and Stripe charges again."""
    session_id = str(one(su, "SELECT tests.se_booking()"))
    payment_id = str(_payment(su, session_id)["id"])
    unstable = {"AUTODOC_WORKER_FAULT_UNSTABLE_KEYS": "1"}
    _crash(proxied, "unstable", "after_call", "stripe.charge", **unstable)
    _restart(proxied, "unstable", **unstable)
    assert len(intents_for_payment(payment_id)) == 2, "without a stable key the customer is charged twice"
    assert stripe_proxy.stats.replayed == 0


def test_a_worker_killed_mid_apply_leaves_the_booking_event_pending(proxied: Settings, su: psycopg.Connection[Any],
                                                                   stripe_proxy: IdempotencyProxy) -> None:
    # A booking as its transaction leaves it: the session and its one session.booked event, not fanned out.
    session_id = str(one(su, """
        INSERT INTO app.sessions (customer_id, mechanic_id, plan_code, type, service_mode, is_advice_only, concern,
                                  concern_category, scheduled_for, ends_at, status)
        SELECT tests.se_customer(), tests.se_mechanic(), 'standard', 'video', 'online', true, 'Grinding noise',
               'diagnostic', t, t + make_interval(mins => p.duration_minutes), 'scheduled'
          FROM app.plans p, (SELECT date_trunc('hour', now()) + interval '3 days' AS t) x WHERE p.code = 'standard'
        RETURNING id"""))
    assert one(su, "SELECT status FROM app.outbox WHERE kind = 'session.booked' AND session_id = %s",
               [session_id]) == "pending"

    _crash(proxied, "apply-worker", "mid_apply", "session.booked")
    row = su.execute("SELECT status, attempts FROM app.outbox WHERE kind = 'session.booked' AND session_id = %s",
                     [session_id]).fetchone()
    assert row is not None and (row["status"], row["attempts"]) == ("pending", 0), "the kill rolled the apply back"
    assert one(su, "SELECT count(*) FROM app.outbox WHERE session_id = %s AND kind <> 'session.booked'",
               [session_id]) == 0, "nothing of its fan-out was left behind"

    _restart(proxied, "apply-worker")

    payment = _payment(su, session_id)
    assert payment["status"] == "succeeded"
    assert len(intents_for_payment(str(payment["id"]))) == 1
    rows = su.execute("SELECT kind, idempotency_key, status, attempts FROM app.outbox "
                      "WHERE session_id = %s ORDER BY id", [session_id]).fetchall()
    assert [(r["kind"], r["idempotency_key"], r["status"], r["attempts"]) for r in rows] == [
        ("session.booked", f"booked:{session_id}", "done", 1),
        ("stripe.charge", f"charge:{session_id}:full", "done", 1),
        ("email.send", f"email:{session_id}:confirmation:customer:0", "done", 1),
        ("email.send", f"email:{session_id}:mechanic_booking:mechanic:0", "done", 1),
    ], "applied once: one charge and one of each email, each sent once"
    assert set(stripe_proxy.stats.keys_seen) == {f"charge:{session_id}:full"}

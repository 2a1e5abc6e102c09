# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Stripe through the worker against localstripe: charges, declines, refunds, an unreachable
Stripe, the client secret reaching the customer, and the open PaymentIntent of a released hold
being cancelled."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import psycopg
import pytest
from litestar.testing import TestClient

from api.config import Settings
from api.devtools.local_services import LocalSMTP, LocalStripe, free_port
from api.effects import Effect, Job, PermanentError, RetryableError
from api.effects.stripe_effects import StripeEffects
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    bearer,
    fx_settings,
    intents_for_payment,
    local_stripe,
    make_app,
    one,
    refunds_for_payment,
    run_worker_until_idle,
    smtp,
    stripe_client,
    stripe_proxy,
    su,
)
from tests.py.stripe_idempotency_proxy import IdempotencyProxy


def _payment(su: psycopg.Connection[Any], session_id: str, kind: str | None = None) -> dict[str, Any]:
    query = "SELECT * FROM app.scheduled_payments WHERE session_id = %s"
    params: list[Any] = [session_id]
    if kind:
        query += " AND payment_type = %s"
        params.append(kind)
    row = su.execute(query, params).fetchone()
    assert row is not None
    return dict(row)


def test_an_online_booking_is_charged_the_full_price(fx_settings: Settings, su: psycopg.Connection[Any]) -> None:
    session_id = str(one(su, "SELECT tests.se_booking(now() + interval '3 days', 'online', 'premium')"))
    run_worker_until_idle(fx_settings)
    payment = _payment(su, session_id)
    at_stripe = intents_for_payment(str(payment["id"]))
    assert len(at_stripe) == 1
    pi = at_stripe[0]
    assert (pi.amount, pi.currency, pi.status) == (9900, "usd", "succeeded")
    assert pi.metadata["session_id"] == session_id and pi.metadata["payment_type"] == "full"
    assert (payment["status"], payment["payment_intent_id"], payment["client_secret"]) == \
        ("succeeded", pi.id, pi.client_secret)


def test_in_person_deposit_then_balance_after_completion(fx_settings: Settings, su: psycopg.Connection[Any]) -> None:
    session_id = str(one(su, "SELECT tests.se_booking(now() + interval '3 days', 'in_person', 'extended')"))
    run_worker_until_idle(fx_settings)
    deposit = _payment(su, session_id, "deposit")
    assert (deposit["amount_cents"], deposit["status"]) == (1500, "succeeded")
    for status in ("pending", "active", "completed"):
        su.execute("UPDATE app.sessions SET status = %s WHERE id = %s", [status, session_id])
    run_worker_until_idle(fx_settings)
    balance = _payment(su, session_id, "balance")
    assert (balance["amount_cents"], balance["status"]) == (3400, "succeeded")
    assert [pi.amount for pi in intents_for_payment(str(balance["id"]))] == [3400]


def test_a_declined_card_cancels_the_booking(fx_settings: Settings, smtp: LocalSMTP,
                                             su: psycopg.Connection[Any]) -> None:
    declining = replace(fx_settings, stripe_test_payment_method="pm_card_chargeCustomerFail")
    session_id = str(one(su, "SELECT tests.se_booking()"))
    run_worker_until_idle(declining)
    payment = _payment(su, session_id)
    assert payment["status"] == "failed" and "declined" in payment["failure_message"]
    assert one(su, "SELECT cancel_reason FROM app.sessions WHERE id = %s", [session_id]) == "payment_failed"
    email = one(su, "SELECT u.email FROM app.sessions s JOIN app.users u ON u.id = s.customer_id WHERE s.id = %s",
                [session_id])
    subjects = [str(m["Subject"]).strip() for m in smtp.messages if email in str(m["To"])]
    assert any(s.startswith("Cancelled") for s in subjects), subjects


def test_refunds_go_to_stripe_and_never_exceed_the_charge(fx_settings: Settings, su: psycopg.Connection[Any]) -> None:
    session_id = str(one(su, "SELECT tests.se_booking()"))
    run_worker_until_idle(fx_settings)
    payment = _payment(su, session_id)
    su.execute("SELECT app_private.payment_request_refund(%s, 2175, 'cancellation', 'tier_2_24h')", [payment["id"]])
    with pytest.raises(psycopg.Error) as refused:
        su.execute("SELECT app_private.payment_request_refund(%s, 726, 'oops', 'second')", [payment["id"]])
    assert (refused.value.sqlstate, refused.value.diag.message_hint) == ("AD409", "refund_exceeds_charge")
    run_worker_until_idle(fx_settings)
    assert [r.amount for r in refunds_for_payment(str(payment["id"]))] == [2175]
    su.execute("SELECT app_private.payment_request_refund(%s, 725, 'cancellation', 'rest')", [payment["id"]])
    run_worker_until_idle(fx_settings)
    assert sorted(r.amount for r in refunds_for_payment(str(payment["id"]))) == [725, 2175]
    assert _payment(su, session_id)["status"] == "refunded"


def _recording(calls: list[Job], result: dict[str, Any] | None = None) -> Effect:
    def effect(settings: Settings, job: Job) -> dict[str, Any]:
        calls.append(job)
        return result or {"ok": True}
    return effect


def test_a_refund_of_a_failed_payment_is_skipped_without_calling_stripe(fx_settings: Settings,
                                                                       su: psycopg.Connection[Any]) -> None:
    """The database decides at claim time that a failed payment (nothing taken) needs no refund;
    the worker completes the row as skipped and the refund's reservation is released."""
    session_id = str(one(su, "SELECT tests.se_booking()"))
    payment = _payment(su, session_id)
    refund_id = one(su, "SELECT app_private.payment_request_refund(%s, 1000, 'cancellation', 'tier_x')",
                    [payment["id"]])
    refunds: list[Job] = []
    declined = {"declined": True, "status": "requires_payment_method", "payment_intent_id": None,
                "error_message": "Your card was declined."}
    # one Stripe effect at a time (the lane's budget is data): the refund is claimed after the
    # charge wrote its decline back
    su.execute("UPDATE app.outbox_lanes SET concurrency = 1 WHERE lane = 'stripe'")
    run_worker_until_idle(fx_settings,
                          effects={"stripe.charge": _recording([], declined), "stripe.refund": _recording(refunds),
                                   "email.send": _recording([])})
    assert refunds == [], "Stripe is never asked to refund a payment that failed"
    assert _payment(su, session_id)["status"] == "failed"
    row = su.execute("SELECT r.status, p.refund_amount_cents FROM app.payment_refunds r "
                     "JOIN app.scheduled_payments p ON p.id = r.payment_id WHERE r.id = %s", [refund_id]).fetchone()
    assert row is not None and (row["status"], row["refund_amount_cents"]) == ("failed", 0)
    assert one(su, "SELECT result FROM app.outbox WHERE kind = 'stripe.refund' AND session_id = %s",
               [session_id]) == {"status": "skipped", "reason": "payment_failed"}


def test_the_refund_effect_rejects_a_malformed_payload(fx_settings: Settings) -> None:
    with pytest.raises(PermanentError):
        StripeEffects(fx_settings).refund(fx_settings, Job(2, "stripe.refund", "refund:x:z", {"payment_id": "p"}))


def test_stripe_unreachable_is_retried_then_succeeds(fx_settings: Settings, su: psycopg.Connection[Any],
                                                     stripe_proxy: IdempotencyProxy) -> None:
    session_id = str(one(su, "SELECT tests.se_booking()"))
    down = replace(fx_settings, stripe_api_base=f"http://127.0.0.1:{free_port()}")
    run_worker_until_idle(down)
    row = su.execute("SELECT status, attempts, last_error FROM app.outbox WHERE kind = 'stripe.charge' "
                     "AND session_id = %s", [session_id]).fetchone()
    assert row is not None and row["status"] == "pending" and row["attempts"] >= 1
    assert "APIConnectionError" in row["last_error"]
    su.execute("UPDATE app.outbox SET run_after = now() WHERE kind = 'stripe.charge'")  # skip the backoff wait
    run_worker_until_idle(replace(fx_settings, stripe_api_base=stripe_proxy.url))
    assert _payment(su, session_id)["status"] == "succeeded"


def test_the_client_secret_reaches_the_customer(fx_settings: Settings, su: psycopg.Connection[Any]) -> None:
    """Without a test payment method the worker only creates the PaymentIntent; the frontend
    confirms it with the client secret it reads from the payments endpoint."""
    customer = str(one(su, "SELECT tests.se_customer()"))
    hold = str(one(su, "SELECT tests.se_session(%s, tests.se_mechanic(), now() + interval '2 days', 'online', 'held')",
                   [customer]))
    run_worker_until_idle(replace(fx_settings, stripe_test_payment_method=""))
    payment = _payment(su, hold)
    assert payment["status"] == "pending" and payment["client_secret"].startswith(payment["payment_intent_id"])
    with TestClient(app=make_app(fx_settings)) as client:
        r = client.get(f"/api/appointments/{hold}/payments", headers=bearer(customer, "customer"))
        assert r.status_code == 200, r.text
        assert [(p["payment_type"], p["client_secret"]) for p in r.json()] == [("full", payment["client_secret"])]
        stranger = str(one(su, "SELECT tests.se_customer()"))
        r = client.get(f"/api/appointments/{hold}/payments", headers=bearer(stranger, "customer"))
        assert r.status_code == 404 and r.json()["code"] == "session_not_found"
    assert len(intents_for_payment(str(payment["id"]))) == 1, "a slot hold gets exactly one PaymentIntent"


def _unpaid_hold(fx_settings: Settings, su: psycopg.Connection[Any]) -> tuple[str, dict[str, Any]]:
    """A slot hold whose PaymentIntent exists at Stripe but waits for the customer to confirm it."""
    customer = str(one(su, "SELECT tests.se_customer()"))
    hold = str(one(su, "SELECT tests.se_session(%s, tests.se_mechanic(), now() + interval '2 days', 'online', 'held')",
                   [customer]))
    run_worker_until_idle(replace(fx_settings, stripe_test_payment_method=""))
    payment = _payment(su, hold)
    assert payment["status"] == "pending" and payment["payment_intent_id"]
    return hold, payment


def _release_lapsed_holds(su: psycopg.Connection[Any]) -> None:
    with su.transaction():   # the release job, run with the trusted clock 11 minutes ahead
        su.execute("SELECT tests.set_now(now() + interval '11 minutes')")
        su.execute("SELECT api.release_expired_holds()")


def test_a_lapsed_unpaid_hold_has_its_payment_intent_cancelled(fx_settings: Settings,
                                                               su: psycopg.Connection[Any]) -> None:
    hold, payment = _unpaid_hold(fx_settings, su)
    _release_lapsed_holds(su)
    _release_lapsed_holds(su)  # the job running twice cancels once
    run_worker_until_idle(replace(fx_settings, stripe_test_payment_method=""))
    [pi] = intents_for_payment(str(payment["id"]))
    assert (pi.id, pi.status) == (payment["payment_intent_id"], "canceled")
    after = _payment(su, hold)
    assert (after["status"], after["failure_message"]) == ("failed", "cancelled: hold released")
    cancel = su.execute("SELECT idempotency_key, status, result FROM app.outbox "
                        "WHERE kind = 'stripe.cancel_intent' AND session_id = %s", [hold]).fetchall()
    assert [(c["idempotency_key"], c["status"], c["result"]["status"]) for c in cancel] == \
        [(f"cancel:{hold}:full", "done", "canceled")]
    assert refunds_for_payment(str(payment["id"])) == [], "nothing was charged, nothing is refunded"


def test_an_intent_confirmed_before_the_cancel_is_refunded_in_full(fx_settings: Settings, local_stripe: LocalStripe,
                                                                   su: psycopg.Connection[Any]) -> None:
    hold, payment = _unpaid_hold(fx_settings, su)
    # The customer confirms the intent (the frontend, with the client secret) just before the hold lapses.
    customer_side = stripe_client(local_stripe)
    customer_side.v1.payment_intents.update(payment["payment_intent_id"], {"payment_method": "pm_card_visa"})
    assert customer_side.v1.payment_intents.confirm(payment["payment_intent_id"]).status == "succeeded"
    _release_lapsed_holds(su)
    run_worker_until_idle(replace(fx_settings, stripe_test_payment_method=""))
    [pi] = intents_for_payment(str(payment["id"]))
    assert pi.status == "succeeded", "Stripe refuses to cancel a succeeded intent"
    at_stripe = refunds_for_payment(str(payment["id"]))
    assert [r.amount for r in at_stripe] == [payment["amount_cents"]], "refunded in full, exactly once"
    after = _payment(su, hold)
    assert (after["status"], after["refund_amount_cents"]) == ("refunded", payment["amount_cents"])
    assert one(su, "SELECT result ->> 'status' FROM app.outbox WHERE kind = 'stripe.cancel_intent' "
                   "AND session_id = %s", [hold]) == "succeeded"


def test_the_cancel_waits_for_its_charge(fx_settings: Settings) -> None:
    """No PaymentIntent yet (the charge row has not written back): retry later."""
    effects = StripeEffects(fx_settings)
    with pytest.raises(RetryableError):
        effects.cancel_intent(fx_settings, Job(1, "stripe.cancel_intent", "cancel:x:full",
                                               {"payment_id": "p", "payment_intent_id": None,
                                                "payment_status": "pending"}))


def test_a_cancel_of_a_settled_payment_is_skipped_without_calling_stripe(fx_settings: Settings,
                                                                        su: psycopg.Connection[Any]) -> None:
    session_id = str(one(su, "SELECT tests.se_booking()"))
    payment = _payment(su, session_id)
    one(su, "SELECT tests.se_charge_done(%s)", [payment["id"]])
    one(su, "SELECT app_private.outbox_enqueue('stripe.cancel_intent', 'cancel:settled', "
            "jsonb_build_object('payment_id', %s::uuid), %s::uuid)", [payment["id"], session_id])
    cancels: list[Job] = []
    run_worker_until_idle(fx_settings, effects={"stripe.cancel_intent": _recording(cancels),
                                                "email.send": _recording([])})
    assert cancels == []
    assert one(su, "SELECT result FROM app.outbox WHERE idempotency_key = 'cancel:settled'") == \
        {"status": "skipped", "reason": "payment_succeeded"}
    assert _payment(su, session_id)["status"] == "succeeded"

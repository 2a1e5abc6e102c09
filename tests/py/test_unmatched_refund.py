# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""A paid scheduled booking nobody took is refunded in full, end to end: the deferred-matching job
(run twice at the same instant on real parallel connections) cancels it once under the money
policy's `unmatched` tier, the worker refunds the card at (local) Stripe once, the customer gets
the no_mechanic_found email with the receipt through the real SMTP server, and REST shows the
outcome (matching status, the recorded cancellation)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from litestar.testing import TestClient

from api.config import Settings
from api.devtools.local_services import LocalSMTP
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    bearer,
    fx_settings,
    local_stripe,
    make_app,
    messages_to,
    one,
    refunds_for_payment,
    run_worker_until_idle,
    smtp,
    su,
)


@pytest.fixture
def client(fx_settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=make_app(fx_settings)) as c:
        yield c


def test_start_passes_without_a_mechanic_refunded_once_with_the_receipt(
        client: TestClient[Any], fx_settings: Settings, smtp: LocalSMTP, su: psycopg.Connection[Any],
        database: Any) -> None:
    # a booking without a mechanic, 2 hours ahead, paid at localstripe by the worker
    session_id = str(one(su, "SELECT tests.money_booking(now() + interval '2 hours', 'online', 'standard', 0, "
                             "p_paid => false, p_mechanic => false)"))
    su.execute("UPDATE app.sessions SET matching_will_run_at = scheduled_for - interval '30 minutes' WHERE id = %s",
               [session_id])
    run_worker_until_idle(fx_settings)
    assert one(su, "SELECT status FROM app.scheduled_payments WHERE session_id = %s", [session_id]) == "succeeded"
    customer = su.execute("SELECT s.customer_id::text AS id, u.email FROM app.sessions s JOIN app.users u "
                          "ON u.id = s.customer_id WHERE s.id = %s", [session_id]).fetchone()
    assert customer is not None

    # the database was down through the matching time and the start; two job runs at the same instant
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(database.superuser_dsn) as conn, conn.transaction():
                conn.execute("SELECT tests.set_now(now() + interval '2 hours 5 minutes')")
                barrier.wait(10)
                conn.execute("SELECT api.run_deferred_matching()")
        except BaseException as e:   # reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert one(su, "SELECT count(*) FROM app.session_cancellations WHERE session_id = %s AND tier = 'unmatched'",
               [session_id]) == 1

    run_worker_until_idle(fx_settings)
    payment_id = str(one(su, "SELECT id FROM app.scheduled_payments WHERE session_id = %s", [session_id]))
    assert [r.amount for r in refunds_for_payment(payment_id)] == [2900], "one full refund at Stripe"
    assert one(su, "SELECT status FROM app.payment_refunds") == "succeeded"
    mails = messages_to(smtp, customer["email"])
    found = [m for m in mails if str(m["Subject"]).startswith("No mechanic for your appointment")]
    assert len(found) == 1, [str(m["Subject"]) for m in mails]
    body = found[0].get_body(("plain",)).get_content()
    assert "cancelled and everything you paid for it is returned" in body
    assert "Refund to your card:     $29.00" in body
    assert not [m for m in mails if str(m["Subject"]).startswith("Cancelled")], "no second, plain cancellation email"

    me = bearer(customer["id"], "customer")
    matching = client.get(f"/api/sessions/{session_id}/matching", headers=me)
    assert matching.status_code == 200, matching.text
    assert (matching.json()["status"], matching.json()["session_status"]) == ("unmatched", "cancelled")
    quote = client.get(f"/api/sessions/{session_id}/cancellation-quote", headers=me)
    assert quote.status_code == 200, quote.text
    q = quote.json()
    assert (q["tier"], q["refund_cents"], q["platform_cents"], q["already_cancelled"]) == ("unmatched", 2900, 0, True)

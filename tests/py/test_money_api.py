# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Money over REST, end to end with the worker, localstripe and SMTP: the quote, cancelling with
the breakdown (twice: one refund), the refund at Stripe, the receipt emails, account credit spent
on the next booking, mechanic earnings, another customer's session is 404, reconciliation."""

from __future__ import annotations

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


def _booking(su: psycopg.Connection[Any], hours_ahead: float, mode: str = "online", credit: int = 0) -> dict[str, Any]:
    session_id = str(one(su, "SELECT tests.money_booking(now() + make_interval(secs => %s), %s, 'standard', %s, false)",
                         [hours_ahead * 3600, mode, credit]))
    row = su.execute("SELECT s.customer_id, s.mechanic_id, u.email AS customer_email, mu.email AS mechanic_email "
                     "FROM app.sessions s JOIN app.users u ON u.id = s.customer_id "
                     "JOIN app.users mu ON mu.id = s.mechanic_id WHERE s.id = %s", [session_id]).fetchone()
    assert row is not None
    return {"id": session_id, **{k: str(v) for k, v in row.items()}}


def test_quote_then_cancel_with_breakdown_refunds_once(client: TestClient[Any], fx_settings: Settings, smtp: LocalSMTP,
                                                      su: psycopg.Connection[Any]) -> None:
    b = _booking(su, 5)  # 5 hours ahead: the 2-24 h tier
    run_worker_until_idle(fx_settings)  # the charge succeeds at localstripe
    me = bearer(b["customer_id"], "customer")

    quote = client.get(f"/api/sessions/{b['id']}/cancellation-quote", headers=me)
    assert quote.status_code == 200, quote.text
    q = quote.json()
    assert (q["tier"], q["paid_cents"], q["refund_cents"], q["mechanic_cents"], q["already_cancelled"]) == \
        ("2h_24h", 2900, 2175, 725, False)
    assert one(su, "SELECT status FROM app.sessions WHERE id = %s", [b["id"]]) == "scheduled"

    first = client.post(f"/api/sessions/{b['id']}/cancel", json={"reason": "Found the fault myself"}, headers=me)
    assert first.status_code == 200, first.text
    body = first.json()
    keys = ("tier", "refund_cents", "fee_cents", "credit_cents", "mechanic_cents", "platform_cents")
    assert {k: body[k] for k in keys} == {"tier": "2h_24h", "refund_cents": 2175, "fee_cents": 0,
                                         "credit_cents": 0, "mechanic_cents": 725, "platform_cents": 0}
    second = client.post(f"/api/sessions/{b['id']}/cancel", headers=me)  # double click, no body
    assert second.status_code == 200 and second.json()["already_cancelled"] is True
    assert second.json()["refund_cents"] == 2175

    run_worker_until_idle(fx_settings)
    payment_id = str(one(su, "SELECT id FROM app.scheduled_payments WHERE session_id = %s", [b["id"]]))
    assert [r.amount for r in refunds_for_payment(payment_id)] == [2175], "one refund at Stripe"
    assert one(su, "SELECT status FROM app.payment_refunds") == "succeeded"
    receipt = [m for m in messages_to(smtp, b["customer_email"]) if str(m["Subject"]).startswith("Cancelled")]
    assert len(receipt) == 1 and "Refund to your card:     $21.75" in receipt[0].get_body(("plain",)).get_content()
    notice = [m for m in messages_to(smtp, b["mechanic_email"]) if str(m["Subject"]).startswith("Cancelled")]
    assert len(notice) == 1 and "you earn $7.25" in notice[0].get_body(("plain",)).get_content()

    earnings = client.get("/api/mechanics/me/earnings", headers=bearer(b["mechanic_id"], "mechanic"))
    assert earnings.status_code == 200, earnings.text
    assert earnings.json()["total_cents"] == 725 and earnings.json()["items"][0]["kind"] == "cancellation"
    for query in ("from=2026-01-01T00:00:00", "to=2026-01-01T00:00:00"):   # no offset: ambiguous, refused
        r = client.get(f"/api/mechanics/me/earnings?{query}", headers=bearer(b["mechanic_id"], "mechanic"))
        assert r.status_code == 422 and r.json()["detail"]["field"] == query.split("=")[0], r.text
    admin = str(one(su, "SELECT tests.create_admin()"))
    assert client.get("/api/admin/reconciliation", headers=bearer(admin, "admin")).json() == []


def test_another_customers_session_is_404_and_mechanics_cannot_cancel(client: TestClient[Any], fx_settings: Settings,
                                                                     su: psycopg.Connection[Any]) -> None:
    b = _booking(su, 48)
    run_worker_until_idle(fx_settings)
    other = bearer(str(one(su, "SELECT tests.se_customer()")), "customer")
    for r in (client.get(f"/api/sessions/{b['id']}/cancellation-quote", headers=other),
              client.post(f"/api/sessions/{b['id']}/cancel", headers=other)):
        assert r.status_code == 404 and r.json()["code"] == "session_not_found", r.text
    r = client.post(f"/api/sessions/{b['id']}/cancel", headers=bearer(b["mechanic_id"], "mechanic"))
    assert r.status_code == 403, r.text
    r = client.post("/api/sessions/not-a-uuid/cancel", headers=other)
    assert r.status_code == 422 and r.json()["detail"]["field"] == "session_id", r.text
    assert one(su, "SELECT status FROM app.sessions WHERE id = %s", [b["id"]]) == "scheduled"


def test_late_cancellation_credit_is_spent_first_on_the_next_booking(client: TestClient[Any], fx_settings: Settings,
                                                                    su: psycopg.Connection[Any]) -> None:
    b = _booking(su, 1)  # < 2 h: 50% credit, 50% mechanic
    run_worker_until_idle(fx_settings)
    me = bearer(b["customer_id"], "customer")
    body = client.post(f"/api/sessions/{b['id']}/cancel", headers=me).json()
    assert (body["tier"], body["refund_cents"], body["credit_cents"], body["mechanic_cents"]) == \
        ("lt_2h", 0, 1450, 1450)
    credit = client.get("/api/me/credit", headers=me)
    assert credit.status_code == 200, credit.text
    assert credit.json()["balance_cents"] == 1450 and credit.json()["history"][0]["kind"] == "cancellation"

    # The next booking spends the $14.50 first; the card pays $14.50.
    nxt = str(one(su, "SELECT tests.se_session(%s, tests.se_mechanic(), now() + interval '3 days')",
                  [b["customer_id"]]))
    run_worker_until_idle(fx_settings)
    assert one(su, "SELECT amount_cents FROM app.scheduled_payments WHERE session_id = %s", [nxt]) == 1450
    assert client.get("/api/me/credit", headers=me).json()["balance_cents"] == 0
    quote = client.get(f"/api/sessions/{nxt}/cancellation-quote", headers=me).json()
    assert (quote["paid_cents"], quote["refund_cents"], quote["credit_cents"]) == (2900, 1450, 950), \
        ">= 24 h: the card part back to the card, the credit part (less the fee) back as credit"

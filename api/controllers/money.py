"""Money: cancellation with its breakdown, the quote, account credit, mechanic earnings.

    POST /api/sessions/{id}/cancel               api.cancel_session      (customer: own; admin: any)
    GET  /api/sessions/{id}/cancellation-quote   api.cancellation_quote  (the same breakdown, nothing cancelled)
    GET  /api/me/credit                          api.my_credit           (customer: balance + history)
    GET  /api/mechanics/me/earnings?from&to      api.my_earnings         (mechanic: own earnings)
    GET  /api/money/policy                       api.money_policy        (the terms in force)
    GET  /api/admin/reconciliation               api.reconcile_payments  (admins)

Every rule (tiers, amounts, who may cancel, RLS on the ledger) is the database's; another
customer's session is 404 session_not_found there. docs/money.md describes the breakdown.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.params import Parameter

from api.controllers.common import parse_uuid
from api.db import Conn, call, call_rows
from api.schemas import Input

Note = Annotated[str, msgspec.Meta(max_length=500)]


class CancelRequest(Input):
    """Optional body of a cancellation: a free-text note kept with the receipt."""
    reason: Note | None = None


class CancellationBreakdown(msgspec.Struct, kw_only=True):
    """What a cancellation does with the money paid for the booking (integer cents).
    paid_cents = refund_cents + credit_cents + mechanic_cents + platform_cents; fee_cents is the
    processing fee taken off the refund (part of platform_cents)."""
    session_id: uuid.UUID
    tier: str
    description: str
    policy_version: int
    service_mode: str
    currency: str
    lead_seconds: int
    paid_cents: int
    refund_cents: int
    fee_cents: int
    credit_cents: int
    mechanic_cents: int
    platform_cents: int
    already_cancelled: bool
    payment_pending: bool = False
    reason: str | None = None
    cancelled_at: dt.datetime | None = None


class CreditMovement(msgspec.Struct, kw_only=True):
    at: dt.datetime
    kind: str
    amount_cents: int
    balance_after_cents: int | None
    session_id: uuid.UUID | None


class CreditBalance(msgspec.Struct, kw_only=True):
    balance_cents: int
    currency: str
    history: list[CreditMovement]


class EarningsItem(msgspec.Struct, kw_only=True):
    at: dt.datetime
    kind: str
    session_id: uuid.UUID | None
    amount_cents: int


class Earnings(msgspec.Struct, kw_only=True):
    from_: dt.datetime = msgspec.field(name="from")
    to: dt.datetime
    currency: str
    total_cents: int
    balance_cents: int
    items: list[EarningsItem]


class ReconciliationProblem(msgspec.Struct, kw_only=True):
    session_id: uuid.UUID | None
    problem: str
    detail: dict[str, Any]


class MoneyController(Controller):
    path = "/api"
    tags = ["money"]

    @post("/sessions/{session_id:str}/cancel", status_code=200,
          summary="Cancel a scheduled appointment under its booking's policy; returns the refund breakdown")
    async def cancel(self, db: Conn, session_id: str, data: CancelRequest | None = None) -> CancellationBreakdown:
        result = await call(db, "cancel_session", {"p_session_id": parse_uuid(session_id, "session_id"),
                                                   "p_reason": data.reason if data else None})
        return msgspec.convert(result, CancellationBreakdown, strict=False)

    @get("/sessions/{session_id:str}/cancellation-quote",
         summary="What cancelling now would refund, credit and pay out (nothing is cancelled)")
    async def quote(self, db: Conn, session_id: str) -> CancellationBreakdown:
        result = await call(db, "cancellation_quote", {"p_session_id": parse_uuid(session_id, "session_id")})
        return msgspec.convert(result, CancellationBreakdown, strict=False)

    @get("/me/credit", summary="My account credit: balance and history (credit never expires)")
    async def credit(self, db: Conn, limit: Annotated[int, Parameter(ge=1, le=1000)] = 100) -> CreditBalance:
        return msgspec.convert(await call(db, "my_credit", {"p_limit": limit}), CreditBalance, strict=False)

    @get("/mechanics/me/earnings", summary="My earnings in [from, to) (default: the last 30 days)")
    async def earnings(
        self, db: Conn,
        from_: Annotated[dt.datetime | None, Parameter(query="from")] = None,
        to: Annotated[dt.datetime | None, Parameter(query="to")] = None,
    ) -> Earnings:
        result = await call(db, "my_earnings", {"p_from": from_, "p_to": to})
        return msgspec.convert(result, Earnings, strict=False)

    @get("/money/policy", summary="The money policy in force: deposit, commission, cancellation tiers")
    async def policy(self, db: Conn) -> dict[str, Any]:
        result: dict[str, Any] = await call(db, "money_policy", {})
        return result

    @get("/admin/reconciliation",
         summary="Where the ledger, payment records and Stripe's reports disagree (empty when healthy; admins)")
    async def reconciliation(self, db: Conn) -> list[ReconciliationProblem]:
        rows = await call_rows(db, "reconcile_payments", {})
        return [msgspec.convert(r, ReconciliationProblem, strict=False) for r in rows]

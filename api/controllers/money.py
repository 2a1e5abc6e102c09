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
from typing import Annotated

from litestar import Controller, get, post
from litestar.params import Parameter

from api.controllers.common import parse_uuid
from api.db import Conn, call, call_rows
from api.errors import field_error
from api.responses import (
    CancellationBreakdown,
    CreditBalance,
    Earnings,
    MoneyPolicy,
    ReconciliationProblem,
    shape,
)
from api.schemas import CancelRequest


class MoneyController(Controller):
    path = "/api"
    tags = ["money"]

    @post("/sessions/{session_id:str}/cancel", status_code=200,
          summary="Cancel a scheduled appointment under its booking's policy; returns the refund breakdown")
    async def cancel(self, db: Conn, session_id: str, data: CancelRequest | None = None) -> CancellationBreakdown:
        result = await call(db, "cancel_session", {"p_session_id": parse_uuid(session_id, "session_id"),
                                                   "p_reason": data.reason if data else None})
        return shape(CancellationBreakdown, result)

    @get("/sessions/{session_id:str}/cancellation-quote",
         summary="What cancelling now would refund, credit and pay out (nothing is cancelled)")
    async def quote(self, db: Conn, session_id: str) -> CancellationBreakdown:
        result = await call(db, "cancellation_quote", {"p_session_id": parse_uuid(session_id, "session_id")})
        return shape(CancellationBreakdown, result)

    @get("/me/credit", summary="My account credit: balance and history (credit never expires)")
    async def credit(self, db: Conn, limit: Annotated[int, Parameter(ge=1, le=1000)] = 100) -> CreditBalance:
        return shape(CreditBalance, await call(db, "my_credit", {"p_limit": limit}))

    @get("/mechanics/me/earnings", summary="My earnings in [from, to) (default: the last 30 days)")
    async def earnings(
        self, db: Conn,
        from_: Annotated[dt.datetime | None, Parameter(query="from")] = None,
        to: Annotated[dt.datetime | None, Parameter(query="to")] = None,
    ) -> Earnings:
        for name, value in (("from", from_), ("to", to)):
            if value is not None and value.tzinfo is None:   # a naive time would be read in the server's zone
                raise field_error(name, "query", "Invalid instant", f"{name} must be an instant with its offset")
        result = await call(db, "my_earnings", {"p_from": from_, "p_to": to})
        return shape(Earnings, result)

    @get("/money/policy", summary="The money policy in force: deposit, commission, cancellation tiers")
    async def policy(self, db: Conn) -> MoneyPolicy:
        return shape(MoneyPolicy, await call(db, "money_policy", {}))

    @get("/admin/reconciliation",
         summary="Where the ledger, payment records and Stripe's reports disagree (empty when healthy; admins)")
    async def reconciliation(self, db: Conn) -> list[ReconciliationProblem]:
        rows = await call_rows(db, "reconcile_payments", {})
        return shape(list[ReconciliationProblem], rows)

"""Matching and offers (SQL in db/functions/60_*.sql; docs/matching.md).

    POST /api/sessions/request-now                       api.create_session (immediate) + api.session_matching
    GET  /api/sessions/{session_id}/matching             api.session_matching
    POST /api/sessions/{session_id}/cancel-request       api.cancel_request
    GET  /api/mechanic/offers                            api.my_offers            (?all=true: also answered)
    POST /api/mechanic/offers/{offer_id}/accept          api.accept_offer
    POST /api/mechanic/offers/{offer_id}/decline         api.decline_offer        {reason?}
    GET  /api/admin/sessions/{session_id}/matches        api.match_mechanics      (?limit, ?excludeOffered)
    GET  /api/admin/matching/criteria                    api.matching_criteria
    PUT  /api/admin/matching/criteria/{code}             api.set_matching_criterion {weight?, enabled?}
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post, put
from litestar.params import Parameter

from api.controllers.common import parse_uuid, sql_args
from api.db import Conn, call, call_rows
from api.responses import (
    Candidates,
    Criteria,
    Criterion,
    Offer,
    Offers,
    RequestedNow,
    Session,
    SessionMatching,
    shape,
)
from api.schemas import CriterionUpdate, DeclineRequest, RequestNowRequest


class RequestNowController(Controller):
    path = "/api/sessions"
    tags = ["matching"]

    @post("/request-now", summary="Find me a mechanic now: an immediate session, offered to the best mechanics")
    async def request_now(self, db: Conn, data: RequestNowRequest) -> RequestedNow:
        metadata = dict(data.metadata) if data.metadata is not msgspec.UNSET else {}
        if data.brand_specialist_only is not msgspec.UNSET:
            metadata["brand_specialist_only"] = data.brand_specialist_only
        args = sql_args(data, rename={"plan": "p_plan_code", "uploaded_files": "p_file_refs"},
                        jsonb=("uploaded_files", "metadata"))
        args.pop("p_brand_specialist_only", None)
        if metadata:
            args["p_metadata"] = metadata
        session = shape(Session, await call(db, "create_session", args))
        matching = await call(db, "session_matching", {"p_session_id": session.id})
        return RequestedNow(session=session, matching=shape(SessionMatching, matching))

    @get("/{session_id:str}/matching", summary="Where matching of my session stands (round, open offers, mechanic)")
    async def matching(self, db: Conn, session_id: str) -> SessionMatching:
        session = parse_uuid(session_id, "session_id")
        return shape(SessionMatching, await call(db, "session_matching", {"p_session_id": session}))

    @post("/{session_id:str}/cancel-request", status_code=200,
          summary="Withdraw an immediate request no mechanic has accepted yet (nothing is charged)")
    async def cancel_request(self, db: Conn, session_id: str) -> Session:
        session = parse_uuid(session_id, "session_id")
        return shape(Session, await call(db, "cancel_request", {"p_session_id": session}))


class OffersController(Controller):
    path = "/api/mechanic/offers"
    tags = ["matching"]

    @get("/", summary="My offers: open ones (default) or all (?all=true)")
    async def mine(self, db: Conn, all_offers: Annotated[bool, Parameter(query="all")] = False) -> Offers:
        return shape(Offers, {"offers": await call_rows(db, "my_offers", {"p_open_only": not all_offers})})

    @post("/{offer_id:str}/accept", status_code=200,
          summary="Accept an offer: the first mechanic to accept gets the session")
    async def accept(self, db: Conn, offer_id: str) -> Offer:
        return shape(Offer, await call(db, "accept_offer", {"p_offer_id": parse_uuid(offer_id, "offer_id")}))

    @post("/{offer_id:str}/decline", status_code=200, summary="Decline an offer: {reason?}")
    async def decline(self, db: Conn, offer_id: str, data: DeclineRequest | None = None) -> Offer:
        args: dict[str, Any] = {"p_offer_id": parse_uuid(offer_id, "offer_id")}
        if data is not None and data.reason not in (msgspec.UNSET, None):
            args["p_reason"] = data.reason
        return shape(Offer, await call(db, "decline_offer", args))


class MatchingAdminController(Controller):
    path = "/api/admin"
    tags = ["matching", "admin"]

    @get("/sessions/{session_id:str}/matches", summary="Why mechanics rank where they do for a session")
    async def matches(self, db: Conn, session_id: str,
                      limit: Annotated[int, Parameter(ge=1, le=100)] = 10,
                      exclude_offered: Annotated[bool, Parameter(query="excludeOffered")] = False) -> Candidates:
        session = parse_uuid(session_id, "session_id")
        rows = await call_rows(db, "match_mechanics", {"p_session_id": session, "p_limit": limit,
                                                      "p_exclude_offered": exclude_offered})
        return shape(Candidates, {"session_id": session, "candidates": rows})

    @get("/matching/criteria", summary="The matching criteria and their weights")
    async def criteria(self, db: Conn) -> Criteria:
        return shape(Criteria, {"criteria": await call_rows(db, "matching_criteria")})

    @put("/matching/criteria/{code:str}", summary="Change a criterion's weight and/or enabled flag")
    async def set_criterion(self, db: Conn, code: Annotated[str, Parameter(max_length=64)],
                            data: CriterionUpdate) -> Criterion:
        return shape(Criterion, await call(db, "set_matching_criterion", sql_args(data, p_code=code)))

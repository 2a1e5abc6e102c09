"""Waivers and the live session (SQL in db/functions/80_*.sql; docs/session-lifecycle.md).

    GET  /api/waivers/current                          api.current_waiver
    POST /api/admin/waivers                            api.publish_waiver            {title, body}
    GET  /api/sessions/{session_id}/waiver             api.session_waiver            (the waiver page)
    POST /api/sessions/{session_id}/waiver             api.sign_waiver               {signature, agreed, mode?}
    POST /api/sessions/{session_id}/join               api.join_session
    POST /api/sessions/{session_id}/complete           api.complete_session          {notes?}
    POST /api/sessions/{session_id}/rating             api.rate_session              {rating, comment?}
    POST /api/sessions/{session_id}/cancel-missing-waiver  api.cancel_for_missing_waiver {note?}
    GET  /api/mechanics/me/schedule?date=YYYY-MM-DD    api.mechanic_day

The frontend's waiver page (`<AUTODOC_APP_URL>/customer/appointments/{id}/waiver`, the link in the
confirmation and the 15-minute reminder) reads and signs through the two /waiver routes with the
same id.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import Parameter

from api.controllers.common import parse_day, parse_uuid
from api.db import Conn, call
from api.responses import (
    CompletedSession,
    LiveSession,
    MechanicDay,
    MissingWaiverCancelled,
    SessionRating,
    SessionWaiver,
    WaiverSigned,
    WaiverVersion,
    shape,
)
from api.schemas import (
    CompleteSessionRequest,
    MissingWaiverCancelRequest,
    PublishWaiverRequest,
    RateSessionRequest,
    SignWaiverRequest,
)


def _given(value: Any) -> bool:
    return value is not msgspec.UNSET and value is not None


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    """The address the request came from (the TCP peer as the ASGI server reports it), or None when
    that is not an IP address (a test client, a Unix socket)."""
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


class LiveSessionController(Controller):
    path = "/api"
    tags = ["live session"]

    @get("/waivers/current", summary="The waiver text in force (the latest published version)")
    async def current_waiver(self, db: Conn) -> WaiverVersion:
        return shape(WaiverVersion, await call(db, "current_waiver"))

    @post("/admin/waivers", summary="Publish a new waiver version (admins): {title, body}")
    async def publish_waiver(self, db: Conn, data: PublishWaiverRequest) -> WaiverVersion:
        return shape(WaiverVersion, await call(db, "publish_waiver", {"p_title": data.title, "p_body": data.body}))

    @get("/sessions/{session_id:str}/waiver",
         summary="The waiver page: the text to sign, the signing window, the signature (with its image) once signed")
    async def waiver(self, db: Conn, session_id: str) -> SessionWaiver:
        session = parse_uuid(session_id, "session_id")
        return shape(SessionWaiver, await call(db, "session_waiver", {"p_session_id": session}))

    @post("/sessions/{session_id:str}/waiver", status_code=200,
          summary="Sign the waiver: {signature: data:image/png;base64 URL, agreed: true, mode?}; signing twice "
                  "returns the first signature")
    async def sign(self, db: Conn, request: Request[Any, Any, Any], session_id: str,
                   data: SignWaiverRequest) -> WaiverSigned:
        args: dict[str, Any] = {
            "p_session_id": parse_uuid(session_id, "session_id"),
            "p_signature": data.signature,
            "p_agreed": data.agreed,
            # who signed from where: the request's, never the body's
            "p_ip_address": client_ip(request),
            "p_user_agent": request.headers.get("user-agent"),
        }
        if _given(data.mode):
            args["p_mode"] = data.mode
        return shape(WaiverSigned, await call(db, "sign_waiver", args))

    @post("/sessions/{session_id:str}/join", status_code=200,
          summary="Join the session (customer or mechanic): refused before the waiver is signed and outside its time")
    async def join(self, db: Conn, session_id: str) -> LiveSession:
        session = parse_uuid(session_id, "session_id")
        return shape(LiveSession, await call(db, "join_session", {"p_session_id": session}))

    @post("/sessions/{session_id:str}/complete", status_code=200,
          summary="Complete an active session (its mechanic): {notes?}; an in-person balance is charged")
    async def complete(self, db: Conn, session_id: str, data: CompleteSessionRequest | None = None) -> CompletedSession:
        args: dict[str, Any] = {"p_session_id": parse_uuid(session_id, "session_id")}
        if data is not None and _given(data.notes):
            args["p_notes"] = data.notes
        return shape(CompletedSession, await call(db, "complete_session", args))

    @post("/sessions/{session_id:str}/rating",
          summary="Rate a completed session once (its customer): {rating 1-5, comment?}")
    async def rate(self, db: Conn, session_id: str, data: RateSessionRequest) -> SessionRating:
        args: dict[str, Any] = {"p_session_id": parse_uuid(session_id, "session_id"), "p_rating": data.rating}
        if _given(data.comment):
            args["p_comment"] = data.comment
        return shape(SessionRating, await call(db, "rate_session", args))

    @post("/sessions/{session_id:str}/cancel-missing-waiver", status_code=200,
          summary="Cancel a session whose waiver is unsigned 10 minutes after its start (its mechanic): {note?}")
    async def cancel_missing_waiver(self, db: Conn, session_id: str,
                                    data: MissingWaiverCancelRequest | None = None) -> MissingWaiverCancelled:
        args: dict[str, Any] = {"p_session_id": parse_uuid(session_id, "session_id")}
        if data is not None and _given(data.note):
            args["p_note"] = data.note
        return shape(MissingWaiverCancelled, await call(db, "cancel_for_missing_waiver", args))

    @get("/mechanics/me/schedule",
         summary="My day (mechanics): sessions on the local day ?date=YYYY-MM-DD (default today) with waiver "
                 "status, customer first name, vehicle, concern, mode and workshop")
    async def my_day(self, db: Conn,
                     date: Annotated[str | None, Parameter(max_length=40)] = None) -> MechanicDay:
        args: dict[str, Any] = {"p_date": parse_day(date, "date")} if date else {}
        return shape(MechanicDay, await call(db, "mechanic_day", args))

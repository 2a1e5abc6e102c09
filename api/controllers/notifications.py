"""Appointment notifications and the outbox admin view.

- `GET  /api/appointments/{id}/calendar.ics`           the appointment's calendar invite (same UID
  and SEQUENCE as the emailed one; METHOD:CANCEL once cancelled)
- `POST /api/appointments/{id}/resend-confirmation`    queue the confirmation email again
- `GET  /api/appointments/{id}/payments`               the appointment's payments, with the
  PaymentIntent client secret the frontend confirms a charge with
- `GET  /api/admin/outbox/dead`                        dead-lettered side effects (admins)
- `POST /api/admin/outbox/{id}/retry`                  put a dead letter back in the queue (admins)

Who may do what is decided by the database (grants and the functions' own checks).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import Parameter
from litestar.response import Response

from api.calendar_invite import build_invite, organizer_from
from api.controllers.common import parse_uuid
from api.db import Conn, call, call_rows
from api.responses import DeadLetter, OutboxRetried, Payment, ResendQueued, shape


class AppointmentNotificationsController(Controller):
    path = "/api/appointments"
    tags = ["notifications"]

    @get("/{appointment_id:str}/calendar.ics", summary="Download the appointment's calendar invite (.ics)",
         media_type="text/calendar")
    async def calendar_invite(self, request: Request[Any, Any, Any], db: Conn, appointment_id: str) -> Response[bytes]:
        session_id = parse_uuid(appointment_id, "appointment_id")
        invite: dict[str, Any] = await call(db, "appointment_invite", {"p_session_id": session_id})
        settings = request.app.state.settings
        name, address = organizer_from(settings.mail_from)
        ics = build_invite(invite, organizer_name=name, organizer_email=address, base_url=settings.app_url)
        method = str(invite.get("method") or "REQUEST")
        return Response(ics, media_type=f"text/calendar; charset=utf-8; method={method}",
                        headers={"Content-Disposition": f'attachment; filename="autodoctor-{session_id}.ics"'})

    @post("/{appointment_id:str}/resend-confirmation", status_code=202,
          summary="Send the confirmation email (with its calendar invite) again")
    async def resend_confirmation(self, db: Conn, appointment_id: str) -> ResendQueued:
        session_id = parse_uuid(appointment_id, "appointment_id")
        return shape(ResendQueued, await call(db, "resend_confirmation", {"p_session_id": session_id}))

    @get("/{appointment_id:str}/payments", summary="The appointment's payments (with the client secret)")
    async def payments(self, db: Conn, appointment_id: str) -> list[Payment]:
        session_id = parse_uuid(appointment_id, "appointment_id")
        return shape(list[Payment], await call_rows(db, "session_payments", {"p_session_id": session_id}))


class AdminOutboxController(Controller):
    path = "/api/admin/outbox"
    tags = ["operations"]

    @get("/dead", summary="Dead-lettered side effects, newest first (admins)")
    async def dead_letters(self, db: Conn, limit: int = Parameter(default=50, ge=1, le=500),
                           offset: int = Parameter(default=0, ge=0)) -> list[DeadLetter]:
        rows = await call_rows(db, "outbox_dead_letters", {"p_limit": limit, "p_offset": offset})
        return shape(list[DeadLetter], rows)

    @post("/{outbox_id:int}/retry", status_code=200, summary="Put a dead letter back in the queue (admins)")
    async def retry(self, db: Conn, outbox_id: int) -> OutboxRetried:
        rows = await call_rows(db, "outbox_retry", {"p_id": outbox_id})
        return shape(OutboxRetried, rows[0])


ROUTE_HANDLERS = [AppointmentNotificationsController, AdminOutboxController]

"""Sessions and appointments: the session factory, slot holds, my appointments, reschedule.

    POST   /api/slot-holds                        api.hold_slot
    DELETE /api/slot-holds/{hold_id}              api.release_hold
    POST   /api/sessions/create                   api.create_session   (immediate or scheduled)
    POST   /api/scheduling/create-appointment     api.create_session   (the same factory)
    GET    /api/appointments                      api.my_appointments  (upcoming and past) + api.my_waitlist
    GET    /api/appointments/{id}                 api.get_appointment
    POST   /api/appointments/{id}/reschedule      api.reschedule_session
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.params import Parameter

from api.controllers.common import parse_uuid, sql_args
from api.controllers.waitlist import my_waitlist
from api.db import Conn, call, call_rows
from api.errors import api_error
from api.responses import Appointment, Hold, HoldReleased, MyAppointments, Session, shape
from api.schemas import CreateSessionRequest, HoldRequest, RescheduleRequest

# Body field -> SQL argument, where the plan's name differs from the function's.
SESSION_ARGS = {"plan": "p_plan_code", "uploaded_files": "p_file_refs"}


async def _create_session(db: Conn, data: CreateSessionRequest) -> Session:
    return shape(Session, await call(db, "create_session",
                                     sql_args(data, rename=SESSION_ARGS, jsonb=("uploaded_files",))))


class SlotHoldsController(Controller):
    path = "/api/slot-holds"
    tags = ["booking"]

    @post("/", summary="Hold a slot for 10 minutes while paying: {mechanicId, startTime, plan?, serviceMode?}")
    async def hold(self, db: Conn, data: HoldRequest) -> Hold:
        return shape(Hold, await call(db, "hold_slot", sql_args(data, rename={
            "start_time": "p_starts_at", "plan": "p_plan_code"}, aliases={"scheduled_for": "start_time"})))

    @delete("/{hold_id:str}", status_code=200, summary="Give a slot hold back")
    async def release(self, db: Conn, hold_id: str) -> HoldReleased:
        hold = parse_uuid(hold_id, "hold_id")
        return HoldReleased(hold_id=hold, released=await call(db, "release_hold", {"p_hold_id": hold}))


class SessionsController(Controller):
    path = "/api"
    tags = ["booking"]

    @post("/sessions/create", summary="The session factory: immediate (no scheduled_for) or scheduled")
    async def create(self, db: Conn, data: CreateSessionRequest) -> Session:
        return await _create_session(db, data)

    @post("/scheduling/create-appointment", summary="Schedule an appointment (the same session factory)")
    async def create_appointment(self, db: Conn, data: CreateSessionRequest) -> Session:
        return await _create_session(db, data)


class AppointmentsController(Controller):
    path = "/api/appointments"
    tags = ["booking"]

    @get("/", summary="My appointments: upcoming (soonest first), past (latest first) and my waitlist status")
    async def mine(self, db: Conn, request: Request[Any, Any, Any],
                   limit: Annotated[int, Parameter(ge=1, le=500)] = 100) -> MyAppointments:
        upcoming = await call_rows(db, "my_appointments", {"p_scope": "upcoming", "p_limit": limit})
        past = await call_rows(db, "my_appointments", {"p_scope": "past", "p_limit": limit})
        waitlist = await my_waitlist(db, request)
        return shape(MyAppointments, {"upcoming": upcoming, "past": past, "waitlist": waitlist})

    @get("/{appointment_id:str}", summary="One appointment (row-level security decides who may see it)")
    async def one(self, db: Conn, appointment_id: str) -> Appointment:
        session = parse_uuid(appointment_id, "appointment_id")
        rows = await call_rows(db, "get_appointment", {"p_session_id": session})
        if not rows:  # the function raises 404 itself; this only guards the shape
            raise api_error(404, "session_not_found", "Appointment not found", {"session_id": str(session)})
        return shape(Appointment, rows[0])

    @post("/{appointment_id:str}/reschedule", status_code=200,
          summary="Move an appointment atomically: {scheduled_for, mechanic_id?}")
    async def reschedule(self, db: Conn, appointment_id: str, data: RescheduleRequest) -> Session:
        return shape(Session, await call(db, "reschedule_session", sql_args(
            data, p_session_id=parse_uuid(appointment_id, "appointment_id"))))

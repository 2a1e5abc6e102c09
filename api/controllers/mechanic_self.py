"""A mechanic's self-service: shift on/off, weekly availability blocks, time off, schedule.

    POST   /api/mechanic/shift                    api.set_shift               {onShift}
    PUT    /api/mechanic/availability-blocks      api.set_availability_blocks
    GET    /api/mechanic/time-off                 api.my_time_off
    POST   /api/mechanic/time-off                 api.add_time_off
    DELETE /api/mechanic/time-off/{time_off_id}   api.remove_time_off
    GET    /api/mechanic/schedule                 api.mechanic_schedule (booked with me, with who is coming and
                                                  the waiver status; my day: GET /api/mechanics/me/schedule)
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.params import Parameter

from api.controllers.common import parse_uuid, sql_args, time_off_args
from api.db import Conn, call, call_rows
from api.responses import BlockCount, CreatedId, Deleted, Schedule, Shift, TimeOffList, shape
from api.schemas import AvailabilityBlocksRequest, ShiftRequest, TimeOffRequest


class MechanicSelfController(Controller):
    path = "/api/mechanic"
    tags = ["mechanic"]

    @post("/shift", status_code=200, summary="Go on or off shift: {onShift}")
    async def shift(self, db: Conn, data: ShiftRequest) -> Shift:
        return shape(Shift, await call(db, "set_shift", sql_args(data)))

    @put("/availability-blocks", summary="Replace my weekly availability blocks (independent mechanics)")
    async def blocks(self, db: Conn, data: AvailabilityBlocksRequest) -> BlockCount:
        return BlockCount(blocks=await call(db, "set_availability_blocks",
                                            sql_args(data, jsonb=("blocks",), p_mechanic_id=None)))

    @get("/time-off", summary="My current and future time off")
    async def time_off(self, db: Conn) -> TimeOffList:
        return shape(TimeOffList, {"time_off": await call_rows(db, "my_time_off")})

    @post("/time-off", summary="Add time off: {start_date, end_date, reason?}")
    async def add_time_off(self, db: Conn, data: TimeOffRequest) -> CreatedId:
        return CreatedId(id=await call(db, "add_time_off", await time_off_args(db, data, None)))

    @delete("/time-off/{time_off_id:str}", status_code=200, summary="Remove one of my time-off entries")
    async def remove_time_off(self, db: Conn, time_off_id: str) -> Deleted:
        entry = parse_uuid(time_off_id, "time_off_id")
        return Deleted(id=entry, deleted=await call(db, "remove_time_off", {"p_time_off_id": entry}))

    @get("/schedule", summary="Appointments booked with me, upcoming and past, with the customer's first name "
                              "and vehicle")
    async def schedule(self, db: Conn, limit: Annotated[int, Parameter(ge=1, le=500)] = 100) -> Schedule:
        upcoming = await call_rows(db, "mechanic_schedule", {"p_scope": "upcoming", "p_limit": limit})
        past = await call_rows(db, "mechanic_schedule", {"p_scope": "past", "p_limit": limit})
        return shape(Schedule, {"upcoming": upcoming, "past": past})

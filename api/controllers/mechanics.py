"""Mechanic directory and availability: the customer's "choose a mechanic" and "pick a time" steps.
Public: anyone may call these, without a token too (as `autodoc_anon`; the SQL grants decide).

    GET  /api/mechanics                         api.list_mechanics            tabs, online/offline, favorites first
                                                (+ api.waitlist_queue for admins: the waitlist's length)
    GET  /api/mechanics/available               api.list_available_mechanics  on shift now
    POST /api/mechanics/availability/slots      api.mechanic_slots            one local day's slots
    POST /api/mechanics/availability/check      api.check_availability        one [start, end)
    GET  /api/mechanics/{mechanic_id}/calendar  api.mechanic_calendar         per-day summary (30 days)
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, post
from litestar.params import Parameter

from api.auth import TOKEN_OPTIONAL
from api.controllers.common import parse_day, parse_uuid, sql_args
from api.controllers.waitlist import waitlist_queue
from api.db import Conn, call_rows
from api.responses import MechanicDirectory, MechanicList, shape
from api.schemas import (
    CalendarDay,
    CalendarResponse,
    CheckRequest,
    CheckResponse,
    Slot,
    SlotsRequest,
    SlotsResponse,
)

Filter = Annotated[str | None, Parameter(max_length=200)]
Limit = Annotated[int, Parameter(ge=1, le=500)]


def _given(**values: Any) -> dict[str, Any]:
    """Only the query parameters the client gave (the SQL defaults apply to the rest)."""
    return {f"p_{k}": v for k, v in values.items() if v is not None}


class MechanicsController(Controller):
    path = "/api/mechanics"
    tags = ["mechanics"]
    opt = {TOKEN_OPTIONAL: True}  # the public directory: no token needed (see api/auth.py)
    security = [{}]  # OpenAPI: the bearer token is optional here

    @get("/", summary="List mechanics: tab all | brand_specialist | favorites; online and offline; favorites first")
    async def list_mechanics(
        self, db: Conn, request: Request[Any, Any, Any],
        tab: Literal["all", "brand_specialist", "favorites"] = "all",
        online: bool | None = None,
        make: Filter = None,
        country: Filter = None,
        state_province: Filter = None,
        city: Filter = None,
        postal_code: Filter = None,
        search: Filter = None,
        limit: Limit = 50,
        offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
    ) -> MechanicDirectory:
        rows = await call_rows(db, "list_mechanics", _given(
            tab=tab, online=online, make=make, country=country, state_province=state_province, city=city,
            postal_code=postal_code, search=search, limit=limit, offset=offset))
        queue = await waitlist_queue(db, request)
        return shape(MechanicDirectory, {"mechanics": rows} if queue is None else {"mechanics": rows,
                                                                                  "waitlist_queue": queue})

    @get("/available", summary="Mechanics on shift now (currently_on_shift), favorites first")
    async def list_available(
        self, db: Conn,
        make: Filter = None,
        country: Filter = None,
        state_province: Filter = None,
        city: Filter = None,
        postal_code: Filter = None,
        limit: Limit = 50,
    ) -> MechanicList:
        rows = await call_rows(db, "list_available_mechanics", _given(
            make=make, country=country, state_province=state_province, city=city, postal_code=postal_code,
            limit=limit))
        return shape(MechanicList, {"mechanics": rows})

    @post("/availability/slots", status_code=200, opt={"reads_only": True},
          summary="The slots of one local day: {mechanicId, date, plan?} -> {slots: [{startTime, endTime, available}]}")
    async def slots(self, db: Conn, data: SlotsRequest) -> SlotsResponse:
        day = parse_day(data.date)
        rows = await call_rows(db, "mechanic_slots", sql_args(data, rename={"plan": "p_plan_code"}, p_date=day))
        return SlotsResponse(mechanic_id=data.mechanic_id, date=day, slots=[
            Slot(start_time=r["starts_at"], end_time=r["ends_at"], available=r["available"],
                 local_start=r["local_start"], reasons=r["reasons"]) for r in rows])

    @post("/availability/check", status_code=200, opt={"reads_only": True},
          summary="Is the mechanic available for [startTime, endTime)? With the reasons when not")
    async def check(self, db: Conn, data: CheckRequest) -> CheckResponse:
        rows = await call_rows(db, "check_availability", sql_args(data, rename={
            "start_time": "p_starts_at", "end_time": "p_ends_at", "plan": "p_plan_code"}))
        r = rows[0]
        return CheckResponse(mechanic_id=data.mechanic_id, available=r["available"], reasons=r["reasons"],
                             start_time=r["starts_at"], end_time=r["ends_at"])

    @get("/{mechanic_id:str}/calendar", summary="Per local day: available and total slots (default 30 days)")
    async def calendar(
        self, db: Conn, mechanic_id: str,
        from_date: Annotated[dt.date | None, Parameter(query="from")] = None,
        days: Annotated[int | None, Parameter(ge=1, le=366)] = None,
        plan: Annotated[str | None, Parameter(max_length=64)] = None,
    ) -> CalendarResponse:
        mechanic = parse_uuid(mechanic_id, "mechanic_id")
        rows = await call_rows(db, "mechanic_calendar", _given(
            mechanic_id=mechanic, **{"from": from_date}, days=days, plan_code=plan))
        return CalendarResponse(mechanic_id=mechanic, days=[
            CalendarDay(date=r["local_date"], available_slots=r["available_slots"], total_slots=r["total_slots"],
                        available=r["available_slots"] > 0) for r in rows])

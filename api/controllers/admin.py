"""Admin onboarding: workshops with hours, mechanics, customers, availability blocks, time off.
Only admins get through: each function checks the caller's role (403 forbidden otherwise).

    POST /api/admin/workshops                                 api.create_workshop
    PUT  /api/admin/workshops/{workshop_id}/hours             api.set_workshop_hours
    POST /api/admin/mechanics                                 api.create_mechanic
    POST /api/admin/customers                                 api.create_customer
    POST /api/admin/mechanics/{mechanic_id}/availability-blocks  api.set_availability_blocks
    POST /api/admin/mechanics/{mechanic_id}/time-off          api.add_time_off
    GET  /api/admin/mechanic-applications?status=pending      api.mechanic_applications
    POST /api/admin/mechanic-applications/{id}/approve        api.approve_mechanic_application
    POST /api/admin/mechanic-applications/{id}/reject         api.reject_mechanic_application
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import Parameter

from api.controllers.common import parse_uuid, sql_args, time_off_args
from api.db import Conn, call, call_rows
from api.responses import (
    CreatedId,
    MechanicApplication,
    MechanicApplications,
    MechanicBlockCount,
    WorkshopHours,
    shape,
)
from api.schemas import (
    ApplicationDecision,
    AvailabilityBlocksRequest,
    CustomerRequest,
    MechanicRequest,
    TimeOffRequest,
    WorkshopHoursRequest,
    WorkshopRequest,
)


class AdminController(Controller):
    path = "/api/admin"
    tags = ["admin"]

    @post("/workshops", summary="Create a workshop with weekly opening hours")
    async def create_workshop(self, db: Conn, data: WorkshopRequest) -> CreatedId:
        return CreatedId(id=await call(db, "create_workshop", sql_args(data, jsonb=("hours",))))

    @put("/workshops/{workshop_id:str}/hours", summary="Replace a workshop's weekly opening hours")
    async def workshop_hours(self, db: Conn, workshop_id: str, data: WorkshopHoursRequest) -> WorkshopHours:
        workshop = parse_uuid(workshop_id, "workshop_id")
        days = await call(db, "set_workshop_hours", sql_args(data, jsonb=("hours",), p_workshop_id=workshop))
        return WorkshopHours(id=workshop, days=days)

    @post("/mechanics", summary="Create a mechanic (workshop or independent)")
    async def create_mechanic(self, db: Conn, data: MechanicRequest) -> CreatedId:
        return CreatedId(id=await call(db, "create_mechanic", sql_args(data)))

    @post("/customers", summary="Create a customer")
    async def create_customer(self, db: Conn, data: CustomerRequest) -> CreatedId:
        return CreatedId(id=await call(db, "create_customer", sql_args(data)))

    @post("/mechanics/{mechanic_id:str}/availability-blocks",
          summary="Replace an independent mechanic's weekly availability blocks")
    async def availability_blocks(self, db: Conn, mechanic_id: str,
                                  data: AvailabilityBlocksRequest) -> MechanicBlockCount:
        mechanic = parse_uuid(mechanic_id, "mechanic_id")
        count = await call(db, "set_availability_blocks",
                                 sql_args(data, jsonb=("blocks",), p_mechanic_id=mechanic))
        return MechanicBlockCount(mechanic_id=mechanic, blocks=count)

    @post("/mechanics/{mechanic_id:str}/time-off", summary="Add time off for a mechanic")
    async def time_off(self, db: Conn, mechanic_id: str, data: TimeOffRequest) -> CreatedId:
        mechanic = parse_uuid(mechanic_id, "mechanic_id")
        return CreatedId(id=await call(db, "add_time_off", await time_off_args(db, data, mechanic)))

    @get("/mechanic-applications", summary="Mechanic applications (status pending by default, or all)")
    async def applications(self, db: Conn, status: Annotated[str, Parameter(max_length=16)] = "pending",
                           limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
                           offset: Annotated[int, Parameter(ge=0, le=2_147_483_647)] = 0) -> MechanicApplications:
        rows = await call_rows(db, "mechanic_applications", {"p_status": None if status == "all" else status,
                                                             "p_limit": limit, "p_offset": offset})
        return shape(MechanicApplications, {"applications": [r["mechanic_applications"] for r in rows]})

    @post("/mechanic-applications/{application_id:str}/approve", status_code=200,
          summary="Approve: creates the mechanic profile, grants the role, emails the applicant")
    async def approve(self, db: Conn, application_id: str) -> MechanicApplication:
        app_id = parse_uuid(application_id, "application_id")
        return shape(MechanicApplication, await call(db, "approve_mechanic_application", {"p_application_id": app_id}))

    @post("/mechanic-applications/{application_id:str}/reject", status_code=200,
          summary="Reject, with a reason the applicant is emailed")
    async def reject(self, db: Conn, application_id: str,
                     data: ApplicationDecision | None = None) -> MechanicApplication:
        app_id = parse_uuid(application_id, "application_id")
        args = sql_args(data, p_application_id=app_id) if data else {"p_application_id": app_id}
        return shape(MechanicApplication, await call(db, "reject_mechanic_application", args))

"""The waitlist (docs/waitlist.md): join when no mechanic is on shift, leave, my status; admins see
the queue and change its settings. Every rule (who may join, the 409s, the queue order) is in the
SQL functions; a customer's turn arrives as an email and a `waitlist.notified` live event.

    GET    /api/waitlist                   api.my_waitlist
    POST   /api/waitlist                   api.join_waitlist
    DELETE /api/waitlist                   api.leave_waitlist
    GET    /api/admin/waitlist             api.waitlist_queue + api.list_waitlist
    PATCH  /api/admin/waitlist/settings    api.set_waitlist_settings
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import Parameter

from api.controllers.common import parse_uuid, sql_args
from api.db import Conn, call, call_rows
from api.responses import AdminWaitlist, MyWaitlist, WaitlistEntry, WaitlistSettingsChanged, shape
from api.schemas import WaitlistJoinRequest, WaitlistSettingsRequest

# Admins name the customer (?customer_id=); customers leave it out.
CustomerParam = Annotated[str | None, Parameter(max_length=64)]
Status = Literal["active", "all", "pending", "notified", "expired", "cancelled", "fulfilled"]


def _customer(customer_id: str | None) -> dict[str, Any]:
    return {"p_customer_id": parse_uuid(customer_id, "customer_id")} if customer_id else {}


def caller_role(request: Request[Any, Any, Any]) -> str:
    """The application role of the token (the database enforces it again: this only picks what to show)."""
    user = request.scope.get("user") or {}
    return str(user.get("role", "anon"))


async def my_waitlist(db: Conn, request: Request[Any, Any, Any]) -> Any:
    """The customer's waitlist status for "my appointments"; None for other roles (they have none)."""
    return await call(db, "my_waitlist") if caller_role(request) == "customer" else None


async def waitlist_queue(db: Conn, request: Request[Any, Any, Any]) -> Any:
    """The queue at a glance for admins (the mechanic directory shows it); None for other roles."""
    return await call(db, "waitlist_queue") if caller_role(request) == "admin" else None


class WaitlistController(Controller):
    path = "/api/waitlist"
    tags = ["waitlist"]

    @get("/", summary="My waitlist status: the active entry, else the latest one, else null")
    async def status(self, db: Conn, customer_id: CustomerParam = None) -> MyWaitlist:
        return shape(MyWaitlist, {"entry": await call(db, "my_waitlist", _customer(customer_id))})

    @post("/", summary="Join the waitlist while no mechanic is on shift: {concern, vehicle_id?, plan?}")
    async def join(self, db: Conn, data: WaitlistJoinRequest) -> WaitlistEntry:
        return shape(WaitlistEntry, await call(db, "join_waitlist", sql_args(data, rename={"plan": "p_plan_code"})))

    @delete("/", status_code=200, summary="Leave the waitlist (a notified customer gives their turn back)")
    async def leave(self, db: Conn, customer_id: CustomerParam = None) -> WaitlistEntry:
        return shape(WaitlistEntry, await call(db, "leave_waitlist", _customer(customer_id)))


class AdminWaitlistController(Controller):
    path = "/api/admin/waitlist"
    tags = ["admin", "waitlist"]

    @get("/", summary="The queue (length, open turns, settings) and its entries in queue order")
    async def queue(self, db: Conn, status: Status = "active",
                    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
                    offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0) -> AdminWaitlist:
        entries = await call_rows(db, "list_waitlist", {"p_status": None if status == "all" else status,
                                                         "p_limit": limit, "p_offset": offset})
        return shape(AdminWaitlist, {"queue": await call(db, "waitlist_queue"), "entries": entries})

    @patch("/settings", summary="Change customers per mechanic, turn length and maximum wait (minutes)")
    async def settings(self, db: Conn, data: WaitlistSettingsRequest) -> WaitlistSettingsChanged:
        args: dict[str, Any] = {}
        if isinstance(data.customers_per_mechanic, int):
            args["p_customers_per_mechanic"] = data.customers_per_mechanic
        if isinstance(data.turn_minutes, int):
            args["p_turn_duration"] = dt.timedelta(minutes=data.turn_minutes)
        if isinstance(data.max_wait_minutes, int):
            args["p_max_wait"] = dt.timedelta(minutes=data.max_wait_minutes)
        return shape(WaitlistSettingsChanged, await call(db, "set_waitlist_settings", args))

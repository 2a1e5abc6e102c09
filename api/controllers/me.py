"""Self-service for a signed-in person: their own customer profile, a mechanic application, their
data (export) and their account (deletion). A token from the identity provider is enough; no
profile is needed yet (the database runs such a caller as `anon` with their user id).

    GET    /api/me                          api.whoami
    PUT    /api/me/customer                 api.save_my_customer_profile  {full_name, timezone, phone, location}
    POST   /api/me/mechanic-application     api.apply_as_mechanic
    GET    /api/me/mechanic-application     api.my_mechanic_application
    GET    /api/me/export                   api.export_my_data
    DELETE /api/me                          api.delete_my_account

Admins decide applications (api/controllers/admin.py):

    GET    /api/admin/mechanic-applications?status=pending   api.mechanic_applications
    POST   /api/admin/mechanic-applications/{id}/approve      api.approve_mechanic_application
    POST   /api/admin/mechanic-applications/{id}/reject       api.reject_mechanic_application  {reason?}
"""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.response import Response

from api.controllers.common import sql_args
from api.db import Conn, call
from api.responses import AccountDeleted, CustomerProfile, DataExport, Me, MechanicApplication, shape
from api.schemas import MechanicApplicationRequest, MyCustomerProfile


class MeController(Controller):
    path = "/api/me"
    tags = ["identity"]

    @get("", summary="Who the database thinks you are: user id and role ('anon' with a user id = no profile yet)")
    async def whoami(self, db: Conn) -> Me:
        return shape(Me, await call(db, "whoami"))

    @put("/customer", summary="Create or update my customer profile (email from my verified sign-in)")
    async def save_customer(self, db: Conn, data: MyCustomerProfile) -> CustomerProfile:
        return shape(CustomerProfile, await call(db, "save_my_customer_profile", sql_args(data)))

    @post("/mechanic-application", summary="Apply to work as a mechanic (again while open: update it)")
    async def apply(self, db: Conn, data: MechanicApplicationRequest) -> MechanicApplication:
        return shape(MechanicApplication, await call(db, "apply_as_mechanic", sql_args(data)))

    @get("/mechanic-application", summary="My latest mechanic application and its status")
    async def application(self, db: Conn) -> MechanicApplication:
        return shape(MechanicApplication, await call(db, "my_mechanic_application"))

    @get("/export", summary="Everything AutoDoctor holds about me, as one JSON document")
    async def export(self, db: Conn) -> Response[DataExport]:
        data = shape(DataExport, await call(db, "export_my_data"))
        return Response(data, headers={"Content-Disposition": 'attachment; filename="autodoctor-export.json"'})

    @delete("", status_code=200, summary="Delete my account (refused while appointments are upcoming)")
    async def delete_account(self, db: Conn) -> AccountDeleted:
        return shape(AccountDeleted, await call(db, "delete_my_account"))

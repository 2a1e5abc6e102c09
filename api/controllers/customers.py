"""The customer's own data: profile (time zone), vehicles and favorite mechanics (grants +
row-level security decide).

    GET    /api/customer/profile                  api.my_customer_profile
    PATCH  /api/customer/profile                  api.set_customer_timezone   {timezone}
    GET    /api/customer/vehicles                 api.my_vehicles
    POST   /api/customer/vehicles                 api.add_vehicle
    PATCH  /api/customer/vehicles/{vehicle_id}    api.update_vehicle
    DELETE /api/customer/vehicles/{vehicle_id}    api.delete_vehicle
    GET    /api/customer/favorites                api.list_mechanics(tab => 'favorites')
    POST   /api/customer/favorites                api.add_favorite
    DELETE /api/customer/favorites/{mechanic_id}  api.remove_favorite
"""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post

from api.controllers.common import parse_uuid, sql_args
from api.db import Conn, call, call_rows
from api.responses import (
    CreatedId,
    CustomerProfile,
    Deleted,
    FavoriteAdded,
    FavoriteRemoved,
    MechanicList,
    VehicleList,
    VehicleRow,
    shape,
)
from api.schemas import CustomerProfileUpdate, FavoriteRequest, VehicleRequest, VehicleUpdate


class CustomerController(Controller):
    path = "/api/customer"
    tags = ["customer"]

    @get("/profile", summary="My profile, with the time zone my emails are written in")
    async def profile(self, db: Conn) -> CustomerProfile:
        return shape(CustomerProfile, await call(db, "my_customer_profile"))

    @patch("/profile", summary="Change my time zone: {timezone} (an IANA name such as America/Toronto)")
    async def update_profile(self, db: Conn, data: CustomerProfileUpdate) -> CustomerProfile:
        return shape(CustomerProfile, await call(db, "set_customer_timezone", sql_args(data)))

    @get("/vehicles", summary="My vehicles, newest first")
    async def vehicles(self, db: Conn) -> VehicleList:
        return shape(VehicleList, {"vehicles": await call_rows(db, "my_vehicles")})

    @post("/vehicles", summary="Add a vehicle: {make, model, year?, vin?, odometer?, license_plate?}")
    async def add_vehicle(self, db: Conn, data: VehicleRequest) -> CreatedId:
        return CreatedId(id=await call(db, "add_vehicle", sql_args(data)))

    @patch("/vehicles/{vehicle_id:str}", summary="Change some fields of my vehicle")
    async def update_vehicle(self, db: Conn, vehicle_id: str, data: VehicleUpdate) -> VehicleRow:
        return shape(VehicleRow, await call(db, "update_vehicle", sql_args(
            data, p_vehicle_id=parse_uuid(vehicle_id, "vehicle_id"))))

    @delete("/vehicles/{vehicle_id:str}", status_code=200, summary="Remove my vehicle")
    async def delete_vehicle(self, db: Conn, vehicle_id: str) -> Deleted:
        vehicle = parse_uuid(vehicle_id, "vehicle_id")
        return Deleted(id=vehicle, deleted=await call(db, "delete_vehicle", {"p_vehicle_id": vehicle}))

    @get("/favorites", summary="My favorite mechanics (online and offline)")
    async def favorites(self, db: Conn) -> MechanicList:
        return shape(MechanicList,
                     {"mechanics": await call_rows(db, "list_mechanics", {"p_tab": "favorites", "p_limit": 500})})

    @post("/favorites", summary="Add a favorite mechanic: {mechanic_id}")
    async def add_favorite(self, db: Conn, data: FavoriteRequest) -> FavoriteAdded:
        return FavoriteAdded(mechanic_id=data.mechanic_id, added=await call(db, "add_favorite", sql_args(data)))

    @delete("/favorites/{mechanic_id:str}", status_code=200, summary="Remove a favorite mechanic")
    async def remove_favorite(self, db: Conn, mechanic_id: str) -> FavoriteRemoved:
        mechanic = parse_uuid(mechanic_id, "mechanic_id")
        removed = await call(db, "remove_favorite", {"p_mechanic_id": mechanic})
        return FavoriteRemoved(mechanic_id=mechanic, removed=removed)

"""What a browser sees: CORS (preflight from an allowed and a refused origin), the public directory
without a token (exactly what the SQL grants allow anon), directory search, the customer's time
zone on their profile, and a mechanic's schedule rows with who is coming."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.config import DEFAULT_CORS_ORIGINS, Settings, origins
from tests.py.booking_fixtures import ADMIN, World, booking_day, call, iso, local
from tests.py.conftest import JWT_SECRET, ClonedDatabase
from tests.py.side_effect_fixtures import bearer

FRONTEND = "http://localhost:3000"


@pytest.fixture
def world(database: ClonedDatabase) -> World:
    return World(database)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings)) as c:
        yield c


# ---------------------------------------------------------------------------- CORS


def test_the_default_origins_are_the_local_frontend() -> None:
    assert origins(DEFAULT_CORS_ORIGINS) == ["http://localhost:3000", "http://127.0.0.1:3000"]
    assert origins(" https://app.example.com/ , http://localhost:5173") == ["https://app.example.com",
                                                                             "http://localhost:5173"]


def test_a_preflight_from_the_frontend_is_allowed(client: TestClient[Any]) -> None:
    r = client.options("/api/slot-holds", headers={
        "Origin": FRONTEND, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert r.status_code in (200, 204), r.text
    assert r.headers["access-control-allow-origin"] == FRONTEND
    allowed_methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PATCH", "DELETE"} <= allowed_methods
    allowed_headers = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    assert "access-control-allow-credentials" not in r.headers, "bearer tokens, never cookies: no credentials mode"
    assert int(r.headers["access-control-max-age"]) > 0


def test_a_preflight_from_another_origin_is_refused(client: TestClient[Any]) -> None:
    r = client.options("/api/slot-holds", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert r.status_code == 400, r.text
    assert "access-control-allow-origin" not in r.headers


def test_actual_responses_carry_the_cors_headers_for_allowed_origins_only(client: TestClient[Any]) -> None:
    r = client.get("/health", headers={"Origin": "http://127.0.0.1:3000"})
    assert r.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
    assert "retry-after" in r.headers["access-control-expose-headers"].lower()
    r = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_origins_are_configurable(settings: Settings) -> None:
    custom = replace(settings, cors_origins=("https://app.autodoctor.example",))
    with TestClient(app=create_app(custom)) as c:
        preflight = {"Access-Control-Request-Method": "GET"}
        r = c.options("/api/mechanics", headers={"Origin": "https://app.autodoctor.example", **preflight})
        assert r.headers.get("access-control-allow-origin") == "https://app.autodoctor.example"
        r = c.options("/api/mechanics", headers={"Origin": FRONTEND, **preflight})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers


# ---------------------------------------------------------------------------- the public directory


def test_the_directory_and_availability_need_no_token(world: World, client: TestClient[Any]) -> None:
    mid = world.mechanic(name="Open Olga", on_shift=True)
    day = booking_day()
    r = client.get("/api/mechanics")
    assert r.status_code == 200, r.text
    assert [(m["display_name"], m["is_favorite"]) for m in r.json()["mechanics"]] == [("Open Olga", False)]
    assert "email" not in r.json()["mechanics"][0], "the directory carries no personal data"
    assert client.get("/api/mechanics/available").json()["mechanics"][0]["mechanic_id"] == mid
    assert client.get("/api/mechanics?tab=favorites").json()["mechanics"] == [], "anon has no favorites"
    r = client.post("/api/mechanics/availability/slots", json={"mechanicId": mid, "date": day.isoformat()})
    assert r.status_code == 200 and len(r.json()["slots"]) == 18, r.text
    r = client.get(f"/api/mechanics/{mid}/calendar")
    assert r.status_code == 200 and len(r.json()["days"]) == 30
    r = client.post("/api/mechanics/availability/check", json={"mechanicId": mid, "startTime": iso(local(day, 10))})
    assert r.status_code == 200 and r.json()["available"] is True, r.text


def test_without_a_token_nothing_else_is_reachable(world: World, client: TestClient[Any]) -> None:
    mid = world.mechanic(name="Open Olga")
    day = booking_day()
    for method, path, body in [
        ("POST", "/api/slot-holds", {"mechanicId": mid, "startTime": iso(local(day, 10))}),
        ("GET", "/api/appointments", None), ("GET", "/api/customer/favorites", None),
        ("GET", "/api/customer/profile", None), ("GET", "/api/mechanic/schedule", None),
    ]:
        r = client.request(method, path, json=body)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized", (path, r.text)


def test_a_bad_token_on_the_directory_is_still_a_401(client: TestClient[Any]) -> None:
    r = client.get("/api/mechanics", headers={"Authorization": "Bearer not.a.token"})
    assert r.status_code == 401, "a broken token is never silently treated as anon"
    expired = jwt.encode({"sub": str(uuid.uuid4()), "role": "customer",
                          "exp": dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)}, JWT_SECRET, algorithm="HS256")
    r = client.get("/api/mechanics", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401


def test_a_signed_in_customer_still_gets_favorites_first(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    top = world.mechanic(name="Aaron Top", on_shift=True, rating=5.0)
    fav = world.mechanic(name="Fay Favorite", rating=3.0)
    h = bearer(cid, "customer")
    assert client.post("/api/customer/favorites", json={"mechanic_id": fav}, headers=h).status_code == 201
    assert [m["mechanic_id"] for m in client.get("/api/mechanics", headers=h).json()["mechanics"]] == [fav, top]
    assert [m["mechanic_id"] for m in client.get("/api/mechanics").json()["mechanics"]] == [top, fav]


def test_search_is_full_text_over_name_bio_specialties_and_brands(world: World, client: TestClient[Any]) -> None:
    oliver = world.admin("create_mechanic", email="oliver@example.test", full_name="Oliver Hughes",
                         timezone="Europe/London", specialties=["BMW", "electrical"], brand_specialist_brands=["BMW"],
                         bio="German cars, electrics and diagnostics.")
    marie = world.admin("create_mechanic", email="marie@example.test", full_name="Marie Tremblay",
                        timezone="America/Toronto", specialties=["Honda", "brakes"], bio="Hybrid specialist.")
    found = lambda q: [m["mechanic_id"] for m in client.get("/api/mechanics", params={"search": q}).json()["mechanics"]]  # noqa: E731
    assert found("German") == [str(oliver)], "the bio says 'German cars'"
    assert found("cars") == found("car") == [str(oliver)], "stemmed"
    assert found("electric") == [str(oliver)]
    assert found("bmw") == [str(oliver)] and found("brakes") == [str(marie)]
    assert found("Hybrid specialist") == [str(marie)] and found("german brakes") == []
    assert found("(&!:*") == [], "tsquery syntax is just text"


# ---------------------------------------------------------------------------- the customer's time zone


def test_the_zone_is_set_at_sign_up_and_changeable(world: World, client: TestClient[Any]) -> None:
    admin = bearer(ADMIN, "admin")
    r = client.post("/api/admin/customers", headers=admin, json={
        "email": "tori@example.test", "full_name": "Tori Toronto", "timezone": "America/Toronto"})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = client.post("/api/admin/customers", headers=admin, json={
        "email": "bad@example.test", "full_name": "Bad Zone", "timezone": "Mars/Olympus_Mons"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_timezone", r.text

    me = bearer(cid, "customer")
    r = client.get("/api/customer/profile", headers=me)
    assert r.status_code == 200 and r.json()["timezone"] == "America/Toronto", r.text
    r = client.patch("/api/customer/profile", headers=me, json={"timezone": "America/Vancouver"})
    assert r.status_code == 200 and r.json()["timezone"] == "America/Vancouver", r.text
    assert client.get("/api/customer/profile", headers=me).json()["timezone"] == "America/Vancouver"
    r = client.patch("/api/customer/profile", headers=me, json={"timezone": "localtime"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_timezone"
    mechanic = world.mechanic()
    r = client.patch("/api/customer/profile", headers=bearer(mechanic, "mechanic"), json={"timezone": "Europe/Paris"})
    assert r.status_code == 403


# ---------------------------------------------------------------------------- the mechanic's schedule


def test_schedule_rows_show_the_customers_first_name_and_vehicle(world: World, client: TestClient[Any]) -> None:
    mid = world.mechanic(name="Sam Schedule")
    cid = str(world.admin("create_customer", email="alice@example.test", full_name="Alice Nguyen"))
    with world.as_caller(cid, "customer") as conn:
        vid = str(call(conn, "add_vehicle", make="Honda", model="Civic", year=2019, vin="2HGFC2F59KH512345"))
    start = local(booking_day(), 10)
    world.session(cid, vehicle_id=vid, scheduled_for=start, mechanic_id=mid)

    r = client.get("/api/mechanic/schedule", headers=bearer(mid, "mechanic"))
    assert r.status_code == 200, r.text
    [row] = r.json()["upcoming"]
    assert row["customer_first_name"] == "Alice"
    assert (row["vehicle"]["make"], row["vehicle"]["model"], row["vehicle"]["year"]) == ("Honda", "Civic", 2019)
    assert "Nguyen" not in str(row) and "alice@example.test" not in str(row), "nothing else about the customer"
    other = world.mechanic(name="Other")
    assert client.get("/api/mechanic/schedule", headers=bearer(other, "mechanic")).json()["upcoming"] == []

"""Strict input and one error vocabulary over HTTP: wrong JSON types are refused (not coerced), a
JSON body needs a JSON content type, every invalid field is a 422 naming the field as the client
sent it, a session the caller cannot see is the same 404 everywhere, 403s say what the caller may
not do, 429 carries Retry-After, starts off the slot grid are 422 off_grid, time off takes days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.config import Settings
from tests.py.booking_fixtures import ADMIN, TORONTO, World, booking_day, iso, local
from tests.py.conftest import ClonedDatabase
from tests.py.side_effect_fixtures import bearer

NOBODY = "00000000-0000-4000-a000-00000000dead"


@pytest.fixture
def world(database: ClonedDatabase) -> World:
    return World(database)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings)) as c:
        yield c


def refused(r: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    if field is not None:
        assert body["detail"]["field"] == field, body
    return body


def booking(vehicle: str | None, at: dt.datetime, mechanic: str, **extra: Any) -> dict[str, Any]:
    return {"type": "video", "plan": "standard", "concern": "Brakes squeal", "concern_category": "diagnostic",
            "vehicle_id": vehicle, "scheduled_for": iso(at), "mechanic_id": mechanic, **extra}


# ---------------------------------------------------------------------------- no coercion


@pytest.mark.parametrize(("path", "role", "body", "field"), [
    ("/api/customer/vehicles", "customer", {"make": "Honda", "model": "Civic", "year": "2018"}, "year"),
    ("/api/customer/vehicles", "customer", {"make": "Honda", "model": "Civic", "odometer": 12.5}, "odometer"),
    ("/api/mechanic/shift", "mechanic", {"onShift": "true"}, "onShift"),
    ("/api/mechanic/shift", "mechanic", {"onShift": 1}, "onShift"),
    ("/api/sessions/create", "customer", {"type": "video", "hold_id": "null"}, "hold_id"),
    ("/api/sessions/create", "customer", {"type": "video", "is_urgent": "false"}, "is_urgent"),
    ("/api/slot-holds", "customer", {"mechanicId": NOBODY, "startTime": 1893456000}, "startTime"),
    ("/api/slot-holds", "customer", {"mechanicId": NOBODY, "startTime": "2030-01-07T10:00:00Z", "plan": 3}, "plan"),
    ("/api/sessions/create", "customer", {"type": "video", "uploaded_files": [f"f{i}.jpg" for i in range(21)]},
     "uploaded_files"),
    ("/api/sessions/create", "customer", {"type": "video", "uploaded_files": ["x" * 501]}, "uploaded_files[0]"),
    ("/api/admin/mechanics/" + NOBODY + "/availability-blocks", "admin",
     {"blocks": [{"day_of_week": 1, "start_time": "09:00", "end_time": 1000}]}, "blocks[0].end_time"),
])
def test_wrong_json_types_are_422_naming_the_field(client: TestClient[Any], path: str, role: str,
                                                   body: dict[str, Any], field: str) -> None:
    user = ADMIN if role == "admin" else NOBODY
    refused(client.post(path, json=body, headers=bearer(user, role)), 422, "validation_error", field)


def test_a_json_body_needs_a_json_content_type(client: TestClient[Any]) -> None:
    headers = bearer(NOBODY, "customer")
    body = '{"make": "Honda", "model": "Civic"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        h = {**headers, **({"Content-Type": content_type} if content_type else {})}
        r = client.post("/api/customer/vehicles", content=body, headers=h)
        refused(r, 415, "unsupported_media_type")
    r = client.post("/api/customer/vehicles", content="{not json",
                    headers={**headers, "Content-Type": "application/json"})
    refused(r, 400, "malformed_json")


# ---------------------------------------------------------------------------- field names as the client sent them


def test_sql_field_names_become_request_field_names(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    h = bearer(cid, "customer")
    at = local(booking_day(), 10)
    # api.create_session says plan_code; the client sent `plan`
    body = refused(client.post("/api/sessions/create", json=booking(vid, at, mid, plan="platinum"), headers=h),
                   422, "unknown_plan", "plan")
    assert "plan_code" not in body["message"]
    # api.hold_slot's rules speak of starts_at / scheduled_for; the calendar step sent `startTime`
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    refused(client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(soon)}, headers=h),
            422, "too_short_notice", "startTime")
    refused(client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(at), "plan": "gold"}, headers=h),
            422, "unknown_plan", "plan")
    refused(client.post("/api/sessions/create", json=booking(vid, at, mid, type="fax"), headers=h),
            422, "invalid_value", "type")
    refused(client.get("/api/mechanics/not-a-uuid/calendar", headers=h), 422, "validation_error", "mechanic_id")
    refused(client.get(f"/api/mechanics/{mid}/calendar?from=2030-02-30", headers=h), 422, "validation_error", "from")


# ---------------------------------------------------------------------------- the slot grid


def test_off_grid_starts_are_422_with_the_nearest_starts(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    h = bearer(cid, "customer")
    day = booking_day()
    for minute, second in ((7, 0), (15, 0), (29, 59)):
        at = dt.datetime.combine(day, dt.time(10, minute, second), tzinfo=TORONTO)
        body = refused(client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(at)}, headers=h),
                       422, "off_grid", "startTime")
        assert [dt.datetime.fromisoformat(t) for t in body["detail"]["nearest"]] == [local(day, 10), local(day, 10, 30)]
        refused(client.post("/api/sessions/create", json=booking(vid, at, mid), headers=h), 422, "off_grid",
                "scheduled_for")
    booked = client.post("/api/sessions/create", json=booking(vid, local(day, 10), mid), headers=h)
    assert booked.status_code == 201, booked.text
    refused(client.post(f"/api/appointments/{booked.json()['id']}/reschedule",
                        json={"scheduled_for": iso(local(day, 11, 15))}, headers=h), 422, "off_grid", "scheduled_for")


# ---------------------------------------------------------------------------- one code per meaning


def test_an_unseen_session_is_session_not_found_everywhere(world: World, client: TestClient[Any]) -> None:
    owner, vid = world.customer()
    stranger, _ = world.customer()
    mid = world.mechanic()
    booked = client.post("/api/sessions/create", json=booking(vid, local(booking_day(), 10), mid),
                         headers=bearer(owner, "customer"))
    assert booked.status_code == 201, booked.text
    h = bearer(stranger, "customer")
    for session in (booked.json()["id"], NOBODY):
        for r in (client.get(f"/api/appointments/{session}", headers=h),
                  client.get(f"/api/appointments/{session}/calendar.ics", headers=h),
                  client.post(f"/api/appointments/{session}/resend-confirmation", headers=h),
                  client.post(f"/api/appointments/{session}/reschedule",
                              json={"scheduled_for": iso(local(booking_day(), 11))}, headers=h),
                  client.get(f"/api/appointments/{session}/payments", headers=h),
                  # the waiver, live session, matching and money endpoints say the same
                  client.get(f"/api/sessions/{session}/waiver", headers=h),
                  client.post(f"/api/sessions/{session}/waiver", json={"signature": "x", "agreed": True}, headers=h),
                  client.post(f"/api/sessions/{session}/join", headers=h),
                  client.post(f"/api/sessions/{session}/rating", json={"rating": 5}, headers=h),
                  client.get(f"/api/sessions/{session}/matching", headers=h),
                  client.post(f"/api/sessions/{session}/cancel-request", headers=h),
                  client.post(f"/api/sessions/{session}/cancel", headers=h),
                  client.get(f"/api/sessions/{session}/cancellation-quote", headers=h)):
            body = refused(r, 404, "session_not_found")
            assert body["detail"] == {"session_id": session}, (r.request.url, body)


def test_forbidden_says_what_the_caller_may_not_do(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    r = client.post("/api/admin/workshops", json={"name": "Shop", "timezone": "UTC"}, headers=bearer(cid, "customer"))
    body = refused(r, 403, "forbidden")
    assert "permission denied" not in r.text and "create_workshop" not in r.text and "function" not in r.text
    assert body["message"] == "A customer may not POST /api/admin/workshops."
    assert body["detail"] == {"role": "customer", "method": "POST", "path": "/api/admin/workshops"}


def test_resend_too_soon_carries_retry_after(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    h = bearer(cid, "customer")
    booked = client.post("/api/sessions/create", json=booking(vid, local(booking_day(), 10), mid), headers=h).json()
    assert client.post(f"/api/appointments/{booked['id']}/resend-confirmation", headers=h).status_code == 202
    r = client.post(f"/api/appointments/{booked['id']}/resend-confirmation", headers=h)
    body = refused(r, 429, "resend_too_soon")
    seconds = body["detail"]["retry_after_seconds"]
    assert 0 < seconds <= 300
    assert r.headers["Retry-After"] == str(max(1, int(seconds)))


# ---------------------------------------------------------------------------- time off by local day


def test_time_off_accepts_whole_local_days(world: World, client: TestClient[Any]) -> None:
    mid = world.mechanic(timezone="America/Vancouver")
    h = bearer(mid, "mechanic")
    day = booking_day(5)
    r = client.post("/api/mechanic/time-off", json={"start_date": day.isoformat(),
                                                    "end_date": (day + dt.timedelta(days=1)).isoformat()}, headers=h)
    assert r.status_code == 201, r.text
    rows = client.get("/api/mechanic/time-off", headers=h).json()["time_off"]
    zone = ZoneInfo("America/Vancouver")
    [entry] = [row for row in rows if row["id"] == r.json()["id"]]
    assert dt.datetime.fromisoformat(entry["start_date"]) == dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    assert dt.datetime.fromisoformat(entry["end_date"]) == dt.datetime.combine(day + dt.timedelta(days=2), dt.time(0),
                                                                                tzinfo=zone)
    # an admin for a mechanic, mixing a day and an instant
    other = world.mechanic(timezone="Asia/Kolkata")
    start = local(day, 12)
    r = client.post(f"/api/admin/mechanics/{other}/time-off",
                    json={"start_date": iso(start), "end_date": day.isoformat()}, headers=bearer(ADMIN, "admin"))
    assert r.status_code == 201, r.text
    refused(client.post("/api/mechanic/time-off", json={"start_date": "2026-13-45", "end_date": "2026-12-10"},
                        headers=h), 422, "validation_error", "start_date")
    refused(client.post("/api/mechanic/time-off", json={"start_date": "2026-12-10T09:00", "end_date": "2026-12-10"},
                        headers=h), 422, "validation_error", "start_date")

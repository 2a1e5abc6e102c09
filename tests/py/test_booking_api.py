"""The booking REST API end to end: every endpoint's happy path and its error cases.

Each test gets its own cloned database; data is arranged through the same `api.*` functions an
admin would call (tests/py/booking_fixtures.py). Requests carry real JWTs, so grants, row-level
security and the functions' own checks decide — the handlers only reject malformed bodies.
The API cannot be handed a fake "now", so times are chosen relative to the real clock (a local day
three days ahead, well inside the minimum notice and the 30-day horizon); where a test needs time
to have passed (an expired hold) it arranges that through SQL with the trusted clock set back (test
databases allow injecting it) — never sleeps.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.config import Settings
from tests.py.booking_fixtures import ADMIN, TORONTO, World, booking_day, call, iso, local
from tests.py.conftest import JWT_SECRET, ClonedDatabase, clone_database, drop_database
from tests.py.side_effect_fixtures import bearer

UTC = dt.UTC
NOBODY = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture
def world(database: ClonedDatabase) -> World:
    return World(database)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def shared_client(template_db: ClonedDatabase) -> Iterator[TestClient[Any]]:
    """One database and app for the tests whose requests never reach a table (cheaper than a clone each)."""
    db = clone_database(template_db, f"t_{os.getpid()}_booking_shared")
    try:
        settings = replace(Settings.from_env(), database_url=db.api_url, jwt_secret=JWT_SECRET)
        with TestClient(app=create_app(settings)) as c:
            yield c
    finally:
        drop_database(db)


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"code", "message", "detail"}, body
    assert body["code"] == code, body
    assert body["message"]
    return body


def booking(vehicle_id: str | None, at: dt.datetime | None, mechanic_id: str | None = None,
            **extra: Any) -> dict[str, Any]:
    """A SessionFactory body as the plan's frontend sends it."""
    body: dict[str, Any] = {"type": "video", "plan": "standard", "concern": "Grinding noise when braking",
                            "concern_category": "diagnostic", "vehicle_id": vehicle_id,
                            "scheduled_for": iso(at) if at else None, **extra}
    if mechanic_id:
        body["mechanic_id"] = mechanic_id
    return body


# ---------------------------------------------------------------------------- malformed requests


VALID = str(uuid.uuid4())
DAY = "2030-01-07"
MALFORMED: list[Any] = [
    # (method, path, body or raw text)
    ("POST", "/api/mechanics/availability/slots", "{not json"),
    ("POST", "/api/mechanics/availability/slots", "[]"),
    ("POST", "/api/mechanics/availability/slots", {"mechanicId": "not-a-uuid", "date": DAY}),
    ("POST", "/api/mechanics/availability/slots", {"mechanicId": VALID, "date": "2030-13-45"}),
    ("POST", "/api/mechanics/availability/slots", {"mechanicId": VALID, "date": "yesterday!"}),
    ("POST", "/api/mechanics/availability/slots", {"mechanicId": VALID}),
    ("POST", "/api/mechanics/availability/slots", {"mechanicId": VALID, "date": DAY, "colour": "red"}),
    ("POST", "/api/mechanics/availability/slots", {"mechanicId": VALID, "date": 20300107}),
    ("POST", "/api/mechanics/availability/check", {"mechanicId": VALID, "startTime": "2030-01-07T10:00:00"}),
    ("POST", "/api/mechanics/availability/check", {"mechanicId": VALID, "startTime": "tomorrow"}),
    ("POST", "/api/mechanics/availability/check", {"mechanic_id": VALID, "startTime": "2030-01-07T10:00:00Z"}),
    ("GET", "/api/mechanics?tab=everything", None),
    ("GET", "/api/mechanics?limit=0", None),
    ("GET", "/api/mechanics?online=maybe", None),
    ("GET", "/api/mechanics/not-a-uuid/calendar", None),
    ("GET", f"/api/mechanics/{VALID}/calendar?from=2030-02-30", None),
    ("GET", f"/api/mechanics/{VALID}/calendar?days=0", None),
    ("POST", "/api/slot-holds", {"mechanicId": VALID}),
    ("POST", "/api/slot-holds", {"mechanicId": VALID, "startTime": "2030-01-07T10:00:00Z", "holdFor": "1 day"}),
    ("DELETE", "/api/slot-holds/12345", None),
    ("POST", "/api/sessions/create", "{\"type\": \"video\","),
    ("POST", "/api/sessions/create", {"type": "video", "is_urgent": "very"}),
    ("POST", "/api/sessions/create", {"type": "video", "vehicle_id": "car-1"}),
    ("POST", "/api/sessions/create", {"type": "video", "scheduled_for": "2030-01-07 10:00"}),
    ("POST", "/api/sessions/create", {"type": "video", "scheduled_for": "2030-01-07T10:00:00"}),
    ("POST", "/api/sessions/create", {"type": "video", "payment_intent_id": "pi_1"}),
    ("POST", "/api/sessions/create", {"type": "video", "uploaded_files": "a.jpg"}),
    ("POST", "/api/sessions/create", {"type": "video", "concern": "x" * 20_000}),
    ("POST", "/api/scheduling/create-appointment", {"type": ["video"]}),
    ("GET", "/api/appointments/not-a-uuid", None),
    ("GET", "/api/appointments?limit=-1", None),
    ("POST", f"/api/appointments/{VALID}/reschedule", {}),
    ("POST", f"/api/appointments/{VALID}/reschedule", {"scheduled_for": "soon"}),
    ("POST", "/api/appointments/42/reschedule", {"scheduled_for": "2030-01-07T10:00:00Z"}),
    ("POST", "/api/customer/vehicles", {"make": "Honda"}),
    ("POST", "/api/customer/vehicles", {"make": "Honda", "model": "Civic", "year": "old"}),
    ("POST", "/api/customer/vehicles", {"make": "Honda", "model": "Civic", "odometer": 10**12}),
    ("DELETE", "/api/customer/vehicles/abc", None),
    ("POST", "/api/customer/favorites", {"mechanic_id": "bob"}),
    ("DELETE", "/api/customer/favorites/bob", None),
    ("POST", "/api/mechanic/shift", {}),
    ("POST", "/api/mechanic/shift", {"onShift": "yes please"}),
    ("POST", "/api/mechanic/shift", {"on_shift": True}),
    ("POST", "/api/mechanic/time-off", {"start_date": "2030-01-07T10:00:00Z"}),
    ("DELETE", "/api/mechanic/time-off/xyz", None),
    ("POST", "/api/admin/workshops", {"name": "Shop"}),
    ("POST", "/api/admin/workshops", {"name": "Shop", "timezone": "UTC", "hours": {"mon": "9-5"}}),
    ("POST", "/api/admin/mechanics", {"email": "m@example.test"}),
    ("POST", "/api/admin/mechanics/nope/time-off", {"start_date": "2030-01-07T10:00:00Z",
                                                     "end_date": "2030-01-08T10:00:00Z"}),
    ("POST", f"/api/admin/mechanics/{VALID}/availability-blocks", {"blocks": [{"day_of_week": 1}]}),
    ("POST", "/api/customer/vehicles", {"make": "Hon\u0000da", "model": "Civic"}),
    ("POST", "/api/sessions/create", {"type": "video", "metadata": {"note": "a\u0000b"}}),
    ("GET", "/api/mechanics?city=To%00ronto", None),
    ("GET", f"/api/mechanics/{VALID}/calendar?from=0001-01-01", None),
    ("POST", "/api/mechanics/availability/slots", {"mechanicId": VALID, "date": "9999-12-31"}),
    ("POST", "/api/mechanics/availability/check", {"mechanicId": VALID, "startTime": "0001-01-01T00:00:00+14:00"}),
]


@pytest.mark.parametrize(("method", "path", "body"), MALFORMED,
                         ids=[f"{m} {p.split('?')[0][5:]} #{i}" for i, (m, p, _) in enumerate(MALFORMED)])
def test_malformed_requests_are_refused_before_the_database(shared_client: TestClient[Any], method: str, path: str,
                                                            body: Any) -> None:
    """A body that is not JSON is 400 malformed_json; a well-formed request with an invalid field is
    422 validation_error naming that field as the client sent it (SPEC §9)."""
    client = shared_client
    headers = bearer(str(uuid.uuid4()), "customer")
    if isinstance(body, str):
        r = client.request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})
        try:
            json.loads(body)
        except ValueError:
            assert_error(r, 400, "malformed_json")
            return
    else:
        r = client.request(method, path, json=body, headers=headers)
    detail = assert_error(r, 422, "validation_error")["detail"]
    assert isinstance(detail, dict) and detail["source"] in ("body", "query", "path"), detail
    # the field as the client named it; null only when the body as a whole has the wrong type
    assert detail["field"] or (isinstance(body, str) and not body.startswith("{")), detail


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/sessions/create"), ("POST", "/api/scheduling/create-appointment"),
    ("GET", "/api/appointments"), ("POST", "/api/slot-holds"), ("GET", "/api/customer/vehicles"),
    ("GET", "/api/customer/profile"), ("GET", "/api/mechanic/schedule"),
    ("POST", "/api/mechanic/shift"), ("POST", "/api/admin/workshops"),
])
def test_every_booking_endpoint_but_the_public_directory_needs_a_token(shared_client: TestClient[Any], method: str,
                                                                       path: str) -> None:
    assert_error(shared_client.request(method, path, json={}), 401, "unauthorized")


# ---------------------------------------------------------------------------- mechanics directory


def test_mechanic_list_tabs_online_offline_favorites_first_and_location(world: World,
                                                                       client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    honda = world.mechanic(name="Hana Honda", brands=["Honda"], on_shift=True, rating=4.0)
    west = world.mechanic(name="Wes West", city="Vancouver", timezone="America/Vancouver", rating=5.0)
    fav = world.mechanic(name="Fay Favorite", rating=3.0)
    h = bearer(cid, "customer")
    assert client.post("/api/customer/favorites", json={"mechanic_id": fav}, headers=h).status_code == 201

    r = client.get("/api/mechanics", headers=h)
    assert r.status_code == 200, r.text
    rows = r.json()["mechanics"]
    assert [m["mechanic_id"] for m in rows] == [fav, honda, west]   # favorites first, then online
    assert rows[0]["is_favorite"] is True and rows[1]["currently_on_shift"] is True
    assert isinstance(rows[0]["rating"], float)

    ids = lambda q: [m["mechanic_id"] for m in client.get(f"/api/mechanics?{q}", headers=h).json()["mechanics"]]  # noqa: E731
    assert ids("tab=favorites") == [fav]
    assert ids("tab=brand_specialist") == [honda]
    assert ids("tab=brand_specialist&make=honda") == [honda]
    assert ids("tab=brand_specialist&make=Toyota") == []
    assert ids("online=false") == [fav, west]
    assert ids("online=true") == [honda]
    assert ids("city=vancouver") == [west]
    assert ids("search=hana") == [honda]

    r = client.get("/api/mechanics/available", headers=h)
    assert r.status_code == 200
    assert [m["mechanic_id"] for m in r.json()["mechanics"]] == [honda]


# ---------------------------------------------------------------------------- slots, check, calendar


def test_slots_of_a_day_follow_the_plan_shape(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    day = booking_day()
    h = bearer(cid, "customer")
    r = client.post("/api/mechanics/availability/slots", json={"mechanicId": mid, "date": day.isoformat()}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mechanicId"] == mid and body["date"] == day.isoformat()
    slots = body["slots"]
    assert len(slots) == 18                          # 09:00-18:00 local, every 30 minutes
    first = slots[0]
    assert {"startTime", "endTime", "available"} <= set(first)
    assert dt.datetime.fromisoformat(first["startTime"]) == local(day, 9)
    assert dt.datetime.fromisoformat(first["endTime"]) == local(day, 9, 30)
    assert all(s["available"] for s in slots)

    # a booking at 10:00 takes that slot; the premium plan (60 min) also loses 09:30
    assert client.post("/api/sessions/create", json=booking(vid, local(day, 10), mid), headers=h).status_code == 201
    slots = client.post("/api/mechanics/availability/slots", json={"mechanicId": mid, "date": day.isoformat()},
                        headers=h).json()["slots"]
    taken = [s for s in slots if not s["available"]]
    assert [dt.datetime.fromisoformat(s["startTime"]) for s in taken] == [local(day, 10)]
    assert taken[0]["reasons"] == ["overlapping_booking"]
    premium = client.post("/api/mechanics/availability/slots",
                          json={"mechanicId": mid, "date": day.isoformat(), "plan": "premium"}, headers=h).json()
    assert [(dt.datetime.fromisoformat(s["startTime"]), s["reasons"]) for s in premium["slots"]
            if not s["available"]] == [(local(day, 9, 30), ["overlapping_booking"]),
                                       (local(day, 10), ["overlapping_booking"]),
                                       (local(day, 17, 30), ["closed"])]   # 17:30 + 60 min ends after 18:00
    assert dt.datetime.fromisoformat(premium["slots"][-1]["endTime"]) == local(day, 18, 30)

    # the plan's frontend sends date.toISOString(): the date part is used
    r = client.post("/api/mechanics/availability/slots",
                    json={"mechanicId": mid, "date": f"{day.isoformat()}T04:00:00.000Z"}, headers=h)
    assert r.status_code == 200 and r.json()["date"] == day.isoformat()


def test_slots_errors(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    mid = world.mechanic()
    h = bearer(cid, "customer")
    day = booking_day().isoformat()
    assert_error(client.post("/api/mechanics/availability/slots", json={"mechanicId": NOBODY, "date": day},
                             headers=h), 404, "mechanic_not_found")
    assert_error(client.post("/api/mechanics/availability/slots",
                             json={"mechanicId": mid, "date": day, "plan": "gold"}, headers=h), 422, "unknown_plan")


def test_check_a_slot(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    day = booking_day()
    h = bearer(cid, "customer")
    url = "/api/mechanics/availability/check"
    r = client.post(url, json={"mechanicId": mid, "startTime": iso(local(day, 10))}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["mechanicId"], body["available"], body["reasons"]) == (mid, True, [])
    assert dt.datetime.fromisoformat(body["startTime"]) == local(day, 10)
    assert dt.datetime.fromisoformat(body["endTime"]) == local(day, 10, 30)   # + the standard plan's 30 min
    client.post("/api/sessions/create", json=booking(vid, local(day, 10), mid), headers=h)
    r = client.post(url, json={"mechanicId": mid, "startTime": iso(local(day, 9, 45)), "plan": "standard"}, headers=h)
    assert r.json()["available"] is False and r.json()["reasons"] == ["overlapping_booking"]
    r = client.post(url, json={"mechanicId": mid, "startTime": iso(local(day, 20))}, headers=h)
    assert r.json()["reasons"] == ["closed"]
    past = dt.datetime.now(UTC) - dt.timedelta(days=1)
    r = client.post(url, json={"mechanicId": mid, "startTime": iso(past)}, headers=h)
    assert "in_the_past" in r.json()["reasons"]
    assert_error(client.post(url, json={"mechanicId": mid, "startTime": iso(local(day, 10)),
                                        "endTime": iso(local(day, 9))}, headers=h), 422, "invalid_range")
    assert_error(client.post(url, json={"mechanicId": NOBODY, "startTime": iso(local(day, 10))}, headers=h),
                 404, "mechanic_not_found")


def test_calendar_summary(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    mid = world.mechanic()
    h = bearer(cid, "customer")
    r = client.get(f"/api/mechanics/{mid}/calendar", headers=h)
    assert r.status_code == 200, r.text
    days = r.json()["days"]
    assert len(days) == 30
    assert days[0]["date"] == dt.datetime.now(TORONTO).date().isoformat()
    assert all(d["totalSlots"] == 18 for d in days)
    assert all(d["availableSlots"] == 18 and d["available"] for d in days[3:29])

    start = booking_day(5)
    r = client.get(f"/api/mechanics/{mid}/calendar?from={start.isoformat()}&days=2&plan=premium", headers=h)
    assert [d["date"] for d in r.json()["days"]] == [start.isoformat(), (start + dt.timedelta(days=1)).isoformat()]
    assert all(d["availableSlots"] == 17 for d in r.json()["days"])   # 17:30 + 60 min does not fit
    assert_error(client.get(f"/api/mechanics/{NOBODY}/calendar", headers=h), 404, "mechanic_not_found")
    assert_error(client.get(f"/api/mechanics/{mid}/calendar?plan=gold", headers=h), 422, "unknown_plan")


# ---------------------------------------------------------------------------- session factory


def test_create_immediate_and_scheduled_sessions(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    online = world.mechanic(on_shift=True)
    h = bearer(cid, "customer")
    day = booking_day()

    r = client.post("/api/sessions/create", json=booking(vid, local(day, 11), mid), headers=h)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["status"] == "scheduled" and s["mechanic_id"] == mid and s["customer_id"] == cid
    assert dt.datetime.fromisoformat(s["scheduled_for"]) == local(day, 11)
    assert dt.datetime.fromisoformat(s["ends_at"]) == local(day, 11, 30)

    # immediate: scheduled_for null (the plan's `scheduledFor: null`), with an on-shift mechanic
    r = client.post("/api/sessions/create", json=booking(vid, None, online, is_urgent=True,
                                                         uploaded_files=["photos/dash.jpg"]), headers=h)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["status"] == "pending" and s["scheduled_for"] is None and s["is_urgent"] is True
    assert s["file_refs"] == ["photos/dash.jpg"]


def test_scheduled_without_mechanic_defers_matching_and_advice_needs_no_vehicle(world: World,
                                                                               client: TestClient[Any]) -> None:
    cid, _ = world.customer(vehicle=False)
    day = booking_day()
    r = client.post("/api/scheduling/create-appointment",
                    json=booking(None, local(day, 15), is_advice_only=True, plan="extended"),
                    headers=bearer(cid, "customer"))
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["mechanic_id"] is None and s["is_advice_only"] is True and s["plan_code"] == "extended"
    assert dt.datetime.fromisoformat(s["matching_will_run_at"]) == local(day, 14, 30)
    assert dt.datetime.fromisoformat(s["ends_at"]) == local(day, 15, 45)


def test_session_factory_validation_errors(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    other, other_vehicle = world.customer()
    mid = world.mechanic()
    offline = world.mechanic()
    h = bearer(cid, "customer")
    day = booking_day()
    at = local(day, 10)
    now = dt.datetime.now(UTC)
    post = lambda body: client.post("/api/sessions/create", json=body, headers=h)  # noqa: E731
    assert_error(post(booking(vid, at, mid, concern="  ")), 422, "missing_field")
    assert_error(post({k: v for k, v in booking(vid, at, mid).items() if k != "type"}), 422, "missing_field")
    assert_error(post(booking(vid, at, mid, type="fax")), 422, "invalid_value")
    assert_error(post(booking(vid, at, mid, plan="gold")), 422, "unknown_plan")
    assert_error(post(booking(None, at, mid)), 422, "missing_field")
    assert_error(post(booking(other_vehicle, at, mid)), 422, "vehicle_not_yours")
    body = assert_error(post(booking(vid, now - dt.timedelta(hours=3), mid)), 422, "past_time")
    assert body["message"] == "Cannot schedule in the past"
    assert_error(post(booking(vid, now + dt.timedelta(hours=1), mid)), 422, "too_short_notice")
    assert_error(post(booking(vid, now + dt.timedelta(days=40), mid)), 422, "beyond_horizon")
    assert_error(post(booking(vid, at, NOBODY)), 404, "mechanic_not_found")
    assert_error(post(booking(vid, local(day, 22), mid)), 409, "slot_unavailable")       # closed
    assert_error(post(booking(vid, at, mid, service_mode="in_person")), 422, "in_person_unavailable")
    assert_error(post(booking(vid, None, offline)), 409, "mechanic_offline")
    assert_error(post(booking(vid, at, mid, is_urgent=True)), 422, "invalid_value")
    # nothing was booked by any of these
    assert client.get("/api/appointments", headers=h).json() == {"upcoming": [], "past": [], "waitlist": None}
    assert client.get("/api/appointments", headers=bearer(other, "customer")).json() == \
        {"upcoming": [], "past": [], "waitlist": None}


def test_only_customers_and_admins_book(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    at = local(booking_day(), 10)
    assert_error(client.post("/api/sessions/create", json=booking(vid, at, mid), headers=bearer(mid, "mechanic")),
                 403, "forbidden")
    # an admin books for a customer by naming them
    r = client.post("/api/sessions/create", json=booking(vid, at, mid, customer_id=cid), headers=bearer(ADMIN, "admin"))
    assert r.status_code == 201, r.text
    assert r.json()["customer_id"] == cid
    assert_error(client.post("/api/sessions/create", json=booking(vid, at, mid), headers=bearer(ADMIN, "admin")),
                 422, "missing_field")


def test_a_taken_slot_is_409_slot_unavailable(world: World, client: TestClient[Any]) -> None:
    first, v1 = world.customer()
    second, v2 = world.customer()
    mid = world.mechanic()
    at = local(booking_day(), 10)
    r = client.post("/api/sessions/create", json=booking(v1, at, mid, plan="premium"),
                    headers=bearer(first, "customer"))
    assert r.status_code == 201
    body = assert_error(client.post("/api/sessions/create", json=booking(v2, at + dt.timedelta(minutes=30), mid),
                                    headers=bearer(second, "customer")), 409, "slot_unavailable")
    assert body["detail"]["reasons"] == ["overlapping_booking"]


def test_duplicate_booking_returns_the_existing_appointment(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    other = world.mechanic()
    h = bearer(cid, "customer")
    day = booking_day()
    existing = client.post("/api/sessions/create", json=booking(vid, local(day, 10), mid), headers=h).json()
    body = assert_error(client.post("/api/sessions/create", json=booking(vid, local(day + dt.timedelta(days=2), 14),
                                                                           other), headers=h), 409, "duplicate_booking")
    assert body["detail"]["id"] == existing["id"]
    assert body["detail"]["mechanic_id"] == mid
    assert dt.datetime.fromisoformat(body["detail"]["scheduled_for"]) == local(day, 10)
    assert len(client.get("/api/appointments", headers=h).json()["upcoming"]) == 1


# ---------------------------------------------------------------------------- slot holds


def test_a_hold_blocks_others_and_converts_into_the_booking(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    rival, rival_vehicle = world.customer()
    mid = world.mechanic()
    at = local(booking_day(), 13)
    r = client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(at), "plan": "extended"},
                    headers=bearer(cid, "customer"))
    assert r.status_code == 201, r.text
    hold = r.json()
    assert hold["mechanic_id"] == mid and hold["plan_code"] == "extended"
    expires = dt.datetime.fromisoformat(hold["expires_at"])
    assert dt.timedelta(minutes=9) < expires - dt.datetime.now(UTC) <= dt.timedelta(minutes=10)

    # the held slot is taken for everybody else: hold, book, and the slot grid all say so
    assert_error(client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(at)},
                             headers=bearer(rival, "customer")), 409, "slot_unavailable")
    assert_error(client.post("/api/sessions/create", json=booking(rival_vehicle, at + dt.timedelta(minutes=30), mid),
                             headers=bearer(rival, "customer")), 409, "slot_unavailable")
    check = client.post("/api/mechanics/availability/check", json={"mechanicId": mid, "startTime": iso(at)},
                        headers=bearer(rival, "customer")).json()
    assert check["available"] is False

    # paying done: the hold becomes the booking (same row, same slot)
    r = client.post("/api/sessions/create", json={"type": "video", "concern": "Squeaky belt", "vehicle_id": vid,
                                                  "hold_id": hold["hold_id"]}, headers=bearer(cid, "customer"))
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["id"] == hold["hold_id"] and s["status"] == "scheduled" and s["plan_code"] == "extended"
    assert dt.datetime.fromisoformat(s["scheduled_for"]) == at


def test_release_a_hold_and_hold_errors(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    rival, _ = world.customer()
    mid = world.mechanic()
    at = local(booking_day(), 16)
    hold = client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(at)},
                       headers=bearer(cid, "customer")).json()
    assert_error(client.delete(f"/api/slot-holds/{hold['hold_id']}", headers=bearer(rival, "customer")),
                 404, "hold_not_found")
    r = client.delete(f"/api/slot-holds/{hold['hold_id']}", headers=bearer(cid, "customer"))
    assert r.status_code == 200, r.text
    assert r.json() == {"hold_id": hold["hold_id"], "released": True}
    again = client.delete(f"/api/slot-holds/{hold['hold_id']}", headers=bearer(cid, "customer"))
    assert again.json()["released"] is False
    # released: the rival can take it now
    assert client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(at)},
                       headers=bearer(rival, "customer")).status_code == 201
    assert_error(client.delete(f"/api/slot-holds/{NOBODY}", headers=bearer(cid, "customer")), 404, "hold_not_found")
    assert_error(client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(at)},
                             headers=bearer(mid, "mechanic")), 403, "forbidden")
    assert_error(client.post("/api/slot-holds", json={"mechanicId": NOBODY, "startTime": iso(at)},
                             headers=bearer(cid, "customer")), 404, "mechanic_not_found")
    assert_error(client.post("/api/slot-holds", json={"mechanicId": mid, "startTime": iso(at), "plan": "gold"},
                             headers=bearer(cid, "customer")), 422, "unknown_plan")


def test_an_expired_hold_cannot_be_booked(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    rival, rival_vehicle = world.customer()
    mid = world.mechanic()
    at = local(booking_day(), 11)
    # a hold taken 30 minutes ago (time injected through SQL) lapsed 20 minutes ago
    with world.as_caller(cid, "customer", now=dt.datetime.now(UTC) - dt.timedelta(minutes=30)) as conn:
        hold = call(conn, "hold_slot", mechanic_id=mid, starts_at=at)
    body = assert_error(client.post("/api/sessions/create",
                                    json={"type": "video", "concern": "Late payer", "vehicle_id": vid,
                                          "hold_id": hold["hold_id"]}, headers=bearer(cid, "customer")),
                        409, "hold_expired")
    assert body["detail"]["hold_id"] == hold["hold_id"]
    # and the lapsed hold no longer blocks anyone
    r = client.post("/api/sessions/create", json=booking(rival_vehicle, at, mid), headers=bearer(rival, "customer"))
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------------------- my appointments


def test_my_appointments_upcoming_past_and_one(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    stranger, _ = world.customer()
    mid = world.mechanic()
    other_mechanic = world.mechanic()
    h = bearer(cid, "customer")
    day = booking_day()
    first = client.post("/api/sessions/create", json=booking(vid, local(day, 10), mid), headers=h).json()
    world.admin("set_session_status", session_id=first["id"], status="cancelled", cancel_reason="customer")
    second = client.post("/api/sessions/create", json=booking(vid, local(day, 12), mid), headers=h).json()

    mine = client.get("/api/appointments", headers=h).json()
    assert [a["id"] for a in mine["upcoming"]] == [second["id"]]
    assert [a["id"] for a in mine["past"]] == [first["id"]]
    up = mine["upcoming"][0]
    assert up["mechanic_name"] and up["plan_name"] == "Standard" and up["price_cents"] == 2900
    assert up["vehicle"]["make"] == "Honda"

    r = client.get(f"/api/appointments/{second['id']}", headers=h)
    assert r.status_code == 200 and r.json()["id"] == second["id"]
    # row-level security: the booked mechanic sees it, a stranger and another mechanic do not
    assert client.get(f"/api/appointments/{second['id']}", headers=bearer(mid, "mechanic")).status_code == 200
    assert_error(client.get(f"/api/appointments/{second['id']}", headers=bearer(stranger, "customer")),
                 404, "session_not_found")
    assert_error(client.get(f"/api/appointments/{second['id']}", headers=bearer(other_mechanic, "mechanic")),
                 404, "session_not_found")
    assert_error(client.get(f"/api/appointments/{NOBODY}", headers=h), 404, "session_not_found")
    assert client.get("/api/appointments", headers=bearer(stranger, "customer")).json() == \
        {"upcoming": [], "past": [], "waitlist": None}
    schedule = client.get("/api/mechanic/schedule", headers=bearer(mid, "mechanic")).json()
    assert [a["id"] for a in schedule["upcoming"]] == [second["id"]]


# ---------------------------------------------------------------------------- reschedule


def test_reschedule_moves_the_booking(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    other = world.mechanic()
    h = bearer(cid, "customer")
    day = booking_day()
    s = client.post("/api/sessions/create", json=booking(vid, local(day, 10), mid, plan="premium"), headers=h).json()
    # overlapping its own old slot (10:00-11:00) is fine: the move is one atomic update
    r = client.post(f"/api/appointments/{s['id']}/reschedule", json={"scheduled_for": iso(local(day, 10, 30))},
                    headers=h)
    assert r.status_code == 200, r.text
    assert dt.datetime.fromisoformat(r.json()["scheduled_for"]) == local(day, 10, 30)
    r = client.post(f"/api/appointments/{s['id']}/reschedule",
                    json={"scheduled_for": iso(local(day, 15)), "mechanic_id": other}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["mechanic_id"] == other
    slots = client.post("/api/mechanics/availability/slots", json={"mechanicId": mid, "date": day.isoformat()},
                        headers=h).json()["slots"]
    assert all(sl["available"] for sl in slots)          # the old mechanic's time is free again


def test_a_failed_reschedule_leaves_the_original_intact(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    rival, rival_vehicle = world.customer()
    mid = world.mechanic()
    day = booking_day()
    h = bearer(cid, "customer")
    mine = client.post("/api/sessions/create", json=booking(vid, local(day, 10), mid), headers=h).json()
    theirs = client.post("/api/sessions/create", json=booking(rival_vehicle, local(day, 14), mid, plan="premium"),
                         headers=bearer(rival, "customer")).json()
    before = client.get(f"/api/appointments/{mine['id']}", headers=h).json()

    assert_error(client.post(f"/api/appointments/{mine['id']}/reschedule",
                             json={"scheduled_for": iso(local(day, 14, 30))}, headers=h), 409, "slot_unavailable")
    assert_error(client.post(f"/api/appointments/{mine['id']}/reschedule",
                             json={"scheduled_for": iso(dt.datetime.now(UTC) - dt.timedelta(hours=5))}, headers=h),
                 422, "past_time")
    assert_error(client.post(f"/api/appointments/{mine['id']}/reschedule",
                             json={"scheduled_for": iso(local(day, 23))}, headers=h), 409, "slot_unavailable")
    assert_error(client.post(f"/api/appointments/{mine['id']}/reschedule",
                             json={"scheduled_for": iso(local(day, 16)), "mechanic_id": NOBODY}, headers=h),
                 404, "mechanic_not_found")

    after = client.get(f"/api/appointments/{mine['id']}", headers=h).json()
    assert after == before                                  # nothing changed, the old slot is still held
    check = client.post("/api/mechanics/availability/check", json={"mechanicId": mid, "startTime": iso(local(day, 10))},
                        headers=h).json()
    assert check["available"] is False and check["reasons"] == ["overlapping_booking"]
    r = client.get(f"/api/appointments/{theirs['id']}", headers=bearer(rival, "customer"))
    assert r.json()["status"] == "scheduled"
    assert dt.datetime.fromisoformat(r.json()["scheduled_for"]) == local(day, 14)
    # nobody else can move my appointment
    assert_error(client.post(f"/api/appointments/{mine['id']}/reschedule",
                             json={"scheduled_for": iso(local(day, 16))}, headers=bearer(rival, "customer")),
                 404, "session_not_found")
    assert_error(client.post(f"/api/appointments/{mine['id']}/reschedule",
                             json={"scheduled_for": iso(local(day, 16))}, headers=bearer(mid, "mechanic")),
                 403, "forbidden")


def test_only_scheduled_appointments_can_be_rescheduled(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    h = bearer(cid, "customer")
    day = booking_day()
    s = client.post("/api/sessions/create", json=booking(vid, local(day, 10), mid), headers=h).json()
    world.admin("set_session_status", session_id=s["id"], status="cancelled", cancel_reason="customer")
    assert_error(client.post(f"/api/appointments/{s['id']}/reschedule", json={"scheduled_for": iso(local(day, 12))},
                             headers=h), 409, "not_reschedulable")


# ---------------------------------------------------------------------------- vehicles and favorites


def test_customer_vehicles(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer(vehicle=False)
    stranger, _ = world.customer(vehicle=False)
    mid = world.mechanic()
    h = bearer(cid, "customer")
    r = client.post("/api/customer/vehicles", json={"make": "Toyota", "model": "Corolla", "year": 2020,
                                                    "vin": "2T1BURHE0JC123456", "odometer": 42000,
                                                    "license_plate": "ABCD 123"}, headers=h)
    assert r.status_code == 201, r.text
    vid = r.json()["id"]
    listed = client.get("/api/customer/vehicles", headers=h).json()["vehicles"]
    assert [(v["id"], v["make"], v["odometer"]) for v in listed] == [(vid, "Toyota", 42000)]
    assert client.get("/api/customer/vehicles", headers=bearer(stranger, "customer")).json() == {"vehicles": []}

    r = client.patch(f"/api/customer/vehicles/{vid}", json={"odometer": 43000}, headers=h)
    assert r.status_code == 200 and r.json()["odometer"] == 43000
    assert_error(client.patch(f"/api/customer/vehicles/{vid}", json={"odometer": 1},
                              headers=bearer(stranger, "customer")), 404, "vehicle_not_found")
    assert_error(client.post("/api/customer/vehicles", json={"make": "Ford", "model": "T", "vin": "IOQ"}, headers=h),
                 422, "validation_error")
    assert_error(client.post("/api/customer/vehicles", json={"make": "Ford", "model": "T", "year": 1492}, headers=h),
                 422, "validation_error")
    assert_error(client.post("/api/customer/vehicles", json={"make": " ", "model": "T"}, headers=h),
                 422, "missing_field")
    assert_error(client.post("/api/customer/vehicles", json={"make": "Ford", "model": "T"},
                             headers=bearer(mid, "mechanic")), 403, "forbidden")
    assert_error(client.delete(f"/api/customer/vehicles/{vid}", headers=bearer(stranger, "customer")),
                 404, "vehicle_not_found")

    # a vehicle a session refers to cannot be deleted
    used = client.post("/api/customer/vehicles", json={"make": "Honda", "model": "Fit"}, headers=h).json()["id"]
    client.post("/api/sessions/create", json=booking(used, local(booking_day(), 10), mid), headers=h)
    assert_error(client.delete(f"/api/customer/vehicles/{used}", headers=h), 409, "vehicle_in_use")
    r = client.delete(f"/api/customer/vehicles/{vid}", headers=h)
    assert r.status_code == 200 and r.json() == {"id": vid, "deleted": True}
    assert_error(client.delete(f"/api/customer/vehicles/{vid}", headers=h), 404, "vehicle_not_found")


def test_customer_favorites(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    mid = world.mechanic(name="Fran Favorite")
    h = bearer(cid, "customer")
    r = client.post("/api/customer/favorites", json={"mechanic_id": mid}, headers=h)
    assert r.status_code == 201 and r.json() == {"mechanic_id": mid, "added": True}
    assert client.post("/api/customer/favorites", json={"mechanic_id": mid}, headers=h).json()["added"] is False
    favs = client.get("/api/customer/favorites", headers=h).json()["mechanics"]
    assert [(m["mechanic_id"], m["is_favorite"]) for m in favs] == [(mid, True)]
    assert_error(client.post("/api/customer/favorites", json={"mechanic_id": NOBODY}, headers=h),
                 404, "mechanic_not_found")
    assert_error(client.post("/api/customer/favorites", json={"mechanic_id": mid}, headers=bearer(mid, "mechanic")),
                 403, "forbidden")
    r = client.delete(f"/api/customer/favorites/{mid}", headers=h)
    assert r.status_code == 200 and r.json() == {"mechanic_id": mid, "removed": True}
    assert client.delete(f"/api/customer/favorites/{mid}", headers=h).json()["removed"] is False
    assert client.get("/api/customer/favorites", headers=h).json() == {"mechanics": []}


# ---------------------------------------------------------------------------- mechanic self-service


def test_mechanic_goes_on_and_off_shift(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    mid = world.mechanic()
    h = bearer(mid, "mechanic")
    r = client.post("/api/mechanic/shift", json={"onShift": True}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["currently_on_shift"] is True and r.json()["changed"] is True
    assert client.post("/api/mechanic/shift", json={"onShift": True}, headers=h).json()["changed"] is False
    online = client.get("/api/mechanics/available", headers=bearer(cid, "customer")).json()["mechanics"]
    assert [m["mechanic_id"] for m in online] == [mid]
    assert client.post("/api/mechanic/shift", json={"onShift": False}, headers=h).json()["currently_on_shift"] is False
    assert client.get("/api/mechanics/available", headers=bearer(cid, "customer")).json() == {"mechanics": []}
    assert_error(client.post("/api/mechanic/shift", json={"onShift": True}, headers=bearer(cid, "customer")),
                 403, "forbidden")
    # another mechanic cannot flip my shift; an admin can
    other = world.mechanic()
    assert_error(client.post("/api/mechanic/shift", json={"onShift": True, "mechanicId": mid},
                             headers=bearer(other, "mechanic")), 403, "forbidden")
    r = client.post("/api/mechanic/shift", json={"onShift": True, "mechanicId": mid}, headers=bearer(ADMIN, "admin"))
    assert r.status_code == 200 and r.json()["mechanic_id"] == mid


def test_mechanic_time_off(world: World, client: TestClient[Any]) -> None:
    cid, vid = world.customer()
    mid = world.mechanic()
    other = world.mechanic()
    h = bearer(mid, "mechanic")
    day = booking_day()
    r = client.post("/api/mechanic/time-off", json={"start_date": iso(local(day, 12)), "end_date": iso(local(day, 14)),
                                                    "reason": "Dentist"}, headers=h)
    assert r.status_code == 201, r.text
    toid = r.json()["id"]
    entries = client.get("/api/mechanic/time-off", headers=h).json()["time_off"]
    assert [(e["id"], e["reason"]) for e in entries] == [(toid, "Dentist")]
    assert client.get("/api/mechanic/time-off", headers=bearer(other, "mechanic")).json() == {"time_off": []}
    # the time off closes those slots for customers
    check = client.post("/api/mechanics/availability/check",
                        json={"mechanicId": mid, "startTime": iso(local(day, 12, 30))}, headers=bearer(cid, "customer"))
    assert check.json()["reasons"] == ["time_off"]
    assert_error(client.post("/api/sessions/create", json=booking(vid, local(day, 13), mid),
                             headers=bearer(cid, "customer")), 409, "slot_unavailable")

    # time off over a booking is refused, naming the booking
    s = client.post("/api/sessions/create", json=booking(vid, local(day, 16), mid),
                    headers=bearer(cid, "customer")).json()
    body = assert_error(client.post("/api/mechanic/time-off", json={"start_date": iso(local(day, 15)),
                                                                    "end_date": iso(local(day, 17))}, headers=h),
                        409, "time_off_conflicts")
    assert [x["session_id"] for x in body["detail"]["sessions"]] == [s["id"]]
    assert_error(client.post("/api/mechanic/time-off", json={"start_date": iso(local(day, 15)),
                                                             "end_date": iso(local(day, 14))}, headers=h),
                 422, "invalid_range")
    assert_error(client.post("/api/mechanic/time-off", json={"start_date": iso(local(day, 8)),
                                                             "end_date": iso(local(day, 9))},
                             headers=bearer(cid, "customer")), 403, "forbidden")
    assert_error(client.get("/api/mechanic/time-off", headers=bearer(cid, "customer")), 403, "forbidden")

    assert_error(client.delete(f"/api/mechanic/time-off/{toid}", headers=bearer(other, "mechanic")),
                 404, "time_off_not_found")
    r = client.delete(f"/api/mechanic/time-off/{toid}", headers=h)
    assert r.status_code == 200 and r.json() == {"id": toid, "deleted": True}
    assert client.get("/api/mechanic/time-off", headers=h).json() == {"time_off": []}


def test_independent_mechanic_sets_weekly_blocks(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    mid = world.mechanic()
    day = booking_day()
    dow = (day.weekday() + 1) % 7                       # 0 = Sunday
    r = client.put("/api/mechanic/availability-blocks",
                   json={"blocks": [{"day_of_week": dow, "start_time": "13:00", "end_time": "15:00"}]},
                   headers=bearer(mid, "mechanic"))
    assert r.status_code == 200, r.text
    assert r.json() == {"blocks": 1}
    slots = client.post("/api/mechanics/availability/slots", json={"mechanicId": mid, "date": day.isoformat()},
                        headers=bearer(cid, "customer")).json()["slots"]
    assert [s["localStart"][11:16] for s in slots] == ["13:00", "13:30", "14:00", "14:30"]
    assert_error(client.put("/api/mechanic/availability-blocks",
                            json={"blocks": [{"day_of_week": 9, "start_time": "13:00", "end_time": "15:00"}]},
                            headers=bearer(mid, "mechanic")), 422, "invalid_value")


# ---------------------------------------------------------------------------- admin onboarding


def test_admin_onboards_a_workshop_with_hours_and_its_mechanic(world: World, client: TestClient[Any]) -> None:
    cid, _ = world.customer()
    h = bearer(ADMIN, "admin")
    day = booking_day(4)
    dow = (day.weekday() + 1) % 7
    hours = [{"day_of_week": d, "open_time": "08:00", "close_time": "12:00"} for d in range(7) if d != (dow + 1) % 7]
    r = client.post("/api/admin/workshops", json={"name": "Kolkata Motors", "timezone": "Asia/Kolkata",
                                                  "hours": hours, "city": "Kolkata", "country": "IN"}, headers=h)
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    r = client.post("/api/admin/mechanics", json={"email": "ravi@example.test", "full_name": "Ravi Rao",
                                                  "workshop_id": wid, "specialties": ["brakes"], "rating": 4.8,
                                                  "years_of_experience": 12}, headers=h)
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    body = client.post("/api/mechanics/availability/slots", json={"mechanicId": mid, "date": day.isoformat()},
                       headers=bearer(cid, "customer")).json()
    kolkata = dt.timezone(dt.timedelta(hours=5, minutes=30))
    assert [dt.datetime.fromisoformat(s["startTime"]) for s in body["slots"]][:2] == [
        dt.datetime.combine(day, dt.time(8), kolkata), dt.datetime.combine(day, dt.time(8, 30), kolkata)]
    assert len(body["slots"]) == 8
    closed_day = (day + dt.timedelta(days=1)).isoformat()
    assert client.post("/api/mechanics/availability/slots", json={"mechanicId": mid, "date": closed_day},
                       headers=bearer(cid, "customer")).json()["slots"] == []

    r = client.put(f"/api/admin/workshops/{wid}/hours", json={"hours": []}, headers=h)
    assert r.status_code == 200 and r.json() == {"id": wid, "days": 0}
    assert_error(client.post(f"/api/admin/mechanics/{mid}/availability-blocks",
                             json={"blocks": [{"day_of_week": 1, "start_time": "09:00", "end_time": "12:00"}]},
                             headers=h), 409, "workshop_mechanic")
    assert_error(client.post("/api/admin/workshops", json={"name": "Nowhere", "timezone": "Mars/Olympus"}, headers=h),
                 422, "invalid_timezone")
    assert_error(client.post("/api/admin/workshops", json={"name": "Bad", "timezone": "UTC",
                                                           "hours": [{"day_of_week": 8, "open_time": "09:00",
                                                                      "close_time": "10:00"}]}, headers=h),
                 422, "invalid_hours")
    assert_error(client.post("/api/admin/workshops", json={"name": "Bad", "timezone": "UTC",
                                                           "hours": [{"day_of_week": 1, "open_time": "9am",
                                                                      "close_time": "10:00"}]}, headers=h),
                 422, "validation_error")  # the schema's pattern: refused before the database
    assert_error(client.put(f"/api/admin/workshops/{NOBODY}/hours", json={"hours": []}, headers=h),
                 404, "workshop_not_found")
    assert_error(client.post("/api/admin/mechanics", json={"email": "ravi@example.test", "full_name": "Ravi Again",
                                                           "timezone": "UTC"}, headers=h), 409, "email_taken")
    assert_error(client.post("/api/admin/mechanics", json={"email": "x@example.test", "full_name": "X",
                                                           "workshop_id": NOBODY}, headers=h),
                 404, "workshop_not_found")
    assert_error(client.post("/api/admin/mechanics", json={"email": "y@example.test", "full_name": "Y"}, headers=h),
                 422, "missing_field")


def test_admin_onboards_independent_mechanic_blocks_time_off_and_customers(world: World,
                                                                          client: TestClient[Any]) -> None:
    h = bearer(ADMIN, "admin")
    r = client.post("/api/admin/mechanics", json={"email": "indie@example.test", "full_name": "Indie Ida",
                                                  "timezone": "America/Toronto", "brand_specialist_brands": ["BMW"]},
                    headers=h)
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    day = booking_day()
    dow = (day.weekday() + 1) % 7
    r = client.post(f"/api/admin/mechanics/{mid}/availability-blocks",
                    json={"blocks": [{"day_of_week": dow, "start_time": "22:00", "end_time": "02:00"}]}, headers=h)
    assert r.status_code == 201 and r.json() == {"mechanic_id": mid, "blocks": 1}
    r = client.post(f"/api/admin/mechanics/{mid}/time-off",
                    json={"start_date": iso(local(day, 23)), "end_date": iso(local(day + dt.timedelta(days=1), 0))},
                    headers=h)
    assert r.status_code == 201, r.text
    r = client.post("/api/admin/customers", json={"email": "cara@example.test", "full_name": "Cara Customer",
                                                  "city": "Toronto", "country": "CA"}, headers=h)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    slots = client.post("/api/mechanics/availability/slots", json={"mechanicId": mid, "date": day.isoformat()},
                        headers=bearer(cid, "customer")).json()["slots"]
    # the overnight block: 22:00 to 02:00 next day, minus the 23:00-24:00 time off
    assert [(s["localStart"][11:16], s["available"]) for s in slots] == [
        ("22:00", True), ("22:30", True), ("23:00", False), ("23:30", False),
        ("00:00", True), ("00:30", True), ("01:00", True), ("01:30", True)]
    assert_error(client.post("/api/admin/customers", json={"email": "cara@example.test", "full_name": "Cara Two"},
                             headers=h), 409, "email_taken")
    assert_error(client.post(f"/api/admin/mechanics/{NOBODY}/time-off",
                             json={"start_date": iso(local(day, 9)), "end_date": iso(local(day, 10))}, headers=h),
                 404, "mechanic_not_found")


@pytest.mark.parametrize(("role", "method", "path", "body"), [
    ("customer", "POST", "/api/admin/workshops", {"name": "Mine", "timezone": "UTC"}),
    ("mechanic", "POST", "/api/admin/workshops", {"name": "Mine", "timezone": "UTC"}),
    ("customer", "POST", "/api/admin/mechanics", {"email": "z@example.test", "full_name": "Z", "timezone": "UTC"}),
    ("mechanic", "POST", "/api/admin/customers", {"email": "z@example.test", "full_name": "Z"}),
    ("customer", "PUT", f"/api/admin/workshops/{NOBODY}/hours", {"hours": []}),
    ("customer", "POST", f"/api/admin/mechanics/{NOBODY}/time-off",
     {"start_date": "2030-01-07T10:00:00Z", "end_date": "2030-01-07T11:00:00Z"}),
    ("customer", "POST", f"/api/admin/mechanics/{NOBODY}/availability-blocks", {"blocks": []}),
    ("customer", "PUT", "/api/mechanic/availability-blocks", {"blocks": []}),
    ("mechanic", "GET", "/api/customer/vehicles", None),
    ("mechanic", "POST", "/api/scheduling/create-appointment", {"type": "video"}),
])
def test_roles_are_enforced_by_the_database(world: World, client: TestClient[Any], role: str, method: str,
                                            path: str, body: Any) -> None:
    user = world.customer()[0] if role == "customer" else world.mechanic()
    assert_error(client.request(method, path, json=body, headers=bearer(user, role)), 403, "forbidden")


# ---------------------------------------------------------------------------- never a 500


ODD_VALUES: list[Any] = [None, "", "x" * 300, -1, 2**40, 1.5, True, [], {}, "2030-02-30", "a\u0000b",
                         "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", NOBODY]


def test_odd_values_in_any_field_are_4xx_never_500(world: World, client: TestClient[Any]) -> None:
    """Each endpoint's valid body with one field at a time replaced by an odd value: the answer is a
    4xx with a stable code (or a success), never a 500."""
    cid, vid = world.customer()
    mid = world.mechanic(on_shift=True)
    at = iso(local(booking_day(), 10))
    customer, mechanic, admin = bearer(cid, "customer"), bearer(mid, "mechanic"), bearer(ADMIN, "admin")
    bodies: list[tuple[str, dict[str, str], dict[str, Any]]] = [
        ("/api/mechanics/availability/slots", customer, {"mechanicId": mid, "date": at[:10], "plan": "standard"}),
        ("/api/mechanics/availability/check", customer, {"mechanicId": mid, "startTime": at, "endTime": at,
                                                         "plan": "standard"}),
        ("/api/slot-holds", customer, {"mechanicId": mid, "startTime": at, "plan": "standard",
                                       "serviceMode": "online"}),
        ("/api/sessions/create", customer, {
            "type": "video", "plan": "standard", "concern": "c", "concern_category": "repair", "vehicle_id": vid,
            "is_advice_only": False, "scheduled_for": at, "mechanic_id": mid, "service_mode": "online",
            "hold_id": NOBODY, "is_urgent": False, "preparation_notes": "n", "special_requests": "r",
            "uploaded_files": ["f"], "metadata": {"k": "v"}, "customer_id": cid}),
        (f"/api/appointments/{NOBODY}/reschedule", customer, {"scheduled_for": at, "mechanic_id": mid}),
        ("/api/customer/vehicles", customer, {"make": "Kia", "model": "Rio", "year": 2015, "vin": "KNADN412345678901",
                                              "odometer": 5, "license_plate": "P", "customer_id": cid}),
        ("/api/customer/favorites", customer, {"mechanic_id": mid}),
        ("/api/mechanic/shift", mechanic, {"onShift": True, "mechanicId": mid}),
        ("/api/mechanic/time-off", mechanic, {"start_date": at, "end_date": at, "reason": "r"}),
        ("/api/admin/workshops", admin, {
            "name": "W", "timezone": "UTC", "hours": [{"day_of_week": 1, "is_open": True, "open_time": "09:00",
                                                       "close_time": "17:00"}],
            "address_line1": "a", "city": "c", "country": "CA", "phone": "1"}),
        ("/api/admin/mechanics", admin, {
            "email": "odd@example.test", "full_name": "O", "timezone": "UTC", "specialties": ["s"],
            "brand_specialist_brands": ["b"], "years_of_experience": 1, "certifications": ["c"], "rating": 4.0,
            "bio": "b", "city": "c"}),
        ("/api/admin/customers", admin, {"email": "odd-c@example.test", "full_name": "C", "city": "c"}),
        (f"/api/admin/mechanics/{mid}/availability-blocks", admin, {
            "blocks": [{"day_of_week": 1, "start_time": "09:00", "end_time": "10:00"}]}),
    ]
    seen: set[tuple[int, str]] = set()
    for path, headers, body in bodies:
        for field in body:
            for odd in ODD_VALUES:
                r = client.post(path, json={**body, field: odd}, headers=headers)
                assert r.status_code < 500, (path, field, odd, r.text)
                if r.status_code >= 400:
                    err = r.json()
                    assert set(err) == {"code", "message", "detail"} and err["code"], (path, field, odd, err)
                    seen.add((r.status_code, err["code"]))
    assert (422, "validation_error") in seen
    assert not any(status == 400 for status, _ in seen), seen  # well-formed JSON is never a 400

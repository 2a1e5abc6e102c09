# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""The waitlist over REST and under real concurrency.

REST: join / status / leave with their error codes, "my appointments" showing the waitlist status, the
directory showing the queue length to admins only, the admin queue and settings, and end to end: a
mechanic going on shift through the API → the first customer in line gets the live event on their
stream and the "a mechanic is available" email over real SMTP.
Concurrency (parallel PostgreSQL connections released together by a barrier, logged in as the API role
and becoming one caller per transaction, as a request does): two mechanics coming on shift at the same
instant with 100 customers waiting; one mechanic toggling on/off/on; one customer joining ten times at
once; a join racing a mechanic coming on shift.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import psycopg
import pytest
from litestar.testing import TestClient

from api.config import Settings
from api.devtools.local_services import LocalSMTP
from api.errors import translate
from tests.py.booking_fixtures import ADMIN, World, call
from tests.py.conftest import ClonedDatabase
from tests.py.live_stream import ApiServer, Stream
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    bearer,
    fx_settings,
    local_stripe,
    make_app,
    messages_to,
    run_worker_until_idle,
    smtp,
)
from tests.py.test_booking_concurrency import api_connection, become


@pytest.fixture
def world(database: ClonedDatabase) -> World:
    return World(database)


@pytest.fixture
def client(settings: Settings) -> Any:
    with TestClient(app=make_app(settings)) as c:
        yield c


def error(r: Any, status: int, code: str) -> Any:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "message", "detail"} and body["code"] == code, body
    return body["detail"]


def queue(world: World, n: int) -> list[str]:
    """n customers waiting, who joined one second apart (oldest first), put in the queue by a DBA."""
    customers = [world.customer(vehicle=False)[0] for _ in range(n)]
    with psycopg.connect(world.db.superuser_dsn) as conn:
        for i, cid in enumerate(customers):
            conn.execute("INSERT INTO app.waitlist_entries (customer_id, concern, plan_code, created_at) "
                         "VALUES (%s, 'Waiting', 'standard', now() - make_interval(secs => %s))", [cid, 600 - i])
    return customers


def notified(world: World) -> list[tuple[str, str]]:
    with psycopg.connect(world.db.superuser_dsn) as conn:
        rows = conn.execute("SELECT customer_id::text, notified_mechanic_id::text FROM app.waitlist_entries "
                            "WHERE status = 'notified' ORDER BY created_at").fetchall()
    return [(r[0], r[1]) for r in rows]


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(0..n-1) in n threads released together; each result or the exception it raised."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work(i)
        except Exception as e:  # the outcome is what the test asserts on
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def as_caller(db: ClonedDatabase, user_id: str, role: str, query: str, params: Any = None) -> Any:
    """One transaction on an API-role connection as that caller; the first column of the first row."""
    with api_connection(db) as conn, conn.transaction():
        become(conn, user_id, role)
        row = conn.execute(query, params).fetchone()
        return next(iter(row.values())) if row else None


def code_of(outcome: Any) -> str:
    if isinstance(outcome, psycopg.Error):
        return str(translate(outcome)[1]["code"])
    return "ok" if not isinstance(outcome, Exception) else repr(outcome)


# ---------------------------------------------------------------------------- REST


def test_join_status_leave_over_rest(world: World, client: Any) -> None:
    customer, vehicle = world.customer()
    other, _ = world.customer()
    me = bearer(customer, "customer")

    assert client.get("/api/waitlist", headers=me).json() == {"entry": None}
    r = client.post("/api/waitlist", json={"concern": "Engine light is on", "vehicle_id": vehicle, "plan": "premium"},
                    headers=me)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert (entry["status"], entry["position"], entry["plan_code"], entry["is_active"]) == \
        ("pending", 1, "premium", True)
    assert client.get("/api/waitlist", headers=me).json()["entry"]["id"] == entry["id"]
    assert error(client.post("/api/waitlist", json={"concern": "again"}, headers=me),
                 409, "already_on_waitlist")["id"] == entry["id"]
    error(client.post("/api/waitlist", json={"concern": "x", "vehicle_id": vehicle}, headers=bearer(other, "customer")),
          422, "vehicle_not_yours")
    error(client.post("/api/waitlist", json={"concern": "x", "plan": "gold"}, headers=bearer(other, "customer")),
          422, "unknown_plan")
    error(client.post("/api/waitlist", json={}, headers=me), 422, "validation_error")
    error(client.post("/api/waitlist", json={"concern": "x"}, headers=bearer(world.mechanic(), "mechanic")),
          403, "forbidden")

    # "my appointments" shows the waitlist status
    listing = client.get("/api/appointments", headers=me).json()
    assert listing["waitlist"]["id"] == entry["id"] and listing["waitlist"]["status"] == "pending"

    r = client.delete("/api/waitlist", headers=me)
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["close_reason"] == "customer"
    error(client.delete("/api/waitlist", headers=me), 404, "not_on_waitlist")
    assert client.get("/api/waitlist", headers=me).json()["entry"]["status"] == "cancelled"

    # an admin acts for a named customer
    admin = bearer(ADMIN, "admin")
    r = client.post("/api/waitlist", json={"concern": "Battery", "customer_id": other}, headers=admin)
    assert r.status_code == 201 and r.json()["customer_id"] == other
    assert client.get(f"/api/waitlist?customer_id={other}", headers=admin).json()["entry"]["status"] == "pending"
    error(client.get("/api/waitlist?customer_id=nope", headers=admin), 422, "validation_error")
    assert client.delete(f"/api/waitlist?customer_id={other}", headers=admin).json()["close_reason"] == "admin"


def test_join_while_a_mechanic_is_on_shift_is_409_with_the_mechanics(world: World, client: Any) -> None:
    customer, _ = world.customer()
    mechanic = world.mechanic(name="Olive Online", on_shift=True)
    detail = error(client.post("/api/waitlist", json={"concern": "Noise"}, headers=bearer(customer, "customer")),
                   409, "mechanics_available")
    assert [m["mechanic_id"] for m in detail["mechanics"]] == [mechanic]
    assert detail["mechanics"][0]["display_name"] == "Olive Online"


def test_admins_see_the_queue_in_the_directory_and_change_the_settings(world: World, client: Any) -> None:
    queue(world, 3)
    admin, customer = bearer(ADMIN, "admin"), bearer(world.customer()[0], "customer")
    directory = client.get("/api/mechanics", headers=admin).json()
    assert directory["waitlist_queue"]["pending"] == 3 and directory["waitlist_queue"]["notified"] == 0
    assert "waitlist_queue" not in client.get("/api/mechanics", headers=customer).json()

    body = client.get("/api/admin/waitlist", headers=admin).json()
    assert body["queue"]["pending"] == 3 and len(body["entries"]) == 3
    assert [e["created_at"] for e in body["entries"]] == sorted(e["created_at"] for e in body["entries"])
    error(client.get("/api/admin/waitlist", headers=customer), 403, "forbidden")

    r = client.patch("/api/admin/waitlist/settings", json={"customers_per_mechanic": 2, "turn_minutes": 5},
                     headers=admin)
    assert r.status_code == 200 and (r.json()["customers_per_mechanic"], r.json()["turn_minutes"]) == (2, 5)
    error(client.patch("/api/admin/waitlist/settings", json={"max_wait_minutes": 1}, headers=admin),
          422, "invalid_value")
    error(client.patch("/api/admin/waitlist/settings", json={"turn_minutes": 5}, headers=customer), 403, "forbidden")


def test_going_on_shift_over_rest_notifies_the_first_in_line_live_and_by_email(
        database: ClonedDatabase, fx_settings: Settings, smtp: LocalSMTP) -> None:
    world = World(database)
    mechanic = world.mechanic(name="Sam Shift")
    first, second = world.customer(vehicle=False)[0], world.customer(vehicle=False)[0]

    async def main() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
            for cid in (first, second):
                r = await http.post("/api/waitlist", json={"concern": "Help"}, headers=bearer(cid, "customer"))
                assert r.status_code == 201, r.text
            # both customers watch their own stream (GET /api/events) before the mechanic comes on shift
            first_stream = await Stream.open(http, bearer(first, "customer"))
            second_stream = await Stream.open(http, bearer(second, "customer"))

            r = await http.post("/api/mechanic/shift", json={"onShift": True}, headers=bearer(mechanic, "mechanic"))
            assert r.status_code == 200, r.text

            notified = await first_stream.next("waitlist.notified")
            assert notified["data"]["payload"]["mechanic"]["name"] == "Sam Shift"
            assert int(notified["id"]) == notified["data"]["id"]
            # the second in line got nothing: the first event on their stream is one addressed to them
            with psycopg.connect(world.db.superuser_dsn) as conn:
                conn.execute("SELECT app_private.emit_live_event('test.sentinel', ARRAY[%s::uuid], '{}')", [second])
            assert (await second_stream.next())["event"] == "test.sentinel"

            mine = (await http.get("/api/waitlist", headers=bearer(first, "customer"))).json()["entry"]
            assert (mine["status"], mine["mechanic"]["id"]) == ("notified", mechanic)
            theirs = (await http.get("/api/waitlist", headers=bearer(second, "customer"))).json()["entry"]
            assert theirs["status"] == "pending"
            for stream in (first_stream, second_stream):
                await stream.close()

    with ApiServer(replace(fx_settings, events_poll_seconds=0.2)) as server:
        asyncio.run(main())

    run_worker_until_idle(fx_settings)
    email_first = world.one("SELECT email FROM app.users WHERE id = %s", [first])
    subjects = sorted(str(m["Subject"]) for m in messages_to(smtp, email_first))
    assert subjects == ["A mechanic is available: Sam Shift (request within 10 minutes)",
                        "You are on the AutoDoctor waitlist"]
    email_second = world.one("SELECT email FROM app.users WHERE id = %s", [second])
    assert [str(m["Subject"]) for m in messages_to(smtp, email_second)] == ["You are on the AutoDoctor waitlist"]
    body = next(m for m in messages_to(smtp, email_first) if "available" in str(m["Subject"]))
    text = body.get_body(("plain",))
    assert text is not None and "/customer/request-now?waitlist=" in text.get_content()


# ---------------------------------------------------------------------------- concurrency


def test_two_mechanics_at_the_same_instant_with_100_waiting_notify_exactly_the_two_oldest(world: World) -> None:
    customers = queue(world, 100)
    mechanics = [world.mechanic(), world.mechanic()]

    def go_on_shift(i: int) -> Any:
        return as_caller(world.db, mechanics[i], "mechanic", "SELECT api.set_shift(true)")

    outcomes = race(2, go_on_shift)
    assert all(isinstance(o, dict) and o["changed"] for o in outcomes), outcomes
    got = notified(world)
    assert sorted(c for c, _ in got) == sorted(customers[:2]), "the two oldest, and only they"
    assert sorted(m for _, m in got) == sorted(mechanics), "one turn from each mechanic"
    assert world.one("SELECT count(*) FROM app.outbox WHERE idempotency_key LIKE 'email:waitlist:%%:notified'") == 2
    assert world.one("SELECT count(*) FROM app.live_events WHERE kind = 'waitlist.notified'") == 2


def test_many_mechanics_at_once_notify_the_oldest_each_once(world: World) -> None:
    customers = queue(world, 100)
    mechanics = [world.mechanic() for _ in range(8)]

    def direct_update(i: int) -> Any:  # the DBA path: a plain UPDATE as an admin
        return as_caller(world.db, ADMIN, "admin",
                         "UPDATE app.mechanics SET currently_on_shift = true WHERE user_id = %s RETURNING 1",
                         [mechanics[i]])

    assert race(8, direct_update) == [1] * 8
    got = notified(world)
    assert sorted(c for c, _ in got) == sorted(customers[:8])
    assert sorted(m for _, m in got) == sorted(mechanics)


def test_toggling_on_and_off_ten_times_at_once_notifies_no_one_twice(world: World) -> None:
    queue(world, 20)
    mechanic = world.mechanic()

    def toggle(i: int) -> Any:  # ten togglers at once, each on then off, the last one leaves it on
        as_caller(world.db, mechanic, "mechanic", "SELECT api.set_shift(true)")
        if i:
            as_caller(world.db, mechanic, "mechanic", "SELECT api.set_shift(false)")
        return "ok"

    assert race(10, toggle) == ["ok"] * 10
    as_caller(world.db, mechanic, "mechanic", "SELECT api.set_shift(true)")
    got = notified(world)
    assert len(got) == 1, "capacity 1: the open turn blocks every later toggle"
    assert world.one("SELECT count(*) FROM app.outbox WHERE idempotency_key LIKE 'email:waitlist:%%:notified'") == 1
    assert world.one("SELECT count(DISTINCT customer_id) FROM app.waitlist_entries WHERE notified_at IS NOT NULL") == 1


def test_a_customer_joining_ten_times_at_once_gets_one_entry(world: World) -> None:
    customer, _ = world.customer()

    def join(_: int) -> Any:
        return as_caller(world.db, customer, "customer", "SELECT api.join_waitlist('Double click')")

    outcomes = [code_of(o) for o in race(10, join)]
    assert sorted(outcomes) == ["already_on_waitlist"] * 9 + ["ok"], outcomes
    assert world.one("SELECT count(*) FROM app.waitlist_entries WHERE customer_id = %s", [customer]) == 1
    assert world.one("SELECT count(*) FROM app.outbox WHERE idempotency_key LIKE 'email:waitlist:%%:joined'") == 1


def test_a_join_racing_a_mechanic_coming_on_shift_is_never_left_behind(world: World) -> None:
    """The join gate: either the join sees the mechanic (409 mechanics_available) or the trigger sees the entry."""
    for _ in range(15):
        customer, _ = world.customer(vehicle=False)
        mechanic = world.mechanic()

        def work(i: int, customer: str = customer, mechanic: str = mechanic) -> Any:
            if i == 0:
                return as_caller(world.db, customer, "customer", "SELECT api.join_waitlist('Race')")
            return as_caller(world.db, mechanic, "mechanic", "SELECT api.set_shift(true)")

        join, _shift = race(2, work)
        status = world.one("SELECT status FROM app.waitlist_entries WHERE customer_id = %s", [customer])
        if isinstance(join, dict):
            assert status == "notified", "an entry committed beside a mechanic coming on shift gets the turn"
        else:
            assert code_of(join) == "mechanics_available" and status is None
        with psycopg.connect(world.db.superuser_dsn) as conn:  # next round starts with nobody on shift
            conn.execute("UPDATE app.mechanics SET currently_on_shift = false")
            conn.execute("UPDATE app.waitlist_entries SET status = 'cancelled', close_reason = 'admin', "
                         "closed_at = now() WHERE status IN ('pending', 'notified')")


def test_job_runs_twice_at_once_hand_each_lapsed_turn_on_once(world: World) -> None:
    customers = queue(world, 5)
    mechanic = world.mechanic()
    with world.as_caller(ADMIN, "admin") as conn:
        call(conn, "set_shift", on_shift=True, mechanic_id=mechanic)
    assert [c for c, _ in notified(world)] == customers[:1]
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)).isoformat()

    def advance(_: int) -> Any:
        with api_connection(world.db) as conn, conn.transaction():
            become(conn, ADMIN, "admin")
            conn.execute("SELECT set_config('autodoc.now', %s, true)", [later])
            return conn.execute("SELECT api.advance_waitlist() AS r").fetchone()

    results = [r["r"] for r in race(4, advance)]
    assert sum(r["turns_lapsed"] for r in results) == 1 and sum(r["notified"] for r in results) == 1, results
    assert [c for c, _ in notified(world)] == customers[1:2]
    assert world.one("SELECT count(*) FROM app.outbox WHERE idempotency_key LIKE 'email:waitlist:%%:expired'") == 1

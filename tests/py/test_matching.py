# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Matching and offers end to end: REST + Server-Sent Events on a real server (uvicorn), real
parallel connections for the races, the real worker and SMTP server for the emails.

The SSE clients connect first (their first line, a comment, is sent once the relay has subscribed
them), so every event after that must reach them; a test never sleeps to wait for one, it waits
for the event itself with a timeout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import uuid
from dataclasses import replace
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from api.app import create_app
from api.config import Settings
from api.devtools.local_services import LocalSMTP
from api.errors import translate
from tests.py.booking_fixtures import ADMIN, World
from tests.py.conftest import ClonedDatabase
from tests.py.live_stream import ApiServer, Stream
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    bearer,
    fx_settings,
    local_stripe,
    messages_to,
    run_worker_until_idle,
    smtp,
    su,
)

UTC = dt.UTC


@pytest.fixture
def world(database: ClonedDatabase) -> World:
    return World(database)


def rows(world: World, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(world.db.superuser_dsn) as conn:
        return conn.execute(query, params).fetchall()


def request_body(vehicle_id: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "video", "plan": "standard", "concern": "Grinding noise when braking",
                            "concern_category": "diagnostic", **extra}
    if vehicle_id:
        body["vehicle_id"] = vehicle_id
    else:
        body["is_advice_only"] = True
    return body


# ---------------------------------------------------------------------------- end to end


def test_request_now_offer_on_stream_accept_customer_sees_assigned_and_email(
        world: World, fx_settings: Settings, smtp: LocalSMTP) -> None:
    mechanic = world.mechanic(name="Ada Mechanic", on_shift=True, brands=["Honda"])
    bystander = world.mechanic(name="Off Shift", on_shift=False)
    customer, vehicle = world.customer()
    settings = replace(fx_settings, events_poll_seconds=0.2)

    async def main() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
            mech_stream = await Stream.open(http, bearer(mechanic, "mechanic"))
            cust_stream = await Stream.open(http, bearer(customer, "customer"))
            other_stream = await Stream.open(http, bearer(bystander, "mechanic"))

            r = await http.post("/api/sessions/request-now", json=request_body(vehicle, brand_specialist_only=True),
                                headers=bearer(customer, "customer"))
            assert r.status_code == 201, r.text
            session_id = r.json()["session"]["id"]
            assert r.json()["matching"]["status"] == "offering"
            assert r.json()["matching"]["open_offers"] == 1

            offer = await mech_stream.next("offer.created")
            assert offer["data"]["session_id"] == session_id
            assert offer["data"]["payload"]["priority"] == "high"
            assert {x["criterion"] for x in offer["data"]["payload"]["match_reasons"]} >= {"brand_specialist",
                                                                                         "availability"}
            assert int(offer["id"]) == offer["data"]["id"]
            offered = await cust_stream.next("session.status")
            assert offered["data"]["payload"]["status"] == "offered"

            listed = await http.get("/api/mechanic/offers", headers=bearer(mechanic, "mechanic"))
            assert [o["offer_id"] for o in listed.json()["offers"]] == [offer["data"]["payload"]["offer_id"]]

            r = await http.post(f"/api/mechanic/offers/{offer['data']['payload']['offer_id']}/accept",
                                headers=bearer(mechanic, "mechanic"))
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "accepted"
            assigned = await cust_stream.next("session.status")
            assert assigned["data"]["payload"]["status"] == "assigned"
            assert assigned["data"]["payload"]["mechanic"]["name"] == "Ada Mechanic"
            assert assigned["data"]["payload"]["session_status"] == "waiting"

            # the bystander's stream got nothing of this: the first event it sees is one addressed to it
            with psycopg.connect(world.db.superuser_dsn) as conn:
                conn.execute("SELECT app_private.emit_live_event('test.sentinel', ARRAY[%s::uuid], '{}')", [bystander])
            first = await other_stream.next()
            assert first["event"] == "test.sentinel"

            for s in (mech_stream, cust_stream, other_stream):
                await s.close()
            return {"session_id": session_id}

    with ApiServer(settings) as server:
        result = asyncio.run(main())

    run_worker_until_idle(settings)
    email = world.one("SELECT email FROM app.users WHERE id = %s", [customer])
    found = [m for m in messages_to(smtp, email) if "is ready for your AutoDoctor session" in str(m["Subject"])]
    assert len(found) == 1, [str(m["Subject"]) for m in smtp.messages]
    mech_email = world.one("SELECT email FROM app.users WHERE id = %s", [mechanic])
    assert any("New request" in str(m["Subject"]) for m in messages_to(smtp, mech_email))
    assert world.one("SELECT status FROM app.sessions WHERE id = %s", [result["session_id"]]) == "waiting"


def test_last_event_id_replays_missed_events_or_says_it_cannot(world: World, settings: Settings) -> None:
    mechanic = world.mechanic(on_shift=True)
    customer, vehicle = world.customer()
    settings = replace(settings, events_poll_seconds=0.2)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
            stream = await Stream.open(http, bearer(mechanic, "mechanic"))
            r = await http.post("/api/sessions/request-now", json=request_body(vehicle),
                                headers=bearer(customer, "customer"))
            session_id = r.json()["session"]["id"]
            first = await stream.next("offer.created")
            await stream.close()
            # while the mechanic is away, the customer withdraws the request
            r = await http.post(f"/api/sessions/{session_id}/cancel-request", headers=bearer(customer, "customer"))
            assert r.status_code == 200, r.text
            again = await Stream.open(http, bearer(mechanic, "mechanic") | {"Last-Event-ID": first["id"]})
            withdrawn = await again.next()
            assert withdrawn["event"] == "offer.withdrawn"
            assert withdrawn["data"]["payload"] == {"offer_id": first["data"]["payload"]["offer_id"],
                                                   "session_id": session_id, "reason": "cancelled"}
            await again.close()

            # the replay window passed (events purged): the stream says so first
            with psycopg.connect(world.db.superuser_dsn) as conn:
                conn.execute("UPDATE app.live_events SET created_at = created_at - interval '2 hours'")
                conn.execute("SELECT api.purge_live_events()")
                conn.execute("SELECT app_private.emit_live_event('test.sentinel', ARRAY[%s::uuid], '{}')", [mechanic])
            late = await Stream.open(http, bearer(mechanic, "mechanic") | {"Last-Event-ID": first["id"]})
            told = await late.next()
            assert told["event"] == "replay.unavailable"
            assert told["data"]["last_event_id"] == int(first["id"])
            await late.close()

            r = await http.get("/api/events", headers=bearer(mechanic, "mechanic") | {"Last-Event-ID": "abc"})
            assert r.status_code == 422 and r.json()["code"] == "validation_error"
            assert r.json()["detail"]["field"] == "Last-Event-ID"
            r = await http.get("/api/events")
            assert r.status_code == 401

    with ApiServer(settings) as server:
        asyncio.run(main())


# ---------------------------------------------------------------------------- REST around offers


def test_offers_rest_decline_admin_explanation_and_weights(world: World, settings: Settings) -> None:
    from litestar.testing import TestClient

    m1 = world.mechanic(name="First", on_shift=True)
    m2 = world.mechanic(name="Second", on_shift=True)
    customer, vehicle = world.customer()
    with TestClient(app=create_app(settings)) as client:
        r = client.post("/api/sessions/request-now", json=request_body(vehicle), headers=bearer(customer, "customer"))
        assert r.status_code == 201, r.text
        session_id = r.json()["session"]["id"]

        r = client.get(f"/api/admin/sessions/{session_id}/matches", headers=bearer(ADMIN, "admin"))
        assert r.status_code == 200, r.text
        candidates = r.json()["candidates"]
        assert {c["display_name"] for c in candidates} == {"First", "Second"}
        assert all(c["match_score"] == sum(x["points"] for x in c["match_reasons"]) for c in candidates)
        r = client.get(f"/api/admin/sessions/{session_id}/matches", headers=bearer(customer, "customer"))
        assert r.status_code == 403

        r = client.get("/api/admin/matching/criteria", headers=bearer(ADMIN, "admin"))
        assert len(r.json()["criteria"]) == 14
        r = client.put("/api/admin/matching/criteria/experience", json={"weight": 12.5, "enabled": True},
                       headers=bearer(ADMIN, "admin"))
        assert r.status_code == 200 and r.json()["weight"] == 12.5, r.text
        r = client.put("/api/admin/matching/criteria/nope", json={"weight": 1}, headers=bearer(ADMIN, "admin"))
        assert r.status_code == 404 and r.json()["code"] == "criterion_not_found"
        r = client.put("/api/admin/matching/criteria/experience", json={"weight": -1}, headers=bearer(ADMIN, "admin"))
        assert r.status_code == 422 and r.json()["detail"]["field"] == "weight", r.text

        offers = {m: client.get("/api/mechanic/offers", headers=bearer(m, "mechanic")).json()["offers"]
                  for m in (m1, m2)}
        assert all(len(o) == 1 for o in offers.values())
        r = client.post(f"/api/mechanic/offers/{offers[m1][0]['offer_id']}/decline", json={"reason": "Busy"},
                        headers=bearer(m1, "mechanic"))
        assert r.status_code == 200 and r.json()["status"] == "declined", r.text
        r = client.post(f"/api/mechanic/offers/{offers[m1][0]['offer_id']}/accept", headers=bearer(m1, "mechanic"))
        assert r.status_code == 409 and r.json()["code"] == "offer_closed"
        r = client.post(f"/api/mechanic/offers/{offers[m1][0]['offer_id']}/accept", headers=bearer(m2, "mechanic"))
        assert r.status_code == 404 and r.json()["code"] == "offer_not_found"
        r = client.post(f"/api/mechanic/offers/{uuid.uuid4()}/decline", headers=bearer(m2, "mechanic"))
        assert r.status_code == 404
        history = client.get("/api/mechanic/offers?all=true", headers=bearer(m1, "mechanic")).json()["offers"]
        assert [(o["status"], o["decline_reason"]) for o in history] == [("declined", "Busy")]

        r = client.get(f"/api/sessions/{session_id}/matching", headers=bearer(customer, "customer"))
        assert r.json()["open_offers"] == 1 and r.json()["round"] == 1
        other, _ = world.customer()
        r = client.get(f"/api/sessions/{session_id}/matching", headers=bearer(other, "customer"))
        assert r.status_code == 404
        r = client.post(f"/api/sessions/{session_id}/cancel-request", headers=bearer(customer, "customer"))
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        r = client.post(f"/api/sessions/{session_id}/cancel-request", headers=bearer(customer, "customer"))
        assert r.status_code == 409 and r.json()["code"] == "not_cancellable"


# ---------------------------------------------------------------------------- races on real connections


def _accept_all_at_once(db: ClonedDatabase, offers: list[tuple[str, str]]) -> list[str]:
    """Each (mechanic, offer) accepts on its own connection, released together by a barrier."""
    barrier = threading.Barrier(len(offers))
    outcomes: list[str] = [""] * len(offers)

    def run(i: int, mechanic: str, offer: str) -> None:
        with psycopg.connect(db.api_url, row_factory=dict_row) as conn:
            try:
                with conn.transaction():
                    conn.execute("SET LOCAL ROLE autodoc_mechanic")
                    conn.execute("SELECT set_config('request.jwt.claims', %s, true)",
                                 [json.dumps({"sub": mechanic, "role": "mechanic"})])
                    barrier.wait(10)
                    conn.execute("SELECT api.accept_offer(%s)", [offer])
                outcomes[i] = "accepted"
            except psycopg.Error as e:
                outcomes[i] = translate(e)[1]["code"]

    threads = [threading.Thread(target=run, args=(i, m, o)) for i, (m, o) in enumerate(offers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_three_mechanics_accept_at_the_same_instant_exactly_one_wins(world: World) -> None:
    for round_ in range(5):
        # three fresh mechanics each round; the last round's winner is busy with its session (matching
        # passes them by) and stays on shift (going off shift is refused while it is in progress)
        world.one("UPDATE app.mechanics m SET currently_on_shift = false WHERE NOT EXISTS (SELECT FROM app.sessions s "
                  "WHERE s.mechanic_id = m.user_id AND s.scheduled_for IS NULL "
                  "AND s.status = ANY (app_private.active_statuses())) RETURNING 1")
        for i in range(3):
            world.mechanic(name=f"Racer {round_}.{i}", on_shift=True)
        customer, vehicle = world.customer()
        session = world.session(customer, vehicle_id=vehicle)
        offers = [(str(r[0]), str(r[1])) for r in rows(world,
            "SELECT mechanic_id, id FROM app.session_assignments WHERE session_id = %s", [session["id"]])]
        assert len(offers) == 3
        outcomes = _accept_all_at_once(world.db, offers)
        assert sorted(outcomes) == ["accepted", "offer_closed", "offer_closed"], outcomes
        statuses = sorted(str(r[0]) for r in rows(world,
            "SELECT status FROM app.session_assignments WHERE session_id = %s", [session["id"]]))
        assert statuses == ["accepted", "withdrawn", "withdrawn"]
        winner = offers[outcomes.index("accepted")][0]
        assert str(world.one("SELECT mechanic_id FROM app.sessions WHERE id = %s", [session["id"]])) == winner


def test_one_mechanic_accepts_two_overlapping_offers_at_once_one_wins(world: World) -> None:
    mechanic = world.mechanic(name="Double", on_shift=True)
    offers: list[tuple[str, str]] = []
    for _ in range(2):
        customer, vehicle = world.customer()
        session = world.session(customer, vehicle_id=vehicle)
        offers.append((mechanic, str(world.one(
            "SELECT id FROM app.session_assignments WHERE session_id = %s", [session["id"]]))))
    outcomes = _accept_all_at_once(world.db, offers)
    assert sorted(outcomes) == ["accepted", "slot_unavailable"], outcomes
    assert world.one("SELECT count(*) FROM app.sessions WHERE mechanic_id = %s AND status = 'waiting'",
                     [mechanic]) == 1


def test_deferred_matching_run_twice_concurrently_makes_one_set_of_offers(world: World) -> None:
    for i in range(4):
        world.mechanic(name=f"Later {i}")
    with psycopg.connect(world.db.superuser_dsn, autocommit=True) as su:
        # 20 bookings due for matching, starting in 20 minutes (10:00-17:00 Toronto: inside default hours)
        start = dt.datetime(2031, 1, 7, 15, 30, tzinfo=UTC)
        for _ in range(20):
            customer = su.execute("SELECT tests.create_customer()").fetchone()
            assert customer is not None
            su.execute("SELECT tests.m_scheduled(%s, %s)", [customer[0], start])

    barrier = threading.Barrier(2)
    started: list[int] = []

    def run() -> None:
        with psycopg.connect(world.db.superuser_dsn) as conn, conn.transaction():
            conn.execute("SELECT tests.set_now('2031-01-07 15:00Z')")
            barrier.wait(10)
            row = conn.execute("SELECT api.run_deferred_matching()").fetchone()
            assert row is not None
            started.append(int(row[0]))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(started) == 20, started
    assert world.one("SELECT count(*) FROM app.session_matching") == 20
    per_session = rows(world, "SELECT session_id, count(*) FROM app.session_assignments GROUP BY 1")
    assert len(per_session) == 20 and all(r[1] == 3 for r in per_session)

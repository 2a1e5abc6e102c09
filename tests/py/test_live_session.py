# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Waivers and the live session over REST, with the real worker, localstripe and SMTP.

End to end: the immediate flow (request -> a mechanic accepts -> sign -> charged -> join -> complete
-> rate) and the scheduled in-person flow (book with a deposit -> the 15-minute reminder's waiver
link -> sign on the mechanic's device on arrival -> join -> complete -> balance charged). Bad
signature payloads are 422 and store nothing. The no-show job under real concurrency: two runs at
once, a run racing a signature, a run racing an admin completing the session.

The API reads the trusted clock: a phase that must happen at a given time sets the test database's
default `autodoc.now` (test databases allow injection) and opens a new client, whose pool's
connections start with it.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from litestar.testing import TestClient
from psycopg import sql

from api.config import Settings
from api.devtools.local_services import LocalSMTP
from tests.py.booking_fixtures import ADMIN, booking_day, iso, local
from tests.py.conftest import ClonedDatabase
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    bearer,
    fx_settings,
    intents_for_payment,
    local_stripe,
    make_app,
    messages_to,
    one,
    rows,
    run_worker_until_idle,
    smtp,
    su,
)
from tests.py.test_booking_concurrency import api_connection, become

PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E"
       "rkJggg==")
UA = {"User-Agent": "Mozilla/5.0 (AutoDoctor test tablet)"}


@contextmanager
def api_at(settings: Settings, database: ClonedDatabase, at: dt.datetime | None) -> Iterator[TestClient[Any]]:
    """A client of the real app whose database connections read the trusted clock at `at`
    (None: the real time)."""
    with psycopg.connect(database.superuser_dsn, autocommit=True) as conn:
        if at is None:
            conn.execute(sql.SQL("ALTER DATABASE {} RESET autodoc.now").format(sql.Identifier(database.name)))
        else:
            conn.execute(sql.SQL("ALTER DATABASE {} SET autodoc.now = {}").format(
                sql.Identifier(database.name), sql.Literal(at.isoformat())))
    with TestClient(app=make_app(settings)) as client:
        yield client


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


def people(su: psycopg.Connection[Any], *, workshop: bool = False) -> tuple[str, str]:
    email = f"dana-{uuid.uuid4().hex[:12]}@example.test"
    customer = str(one(su, "SELECT tests.se_customer(%s, 'Dana Driver')", [email]))
    mechanic = str(one(su, "SELECT tests.se_mechanic('America/Toronto', %s)", [workshop]))
    return customer, mechanic


def split(su: psycopg.Connection[Any], session_id: str) -> dict[str, int]:
    """What the ledger's completion postings of a session moved, by account kind (band 40)."""
    found = rows(su, "SELECT a.kind, sum(e.amount_cents)::int AS cents FROM app.ledger_transactions t "
                     "JOIN app.ledger_entries e ON e.transaction_id = t.id "
                     "JOIN app.ledger_accounts a ON a.id = e.account_id "
                     "WHERE t.session_id = %s AND t.kind = 'completion' GROUP BY a.kind", [session_id])
    return {r["kind"]: r["cents"] for r in found}


# ---------------------------------------------------------------------------- the immediate flow


def test_immediate_flow_request_accept_sign_charged_join_complete_rate(
        fx_settings: Settings, database: ClonedDatabase, su: psycopg.Connection[Any]) -> None:
    customer, mechanic = people(su)
    su.execute("UPDATE app.mechanics SET currently_on_shift = true, rating = 4.00, rating_count = 1 WHERE user_id = %s",
               [mechanic])
    c, m = bearer(customer, "customer"), bearer(mechanic, "mechanic")
    with api_at(fx_settings, database, None) as api:
        session = ok(api.post("/api/sessions/create", headers=c, json={
            "type": "video", "plan": "extended", "concern": "Check engine light", "is_advice_only": True}), 201)
        sid = session["id"]
        # before a mechanic accepts: no waiver, nothing charged
        window = error(api.post(f"/api/sessions/{sid}/waiver", headers=c, json={"signature": PNG, "agreed": True}),
                       409, "outside_signing_window")["detail"]["window"]
        assert window["opens_when"] == "mechanic_accepted"
        # matching offered it to the one mechanic on shift, who accepts (band 60): the session is
        # theirs and waiting
        [offer] = ok(api.get("/api/mechanic/offers", headers=m))["offers"]
        assert offer["session_id"] == sid
        assert ok(api.post(f"/api/mechanic/offers/{offer['offer_id']}/accept", headers=m))["status"] == "accepted"
        error(api.post(f"/api/sessions/{sid}/join", headers=c), 409, "waiver_required")

        signed = ok(api.post(f"/api/sessions/{sid}/waiver", headers={**c, **UA},
                             json={"signature": PNG, "agreed": True, "mode": "online"}))
        assert signed["already_signed"] is False and signed["signature"]["mode"] == "online"
        assert signed["signature"]["user_agent"] == UA["User-Agent"]
        assert signed["session"]["paid"] is False
        error(api.post(f"/api/sessions/{sid}/join", headers=c), 409, "payment_pending")

        run_worker_until_idle(fx_settings)  # the charge: full plan price at (local) Stripe
        payment = rows(su, "SELECT * FROM app.scheduled_payments WHERE session_id = %s", [sid])
        assert [(p["payment_type"], p["amount_cents"], p["status"]) for p in payment] == [("full", 4900, "succeeded")]
        assert [pi.amount for pi in intents_for_payment(str(payment[0]["id"]))] == [4900]

        assert ok(api.post(f"/api/sessions/{sid}/join", headers=c))["status"] == "waiting"
        live = ok(api.post(f"/api/sessions/{sid}/join", headers=m))
        assert live["status"] == "active" and live["customer_joined_at"] and live["mechanic_joined_at"]
        error(api.post(f"/api/sessions/{sid}/rating", headers=c, json={"rating": 5}), 409, "not_rateable")

        done = ok(api.post(f"/api/sessions/{sid}/complete", headers=m, json={"notes": "Loose gas cap; tightened."}))
        assert done["status"] == "completed" and done["completion_notes"] == "Loose gas cap; tightened."
        error(api.post(f"/api/sessions/{sid}/complete", headers=c), 403, "forbidden")  # customers cannot complete

        rating = ok(api.post(f"/api/sessions/{sid}/rating", headers=c,
                             json={"rating": 5, "comment": "Quick and clear"}), 201)
        assert rating["rating"] == 5
        error(api.post(f"/api/sessions/{sid}/rating", headers=c, json={"rating": 1}), 409, "already_rated")
        error(api.post(f"/api/sessions/{sid}/rating", headers=c, json={"rating": 9}), 409, "already_rated")
    assert split(su, sid) == {"session": -4900, "mechanic_payable": 3920, "platform_revenue": 980}
    mech = rows(su, "SELECT rating, rating_count FROM app.mechanics WHERE user_id = %s", [mechanic])[0]
    assert (float(mech["rating"]), mech["rating_count"]) == (4.5, 2)
    statuses = [r["to_status"] for r in rows(su, "SELECT to_status FROM app.session_events WHERE session_id = %s "
                                                 "AND event_type = 'status_changed' ORDER BY id", [sid])]
    assert statuses == ["waiting", "active", "completed"]


# ---------------------------------------------------------------------------- the scheduled in-person flow


def test_in_person_flow_deposit_reminder_link_sign_on_arrival_complete_balance(
        fx_settings: Settings, database: ClonedDatabase, su: psycopg.Connection[Any], smtp: LocalSMTP) -> None:
    customer, mechanic = people(su, workshop=True)
    email = one(su, "SELECT email FROM app.users WHERE id = %s", [customer])
    c, m = bearer(customer, "customer"), bearer(mechanic, "mechanic")
    start = local(booking_day(3), 10)
    with api_at(fx_settings, database, None) as api:   # booked now, at the real time
        booked = ok(api.post("/api/scheduling/create-appointment", headers=c, json={
            "type": "diagnostic", "plan": "extended", "concern": "Brakes grind", "is_advice_only": True,
            "scheduled_for": iso(start), "mechanic_id": mechanic, "service_mode": "in_person"}), 201)
    sid = booked["id"]
    run_worker_until_idle(fx_settings)
    deposit = rows(su, "SELECT payment_type, amount_cents, status FROM app.scheduled_payments "
                       "WHERE session_id = %s", [sid])
    assert deposit == [{"payment_type": "deposit", "amount_cents": 1500, "status": "succeeded"}]

    # 15 minutes before: the reminder goes out with the waiver page's link
    su.execute("SELECT set_config('autodoc.now', %s, false)", [iso(start - dt.timedelta(minutes=15))])
    assert one(su, "SELECT (api.send_due_reminders() ->> 'sent')::int") >= 1
    su.execute("SELECT set_config('autodoc.now', '', false)")
    run_worker_until_idle(fx_settings)
    reminder = [msg for msg in messages_to(smtp, email) if "15 minutes" in str(msg["Subject"])]
    assert len(reminder) == 1
    body = reminder[0].get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    link = re.search(r"Sign the waiver now: (\S+)", text)
    assert link and link.group(1) == f"{fx_settings.app_url}/customer/appointments/{sid}/waiver"
    page_id = link.group(1).rsplit("/", 2)[-2]

    with api_at(fx_settings, database, start - dt.timedelta(minutes=20)) as api:
        page = ok(api.get(f"/api/sessions/{page_id}/waiver", headers=c))
        assert page["signature"] is None and page["waiver"]["version"] == 1
        assert page["session"]["signing_window"]["is_open"] is False  # not yet: on arrival
        error(api.post(f"/api/sessions/{sid}/waiver", headers=m, json={"signature": PNG, "agreed": True}),
              409, "outside_signing_window")

    with api_at(fx_settings, database, start - dt.timedelta(minutes=5)) as api:  # the customer arrives
        page = ok(api.get(f"/api/sessions/{page_id}/waiver", headers=c))  # the link's id is the session
        assert page["session"]["signing_window"]["is_open"] is True and page["session"]["service_mode"] == "in_person"
        signed = ok(api.post(f"/api/sessions/{sid}/waiver", headers={**m, **UA},
                             json={"signature": PNG, "agreed": True, "mode": "in_person"}))
        assert signed["signature"]["mode"] == "in_person" and signed["signature"]["signed_by"] == mechanic
        again = ok(api.post(f"/api/sessions/{sid}/waiver", headers=c, json={"signature": PNG, "agreed": True}))
        assert again["already_signed"] is True and again["signature"]["id"] == signed["signature"]["id"]
        day = ok(api.get("/api/mechanics/me/schedule", headers=m, params={"date": start.date().isoformat()}))
        assert day["timezone"] == "America/Toronto" and [s["id"] for s in day["sessions"]] == [sid]
        row = day["sessions"][0]
        assert (row["waiver_status"], row["waiver_mode"], row["customer_first_name"], row["service_mode"],
                row["workshop_name"], row["concern"]) == ("signed", "in_person", "Dana", "in_person",
                                                           "Downtown Auto", "Brakes grind")
        assert ok(api.get("/api/mechanic/schedule", headers=m))["upcoming"][0]["waiver_status"] == "signed"
        assert ok(api.post(f"/api/sessions/{sid}/join", headers=c))["status"] == "pending"
        assert ok(api.post(f"/api/sessions/{sid}/join", headers=m))["status"] == "active"

    with api_at(fx_settings, database, start + dt.timedelta(minutes=40)) as api:
        done = ok(api.post(f"/api/sessions/{sid}/complete", headers=m, json={"notes": "Pads replaced."}))
        assert done["status"] == "completed"
    run_worker_until_idle(fx_settings)
    payments = rows(su, "SELECT payment_type, amount_cents, status FROM app.scheduled_payments WHERE session_id = %s "
                        "ORDER BY created_at, payment_type", [sid])
    assert payments == [{"payment_type": "deposit", "amount_cents": 1500, "status": "succeeded"},
                        {"payment_type": "balance", "amount_cents": 3400, "status": "succeeded"}]
    # the split (band 40, policy version 1: 20% commission) of everything paid: $49 = $39.20 + $9.80
    assert split(su, sid) == {"session": -4900, "mechanic_payable": 3920, "platform_revenue": 980}


# ---------------------------------------------------------------------------- bad signatures


def test_bad_signature_payloads_are_422_and_store_nothing(
        fx_settings: Settings, database: ClonedDatabase, su: psycopg.Connection[Any]) -> None:
    customer, mechanic = people(su)
    start = dt.datetime(2031, 1, 7, 15, 0, tzinfo=dt.UTC)
    sid = str(one(su, "SELECT tests.se_session(%s, %s, %s)", [customer, mechanic, start]))
    c = bearer(customer, "customer")
    big = "data:image/png;base64," + base64.b64encode(   # over 128 KiB, under the 256 KiB body limit
        bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(140_000)).decode()
    bad = {
        "empty": "",
        "not_data_url": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ",
        "not_png": "data:image/png;base64,R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==",
        "not_base64": "data:image/png;base64,%%%%",
        "too_large": big,
    }
    with api_at(fx_settings, database, start - dt.timedelta(minutes=10)) as api:
        for reason, signature in bad.items():
            r = api.post(f"/api/sessions/{sid}/waiver", headers=c, json={"signature": signature, "agreed": True})
            body = error(r, 422, "invalid_signature")
            assert body["detail"]["reason"] == reason, body
        error(api.post(f"/api/sessions/{sid}/waiver", headers=c, json={"signature": None, "agreed": True}),
              422, "invalid_signature")
        error(api.post(f"/api/sessions/{sid}/waiver", headers=c, json={"signature": PNG, "agreed": False}),
              422, "agreement_required")
        # who signed from where comes from the request, never from the body
        error(api.post(f"/api/sessions/{sid}/waiver", headers=c,
                       json={"signature": PNG, "agreed": True, "ip_address": "10.0.0.1"}), 422, "validation_error")
        error(api.post(f"/api/sessions/{sid}/waiver", headers=c, json={"agreed": True}), 422, "validation_error")
        assert one(su, "SELECT count(*) FROM app.waiver_signatures WHERE session_id = %s", [sid]) == 0
        assert one(su, "SELECT count(*) FROM app.session_events WHERE session_id = %s AND event_type = 'waiver_signed'",
                   [sid]) == 0
        error(api.post(f"/api/sessions/{sid}/join", headers=c), 409, "waiver_required")
        ok(api.post(f"/api/sessions/{sid}/waiver", headers=c, json={"signature": PNG, "agreed": True}))
        listed = ok(api.get("/api/appointments", headers=c))
        assert "data:image" not in str(listed), "the signature image is never in a list"


# ---------------------------------------------------------------------------- the no-show job, concurrently


def _race(*work: Any) -> list[Any]:
    barrier = threading.Barrier(len(work))
    out: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work[i]()
        except Exception as e:  # the outcome is what the test asserts on
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_no_show_job_twice_at_once_and_racing_a_signature_and_a_completion(
        database: ClonedDatabase, su: psycopg.Connection[Any]) -> None:
    start = dt.datetime(2031, 1, 7, 15, 0, tzinfo=dt.UTC)
    sessions = []
    for i in range(6):
        customer, mechanic = people(su)
        sessions.append((str(one(su, "SELECT tests.se_session(%s, %s, %s)",
                                 [customer, mechanic, start + dt.timedelta(minutes=i)])), customer, mechanic))
    signing, completing = sessions[0], sessions[1]
    job_time = start + dt.timedelta(minutes=30)

    def job() -> int:
        with api_connection(database) as conn, conn.transaction():
            become(conn, ADMIN, "admin")  # as pg_cron's owner would, through the same function
            conn.execute("SELECT set_config('autodoc.now', %s, true)", [job_time.isoformat()])
            return int(one(conn, "SELECT api.mark_no_shows()"))

    # A signature (just inside its window) and an admin completing an unsigned session both hold the
    # session when the two job runs start; the runs wait for them and then leave those two alone.
    started = threading.Event()
    release = threading.Event()

    def sign() -> str:
        with api_connection(database) as conn, conn.transaction():
            become(conn, signing[1], "customer")
            conn.execute("SELECT set_config('autodoc.now', %s, true)", [(start + dt.timedelta(minutes=14)).isoformat()])
            conn.execute("SELECT api.sign_waiver(%s, %s, true)", [signing[0], PNG])
            started.set()
            release.wait(30)
        return "signed"

    def complete() -> str:
        with api_connection(database) as conn, conn.transaction():
            become(conn, ADMIN, "admin")
            for status in ("pending", "active", "completed"):
                conn.execute("SELECT api.set_session_status(%s, %s)", [completing[0], status])
            started.wait(30)
            release.wait(30)
        return "completed"

    holders = [threading.Thread(target=f) for f in (sign, complete)]
    for t in holders:
        t.start()
    assert started.wait(30)
    timer = threading.Timer(1.0, release.set)  # both job runs are waiting on the held sessions by then
    timer.start()
    results = _race(job, job)
    for t in holders:
        t.join(60)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 4, results   # the four others, each by exactly one run
    reasons = {r["id"]: r["reason"] for r in rows(
        su, "SELECT id::text, coalesce(cancel_reason, status) AS reason FROM app.sessions WHERE id = ANY(%s::uuid[])",
        [[s for s, _, _ in sessions]])}
    assert reasons[signing[0]] == "scheduled" and reasons[completing[0]] == "completed"
    assert sorted(reasons[s] for s, _, _ in sessions[2:]) == ["no_show"] * 4
    assert one(su, "SELECT count(*) FROM app.session_events WHERE event_type = 'no_show'") == 4
    assert one(su, "SELECT count(*) FROM app.outbox WHERE payload ->> 'template' = 'no_show'") == 4
    assert one(su, "SELECT count(*) FROM app.live_events WHERE kind = 'session.cancelled' "
                   "AND payload ->> 'cancel_reason' = 'no_show'") == 4

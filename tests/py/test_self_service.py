# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""Self-service over REST: sign up as a customer (PUT /api/me/customer, idempotent even when two
submits race), apply to be a mechanic and be approved or rejected by an admin (emails through the
real worker and SMTP), export my data, delete my account."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import psycopg
from litestar.testing import TestClient
from psycopg.types.json import Jsonb

from api.auth import mint_token
from api.config import Settings
from tests.py.conftest import JWT_SECRET, ClonedDatabase
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    fx_settings,
    local_stripe,
    make_app,
    messages_to,
    one,
    run_worker_until_idle,
    smtp,
    su,
)


def person(user_id: str, email: str | None = None) -> dict[str, str]:
    """A signed-in person's token: no application role, the email verified by the provider."""
    return {"Authorization": f"Bearer {mint_token(JWT_SECRET, user_id, None, email=email)}"}


PROFILE = {"full_name": "Sam Signup", "timezone": "America/Vancouver", "phone": "+1 604 555 0101", "country": "CA",
           "state_province": "BC", "city": "Vancouver", "postal_code": "V6B 1A1"}


def test_sign_up_as_a_customer_then_edit(settings: Settings) -> None:
    sam = str(uuid.uuid4())
    h = person(sam, "sam@example.test")
    with TestClient(app=make_app(settings)) as client:
        assert client.get("/api/me", headers=h).json() == {"user_id": sam, "role": "anon", "db_role": "autodoc_anon"}
        assert client.get("/api/customer/profile", headers=h).status_code == 403, "no customer profile yet"
        first = client.put("/api/me/customer", json=PROFILE, headers=h)
        assert first.status_code == 200, first.text
        again = client.put("/api/me/customer", json=PROFILE, headers=h)
        assert again.json() == first.json(), "a double submit answers the same profile"
        assert first.json()["email"] == "sam@example.test" and first.json()["timezone"] == "America/Vancouver"
        assert client.get("/api/me", headers=h).json()["role"] == "customer"
        assert client.get("/api/customer/profile", headers=h).json() == first.json(), "one profile shape"
        r = client.put("/api/me/customer", json={"city": "Victoria", "phone": ""}, headers=h)
        assert (r.json()["city"], r.json()["phone"], r.json()["full_name"]) == ("Victoria", None, "Sam Signup")
        r = client.put("/api/me/customer", json={"full_name": "Sam", "email": "other@example.test"}, headers=h)
        assert (r.status_code, r.json()["detail"]["field"]) == (422, "email"), "the email is never taken from the body"
        r = client.put("/api/me/customer", json={"full_name": "Sam"})
        assert r.status_code == 401


def test_two_racing_submits_leave_one_profile(database: ClonedDatabase) -> None:
    """Two real connections of the API role start the same sign-up at once."""
    who = str(uuid.uuid4())
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def submit() -> None:
        with psycopg.connect(database.api_url) as conn, conn.transaction():
            conn.execute("SELECT app_private.begin_request(%s)", [Jsonb({"sub": who, "email": "race@example.test"})])
            barrier.wait()
            try:
                results.append(conn.execute("SELECT api.save_my_customer_profile('Rae Race')").fetchone())
            except psycopg.Error as e:
                results.append(e)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not isinstance(r, Exception) for r in results), results
    with psycopg.connect(database.superuser_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM app.users WHERE id = %s", [who]).fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM app.customers WHERE user_id = %s", [who]).fetchone() == (1,)


def test_apply_approve_and_reject_with_emails_to_both_sides(fx_settings: Settings, smtp: Any,
                                                          su: psycopg.Connection[Any]) -> None:
    admin = str(one(su, "SELECT tests.create_user('admin', 'boss@example.test', 'Bea Boss')"))
    admin_h = {"Authorization": f"Bearer {mint_token(JWT_SECRET, admin, 'admin')}"}
    pat, rex = str(uuid.uuid4()), str(uuid.uuid4())
    application = {"full_name": "Pat Piston", "bio": "Brakes and BMWs.", "specialties": ["brakes"],
                   "brand_specialist_brands": ["BMW"], "years_of_experience": 12, "certifications": ["ASE A5"],
                   "city": "Toronto", "country": "CA", "timezone": "America/Toronto"}
    with TestClient(app=make_app(fx_settings)) as client:
        r = client.post("/api/me/mechanic-application", json=application, headers=person(pat, "pat@example.test"))
        assert r.status_code == 201 and r.json()["status"] == "pending", r.text
        pat_app = r.json()["id"]
        r = client.post("/api/me/mechanic-application", json={"full_name": "Rex Rotor", "timezone": "Europe/London"},
                        headers=person(rex, "rex@example.test"))
        rex_app = r.json()["id"]
        assert [m["mechanic_id"] for m in client.get("/api/mechanics?search=Piston").json()["mechanics"]] == []
        r = client.get("/api/admin/mechanic-applications", headers=person(pat, "pat@example.test"))
        assert r.status_code == 403
        listed = client.get("/api/admin/mechanic-applications", headers=admin_h).json()["applications"]
        assert [a["full_name"] for a in listed] == ["Pat Piston", "Rex Rotor"]
        r = client.post(f"/api/admin/mechanic-applications/{pat_app}/approve", headers=admin_h)
        assert r.status_code == 200 and r.json()["status"] == "approved", r.text
        r = client.post(f"/api/admin/mechanic-applications/{rex_app}/reject", json={"reason": "Licence expired"},
                        headers=admin_h)
        assert r.json()["status"] == "rejected"
        r = client.post(f"/api/admin/mechanic-applications/{rex_app}/approve", headers=admin_h)
        assert (r.status_code, r.json()["code"]) == (409, "application_decided")
        assert client.get("/api/me", headers=person(pat, "pat@example.test")).json()["role"] == "mechanic"
        assert client.get("/api/mechanic/schedule", headers=person(pat, "pat@example.test")).status_code == 200
        found = client.get("/api/mechanics?search=Piston").json()["mechanics"]
        assert [m["mechanic_id"] for m in found] == [pat]
        assert client.get("/api/me/mechanic-application", headers=person(rex, "rex@example.test")).json()[
            "decision_reason"] == "Licence expired"
        assert len(client.get("/api/admin/mechanic-applications?status=all", headers=admin_h).json()[
            "applications"]) == 2
    run_worker_until_idle(fx_settings)
    subjects = lambda address: sorted(str(m["Subject"]) for m in messages_to(smtp, address))  # noqa: E731
    assert subjects("pat@example.test") == ["We received your application to work as a mechanic",
                                           "Welcome to AutoDoctor: your mechanic application is approved"]
    assert subjects("boss@example.test") == ["New mechanic application: Pat Piston",
                                            "New mechanic application: Rex Rotor"]
    rejected = [m for m in messages_to(smtp, "rex@example.test") if "Your AutoDoctor" in str(m["Subject"])]
    body = rejected[0].get_body(("plain",)) if len(rejected) == 1 else None
    assert body is not None and "Licence expired" in body.get_content()


def test_export_then_delete_my_account(settings: Settings, database: ClonedDatabase) -> None:
    kim = str(uuid.uuid4())
    h = person(kim, "kim@example.test")
    with TestClient(app=make_app(settings)) as client:
        assert client.put("/api/me/customer", json={**PROFILE, "full_name": "Kim Keep"}, headers=h).status_code == 200
        vehicle = client.post("/api/customer/vehicles", json={"make": "Honda", "model": "Fit"}, headers=h).json()["id"]
        with psycopg.connect(database.superuser_dsn) as conn:
            session = conn.execute("SELECT tests.se_session(%s, tests.se_mechanic(), now() + interval '3 days')",
                                   [kim]).fetchone()[0]  # type: ignore[index]
        r = client.get("/api/me/export", headers=h)
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        data = r.json()
        assert data["account"]["email"] == "kim@example.test" and data["vehicles"][0]["id"] == vehicle
        assert [s["id"] for s in data["sessions"]] == [str(session)]
        r = client.delete("/api/me", headers=h)
        assert (r.status_code, r.json()["code"]) == (409, "upcoming_bookings")
        assert [a["id"] for a in r.json()["detail"]["appointments"]] == [str(session)]
        with psycopg.connect(database.superuser_dsn) as conn:
            conn.execute("UPDATE app.sessions SET status = 'cancelled', cancel_reason = 'customer' WHERE id = %s",
                         [session])
        r = client.delete("/api/me", headers=h)
        assert r.status_code == 200 and r.json() == {"user_id": kim, "deleted": True}
        r = client.get("/api/me", headers=h)
        assert (r.status_code, r.json()["code"]) == (403, "account_deleted")
        assert client.put("/api/me/customer", json=PROFILE, headers=h).status_code == 403
    with psycopg.connect(database.superuser_dsn) as conn:
        row = conn.execute("SELECT email, full_name FROM app.users WHERE id = %s", [kim]).fetchone()
    assert row is not None and "kim" not in row[0] and row[1] == "Deleted customer"

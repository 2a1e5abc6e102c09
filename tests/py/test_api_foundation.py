"""API skeleton: JWT rejection cases, per-request identity in PostgreSQL, health, error mapping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import jwt
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.auth import mint_token
from api.config import Settings
from api.errors import translate
from tests.py.conftest import JWT_SECRET, ClonedDatabase

USER = "2b1c3d4e-0000-4000-8000-000000000001"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    with TestClient(app=create_app(settings)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def raw_token(claims: dict[str, Any], secret: str = JWT_SECRET) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 600, **claims}, secret, algorithm="HS256")


def test_a_valid_token_reaches_the_database_as_that_caller(client: TestClient[Any], database: ClonedDatabase) -> None:
    r = client.get("/api/me", headers=bearer(mint_token(JWT_SECRET, USER, "customer")))
    assert r.json() == {"user_id": USER, "role": "anon", "db_role": "autodoc_anon"}, "no users row: no profile yet"
    with database.connect() as conn:
        conn.execute("INSERT INTO app.users (id, email, full_name, role) "
                     "VALUES (%s, 'c@example.test', 'C', 'customer')", [USER])
    r = client.get("/api/me", headers=bearer(mint_token(JWT_SECRET, USER, "customer")))
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": USER, "role": "customer", "db_role": "autodoc_customer"}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(raw_token({"sub": USER, "role": "customer", "exp": int(time.time()) - 120}), id="expired"),
        pytest.param("not.a.jwt", id="malformed"),
        pytest.param(raw_token({"sub": USER, "role": "customer"}, secret="wrong-secret-" + "y" * 40),
                     id="wrong-signature"),
        pytest.param(raw_token({"sub": USER, "role": "superuser"}), id="unknown-role"),
        pytest.param(raw_token({"sub": USER, "role": "worker"}), id="internal-role"),
        pytest.param(raw_token({"role": "customer"}), id="no-subject"),
        pytest.param(raw_token({"sub": USER, "role": "customer"}).replace(".", ".x", 1), id="tampered"),
        pytest.param(jwt.encode({"sub": USER, "role": "admin", "exp": int(time.time()) + 60}, key="",
                                algorithm="none"), id="alg-none"),
    ],
)
def test_bad_tokens_get_401(client: TestClient[Any], token: str, request: pytest.FixtureRequest) -> None:
    r = client.get("/api/me", headers=bearer(token))
    assert r.status_code == 401
    # an expired (but genuine) token says so, so a client knows to refresh rather than sign in again
    expected = "token_expired" if request.node.callspec.id == "expired" else "invalid_token"
    assert r.json()["code"] == expected, r.json()


def test_no_token_gets_401_on_a_protected_path(client: TestClient[Any]) -> None:
    r = client.get("/api/me")
    assert r.status_code == 401
    assert r.json()["code"] == "unauthorized"
    assert set(r.json()) == {"code", "message", "detail"}


def test_an_expired_token_from_the_cli_is_token_expired(client: TestClient[Any], tmp_path: Any) -> None:
    """`autodoc token USER ROLE --hours -1` makes an expired token (it used to be a traceback)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import sys; from api.devtools.cli import main; sys.exit(main())",
                          "token", USER, "customer", "--hours", "-1"], capture_output=True, text=True, check=False,
                         env={**__import__("os").environ, "AUTODOC_JWT_SECRET": JWT_SECRET,
                              "AUTODOC_DATA_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    r = client.get("/api/me", headers=bearer(out.stdout.strip()))
    assert (r.status_code, r.json()["code"]) == (401, "token_expired")
    assert client.get("/api/me", headers=bearer(mint_token(JWT_SECRET, USER, "customer"))).status_code == 200


def test_health_reports_database_and_migration(client: TestClient[Any]) -> None:
    r = client.get("/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["database"] is True
    assert body["migration"].startswith("00")


def test_health_in_the_cron_database_lists_pg_cron_jobs(pg_cluster: Any, settings: Settings) -> None:
    cluster, password = pg_cluster
    cron_settings = replace(settings, database_url=cluster.tcp_url("autodoc_api", password, "autodoc_test"))
    with TestClient(app=create_app(cron_settings)) as c:
        body = c.get("/health").json()
    assert body["pg_cron"]["installed"] is True
    assert all(job["name"].startswith("autodoc-") for job in body["pg_cron"]["jobs"])


def test_health_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    dead = replace(settings, database_url="postgresql://autodoc_api:x@127.0.0.1:1/autodoc")
    with TestClient(app=create_app(dead)) as c:
        r = c.get("/health")
    assert r.status_code == 503
    assert r.json()["database"] is False


def test_business_errors_map_to_code_message_detail(database: ClonedDatabase) -> None:
    with database.connect() as conn:
        try:
            conn.execute("""SELECT app_private.raise_error(409, 'duplicate_booking', 'ignored: catalogued code',
                                                            '{"id": 1}'::jsonb)""")
        except Exception as e:
            status, body = translate(e)  # type: ignore[arg-type]
    assert status == 409
    assert body == {"code": "duplicate_booking", "detail": {"id": 1},
                    "message": "You already have an upcoming appointment; reschedule it instead"}


def test_permission_denied_maps_to_403(database: ClonedDatabase) -> None:
    with database.connect() as conn:
        conn.execute("SET ROLE autodoc_customer")
        try:
            conn.execute("UPDATE app.users SET full_name = 'x'")
        except Exception as e:
            status, body = translate(e)  # type: ignore[arg-type]
    assert (status, body["code"]) == (403, "forbidden")

"""Fuzzing the running API from its own OpenAPI document (schemathesis), for every role.

Every operation gets generated requests, valid and invalid, as anonymous, customer, mechanic and
admin, over real HTTP against a real database; each response must: not be a 5xx, have a status the
document declares, the content type it declares, and a body that matches the declared schema
(success bodies their named schema, errors the `Error` schema). Deterministic (derandomized), so a
failure reproduces.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import hypothesis
import psycopg
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.auth import mint_token
from api.config import Settings
from api.devtools.cluster import free_port
from tests.py.conftest import JWT_SECRET, ClonedDatabase, clone_database, drop_database
from tests.py.side_effect_fixtures import wait_until

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("AUTODOC_FUZZ_EXAMPLES", "6"))


@dataclass
class Server:
    base_url: str
    schema: Any
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def server(template_db: ClonedDatabase) -> Iterator[Server]:
    db = clone_database(template_db, f"fuzz_{os.getpid()}")
    try:
        with psycopg.connect(db.superuser_dsn, autocommit=True) as su:
            users = su.execute("""SELECT tests.create_customer() AS customer,
                                         tests.create_workshop_mechanic() AS mechanic,
                                         tests.create_admin() AS admin""").fetchone()
            assert users is not None
            su.execute("SELECT tests.create_vehicle(%s)", [users[0]])
        settings = replace(Settings.from_env(), database_url=db.api_url, jwt_secret=JWT_SECRET,
                           stripe_webhook_secret="whsec_fuzz")  # unsigned fuzz bodies: 400, not 503
        app = create_app(settings)
        port = free_port()
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: uv.started, what="the API to start")
            tokens = {role: mint_token(JWT_SECRET, str(user), role)
                      for role, user in zip(("customer", "mechanic", "admin"), users, strict=True)}
            yield Server(f"http://127.0.0.1:{port}", schemathesis.openapi.from_dict(app.openapi_schema.to_schema()),
                         tokens)
        finally:
            uv.should_exit = True
            thread.join(10)
    finally:
        drop_database(db)


STREAM = "text/event-stream"


def _streams(server: Server, operation: Any) -> bool:
    """An operation whose success body is an endless stream (GET /api/events): a generated request
    would wait for its end forever, so test_the_event_stream_answers_as_documented covers it."""
    method, path = operation.label.split(" ", 1)
    responses = server.schema.raw_schema["paths"][path][method.lower()]["responses"]
    return any(STREAM in (r.get("content") or {}) for r in responses.values())


def _operations(server: Server) -> list[Any]:
    return [op for op in (result.ok() for result in server.schema.get_all_operations()) if not _streams(server, op)]


@pytest.mark.parametrize("role", ["anon", "customer", "mechanic", "admin"])
def test_every_response_matches_the_openapi_document(server: Server, role: str) -> None:
    headers = {"Authorization": f"Bearer {server.tokens[role]}"} if role in server.tokens else {}
    operations = _operations(server)
    assert len(operations) >= 46
    calls = 0
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                                 suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(base_url=server.base_url, headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                # nothing of this operation can be made invalid (no parameters, no body): nothing to send
                assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
    print(f"role={role} operations={len(operations)} requests={calls}")


def test_the_event_stream_answers_as_documented(server: Server) -> None:
    """GET /api/events, the one streaming operation: its errors match the document (schemathesis's
    checks), and a signed-in caller gets the declared text/event-stream."""
    [events] = [r.ok() for r in server.schema.get_all_operations() if r.ok().label == "GET /api/events"]
    assert _streams(server, events)
    anon = events.Case(headers={})
    assert anon.call_and_validate(base_url=server.base_url, checks=CHECKS).status_code == 401
    for token in server.tokens.values():
        bad = events.Case(headers={"Authorization": f"Bearer {token}", "Last-Event-ID": "twelve"})
        response = bad.call_and_validate(base_url=server.base_url, checks=CHECKS)
        assert response.status_code == 422 and response.json()["detail"]["field"] == "Last-Event-ID"
        with httpx.stream("GET", f"{server.base_url}/api/events", timeout=10,
                          headers={"Authorization": f"Bearer {token}"}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith(STREAM)
            assert next(stream.iter_lines()).startswith(":")   # the stream's opening comment

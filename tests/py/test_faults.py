# ruff: noqa: F811  (pytest fixtures imported from side_effect_fixtures are redefined as arguments)
"""The fault suite (issue 15): faults injected one at a time under a small load, and what clients,
operators and the data see. Real parts only: a PostgreSQL cluster of this module's own (stopped and
started for real), the API as a uvicorn process, the worker as a process under the `make run`
supervisor, localstripe behind its persistent idempotency-key layer, SMTP and Stripe servers that
accept connections and never answer.

Figures (outage → first success, reclaim after a crash, ...) are printed and written to
.data/fault-figures.json; docs/operations.md quotes them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from api.config import DATA_DIR, PROJECT_ROOT, Settings
from api.devtools import migrate
from api.devtools.cluster import Cluster, free_port
from api.devtools.cluster import test_cluster as throwaway_cluster
from api.devtools.devrun import Child, Supervisor
from api.devtools.local_services import LocalStripe, wait_for_port
from api.devtools.testrun import load_test_helpers
from api.effects import Job
from api.effects.stripe_effects import StripeEffects
from tests.py.booking_fixtures import ADMIN, World, local
from tests.py.conftest import JWT_SECRET, ClonedDatabase
from tests.py.side_effect_fixtures import (  # noqa: F401 (fixtures)
    WorkerThread,
    bearer,
    fx_settings,
    local_stripe,
    one,
    run_worker_until_idle,
    smtp,
    su,
    wait_until,
    worker_env,
)
from tests.py.test_email import _reminder_payload

FIGURES: dict[str, Any] = {}
FIGURES_FILE = DATA_DIR / "fault-figures.json"


def _figure(name: str, value: Any, capsys: pytest.CaptureFixture[str]) -> None:
    FIGURES[name] = value
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(FIGURES_FILE.read_text()) if FIGURES_FILE.exists() else {}
    FIGURES_FILE.write_text(json.dumps({**current, **FIGURES}, indent=2, sort_keys=True) + "\n")
    with capsys.disabled():
        print(f"\n    fault figure {name}: {json.dumps(value)}", flush=True)


class Staller:
    """A TCP server that accepts connections and never says a word (a stalled SMTP or Stripe)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.fixture
def staller() -> Iterator[Staller]:
    s = Staller()
    try:
        yield s
    finally:
        s.close()


# -------------------------------------------------------------------------- the database goes away


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[tuple[Cluster, ClonedDatabase]]:
    """A cluster of this module's own: the test stops and starts it, nobody else is on it."""
    cluster = throwaway_cluster("autodoc_faults")
    password = secrets.token_urlsafe(16)
    cluster.start()
    try:
        migrate.bootstrap(cluster, "autodoc_faults", password)
        migrate.migrate(cluster, "autodoc_faults")
        load_test_helpers(cluster.superuser_dsn("autodoc_faults"))
        yield cluster, ClonedDatabase(cluster, "autodoc_faults", password)
    finally:
        cluster.destroy()


def _api_process(db: ClonedDatabase, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTODOC_")}
    env.update(AUTODOC_DATABASE_URL=db.api_url, AUTODOC_JWT_SECRET=JWT_SECRET, AUTODOC_DB_POOL_TIMEOUT="5",
               AUTODOC_DATA_DIR=str(log.parent), PYTHONUNBUFFERED="1")
    with open(log, "wb") as out:  # a file, not a pipe: nobody reads while the load runs
        proc = subprocess.Popen([sys.executable, "-m", "api.devtools.cli", "serve", "--port", str(port)],
                                cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_for_port("127.0.0.1", port, 30)
    return proc


@dataclass
class Outcome:
    customer: str
    started: float
    ended: float
    status: int
    code: str | None = None
    session_id: str | None = None
    retry_after: str | None = None


@dataclass
class BookingLoad:
    """Clients booking distinct (customer, mechanic slot) pairs until told to stop: every request
    should succeed unless the database is the problem."""

    base_url: str
    work: list[tuple[str, str, str]]  # (customer id, mechanic id, start instant)
    clients: int = 4
    pause: float = 0.1
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            while not self._stop.is_set():
                with self._lock:
                    if not self.work:
                        return
                    customer, mechanic, start = self.work.pop()
                body = {"type": "video", "plan": "standard", "concern": "Noise when braking", "is_advice_only": True,
                        "scheduled_for": start, "mechanic_id": mechanic}
                t0 = time.monotonic()
                r = http.post("/api/scheduling/create-appointment", json=body, headers=bearer(customer, "customer"))
                payload = r.json()
                outcome = Outcome(customer, t0, time.monotonic(), r.status_code, payload.get("code"),
                                  payload.get("id") if r.status_code < 300 else None, r.headers.get("retry-after"))
                with self._lock:
                    self.outcomes.append(outcome)
                self._stop.wait(self.pause)

    def __enter__(self) -> BookingLoad:
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(60)

    def successes_after(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.status < 300 and o.ended >= moment]


def _prepare_bookings(world: World, n: int) -> list[tuple[str, str, str]]:
    mechanics = [world.mechanic(name=f"Mechanic {i}") for i in range(3)]
    with psycopg.connect(world.db.superuser_dsn, row_factory=dict_row) as conn, conn.transaction():
        conn.execute("SELECT tests.authenticate_as(%s, 'admin')", [ADMIN])
        customers = [str(conn.execute("SELECT api.create_customer(p_email => %s, p_full_name => 'Load Customer') AS id",
                                      [f"load-{i}-{secrets.token_hex(4)}@example.test"]).fetchone()["id"])  # type: ignore[index]
                     for i in range(n)]
    today = dt.datetime.now(dt.UTC).date()
    slots = [(m, local(today + dt.timedelta(days=d), h, mm).isoformat())
             for d in range(2, 25) for h in range(9, 18) for mm in (0, 30) for m in mechanics]
    # Weekday hours only where the mechanic works: the default window (09:00-18:00) every day.
    return [(c, m, s) for c, (m, s) in zip(customers, slots, strict=False)]


def _sessions_of(db: ClonedDatabase, customers: list[str]) -> dict[str, str]:
    with psycopg.connect(db.superuser_dsn) as conn:
        rows = conn.execute("SELECT customer_id::text, id::text FROM app.sessions WHERE customer_id = ANY(%s::uuid[])",
                            [customers]).fetchall()
    return {c: s for c, s in rows}


def test_database_restart_and_outage_answer_503_and_lose_nothing(own_cluster: tuple[Cluster, ClonedDatabase],
                                                                 tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A fast restart, then a 15 s stop, under four booking clients: only 201 or 503 (with
    Retry-After), every acknowledged booking is there, none is there that got a definite error,
    and the first success comes ≤ 1 s after the database accepts connections again."""
    cluster, db = own_cluster
    work = _prepare_bookings(World(db), 700)
    port = free_port()
    api = _api_process(db, port, tmp_path / "api.log")
    try:
        with BookingLoad(f"http://127.0.0.1:{port}", list(work)) as load:
            wait_until(lambda: len(load.successes_after(0)) >= 20, 30, "bookings before the faults")
            # 1. fast restart (pg_ctl -m fast: every session terminated, then straight back)
            cluster.stop()
            cluster.start()
            back_1 = time.monotonic()
            wait_until(lambda: load.successes_after(back_1), 10, "a booking after the restart")
            wait_until(lambda: len(load.successes_after(back_1)) >= 20, 30, "bookings after the restart")
            # 2. the database is down for 15 s
            down_2 = time.monotonic()  # the shutdown begins (requests in flight now may fail)
            cluster.stop()
            time.sleep(15)  # the outage itself (real time: it is what is being survived)
            cluster.start()
            back_2 = time.monotonic()
            wait_until(lambda: load.successes_after(back_2), 10, "a booking after the outage")
            wait_until(lambda: len(load.successes_after(back_2)) >= 10, 30, "bookings after the outage")
    finally:
        api.terminate()
        api.wait(30)
    out = (tmp_path / "api.log").read_bytes()
    outcomes = load.outcomes
    statuses = sorted({o.status for o in outcomes})
    assert set(statuses) <= {201, 503}, f"only 201 or 503, got {statuses}: {out.decode(errors='replace')[-3000:]}"
    unavailable = [o for o in outcomes if o.status == 503]
    assert unavailable, "the outage was seen"
    assert all(o.retry_after and o.code in ("database_unavailable", "outcome_unknown") for o in unavailable)
    present = _sessions_of(db, [o.customer for o in outcomes])
    acknowledged = [o for o in outcomes if o.status == 201]
    assert all(present.get(o.customer) == o.session_id for o in acknowledged), "every acknowledged booking is there"
    definite = [o for o in unavailable if o.code == "database_unavailable"]
    assert not [o for o in definite if o.customer in present], "no booking exists that got a definite error"
    # No request that started once the database was back failed (stale pooled connections are replaced).
    lost = "\n".join(line for line in out.decode(errors="replace").splitlines() if "unavailable" in line)
    assert not [o for o in unavailable if o.started > back_1 + 0.05 and o.ended < down_2], \
        f"a stale pooled connection failed a request after the restart:\n{lost}"
    assert not [o for o in unavailable if o.started > back_2 + 0.05], "a request failed after the outage"
    first_1 = min(o.ended for o in load.successes_after(back_1)) - back_1
    first_2 = min(o.ended for o in load.successes_after(back_2)) - back_2
    assert first_1 <= 1.0 and first_2 <= 1.0, (first_1, first_2)
    waits = [o.ended - o.started for o in unavailable if o.code == "database_unavailable" and o.started > down_2]
    during_restart = [o for o in unavailable if o.ended < down_2]
    assert waits and max(waits) <= 5.5, "waiting for a connection is bounded by AUTODOC_DB_POOL_TIMEOUT (5 s)"
    _figure("database_outage", {
        "requests": len(outcomes), "acknowledged": len(acknowledged),
        "database_unavailable": len(definite), "outcome_unknown": len(unavailable) - len(definite),
        "503_during_fast_restart": len(during_restart),
        "other_statuses": [s for s in statuses if s not in (201, 503)],
        "first_success_after_fast_restart_s": round(first_1, 3),
        "first_success_after_15s_outage_s": round(first_2, 3),
        "longest_wait_for_a_503_s": round(max(waits), 3)}, capsys)


# ------------------------------------------------------- a lost connection before or during COMMIT


def _terminate_trigger(db: ClonedDatabase, when: str) -> None:
    """Make the database drop the connection of a booking whose concern says so: BEFORE INSERT (the
    statement fails, nothing is committed) or at COMMIT (a deferred constraint trigger)."""
    with psycopg.connect(db.superuser_dsn, autocommit=True) as conn:
        conn.execute("""
            CREATE OR REPLACE FUNCTION public.fault_terminate() RETURNS trigger LANGUAGE plpgsql
            SECURITY DEFINER SET search_path = '' AS $$
            BEGIN
              IF NEW.concern = 'drop the connection' THEN
                PERFORM pg_terminate_backend(pg_backend_pid());
              END IF;
              RETURN NEW;
            END $$""")
        conn.execute("DROP TRIGGER IF EXISTS zz_fault_terminate ON app.sessions")
        if when == "statement":
            conn.execute("CREATE TRIGGER zz_fault_terminate BEFORE INSERT ON app.sessions "
                         "FOR EACH ROW EXECUTE FUNCTION public.fault_terminate()")
        else:
            conn.execute("CREATE CONSTRAINT TRIGGER zz_fault_terminate AFTER INSERT ON app.sessions "
                         "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.fault_terminate()")


@pytest.mark.parametrize(("when", "code"), [("statement", "database_unavailable"), ("commit", "outcome_unknown")])
def test_a_connection_lost_before_or_during_commit_says_which(when: str, code: str, database: ClonedDatabase,
                                                              settings: Settings) -> None:
    from litestar.testing import TestClient

    from api.app import create_app

    world = World(database)
    mechanic = world.mechanic()
    customer, _ = world.customer(vehicle=False)
    _terminate_trigger(database, when)
    start = local(dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3), 10).isoformat()
    body = {"type": "video", "plan": "standard", "concern": "drop the connection", "is_advice_only": True,
            "scheduled_for": start, "mechanic_id": mechanic}
    with TestClient(app=create_app(settings)) as client:
        r = client.post("/api/scheduling/create-appointment", json=body, headers=bearer(customer, "customer"))
        assert r.status_code == 503, r.text
        assert r.json()["code"] == code and r.headers["retry-after"] == "1"
        # The pool replaced the dropped connection: the next request works.
        assert client.get("/api/appointments", headers=bearer(customer, "customer")).status_code == 200
    assert world.one("SELECT count(*) FROM app.sessions WHERE customer_id = %s", [customer]) == 0, \
        "terminated before the commit completed: nothing was saved (the client was told to check)"


# ------------------------------------------------------------------------- one slow dependency


def _bookings(su: psycopg.Connection[Any], n: int) -> list[str]:
    return [str(one(su, "SELECT tests.se_booking(now() + make_interval(days => 3, hours => %s))", [i]))
            for i in range(n)]


def _done(su: psycopg.Connection[Any], kind: str) -> tuple[int, int]:
    row = su.execute("SELECT count(*) FILTER (WHERE status = 'done')::int AS done, count(*)::int AS n "
                     "FROM app.outbox WHERE kind = %s", [kind]).fetchone()
    assert row is not None
    return row["done"], row["n"]


def test_a_stalled_smtp_server_never_delays_a_charge(fx_settings: Settings, su: psycopg.Connection[Any],
                                                     staller: Staller, capsys: pytest.CaptureFixture[str]) -> None:
    _bookings(su, 6)
    settings = replace(fx_settings, smtp_port=staller.port, smtp_timeout_seconds=3)
    t0 = time.monotonic()
    with WorkerThread(settings, "lanes-smtp-stalled"):
        wait_until(lambda: _done(su, "stripe.charge") == (6, 6), 10, "every charge")
        charges_s = time.monotonic() - t0
        assert _done(su, "email.send")[0] == 0, "meanwhile the SMTP server answers nothing"
        wait_until(lambda: len(staller.held) >= 4, 5, "the email lane to be stuck in its four connections")
    assert charges_s < 3, "the charges did not wait for one SMTP timeout"
    _figure("smtp_stalled", {"charges": 6, "all_charged_after_s": round(charges_s, 3), "emails_sent": 0,
                             "smtp_timeout_s": 3}, capsys)


def test_a_stalled_stripe_never_delays_an_email(fx_settings: Settings, su: psycopg.Connection[Any],
                                                staller: Staller, smtp: Any,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _bookings(su, 3)
    emails = _done(su, "email.send")[1]
    settings = replace(fx_settings, stripe_api_base=f"http://127.0.0.1:{staller.port}", stripe_timeout_seconds=3)
    t0 = time.monotonic()
    with WorkerThread(settings, "lanes-stripe-stalled"):
        wait_until(lambda: _done(su, "email.send") == (emails, emails), 10, "every email")
        emails_s = time.monotonic() - t0
        assert _done(su, "stripe.charge")[0] == 0, "meanwhile Stripe answers nothing"
    assert emails_s < 3 and len(smtp.messages) == emails
    failed = one(su, "SELECT count(*) FROM app.outbox WHERE kind = 'stripe.charge' AND last_error LIKE '%Timeout%'")
    _figure("stripe_stalled", {"emails": emails, "all_sent_after_s": round(emails_s, 3), "charges_done": 0,
                               "charge_attempts_timed_out": failed, "stripe_timeout_s": 3}, capsys)


# ------------------------------------------------------------- the worker dies; so does local Stripe


def test_a_killed_worker_is_restarted_by_the_supervisor_and_reclaims_at_once(
        fx_settings: Settings, su: psycopg.Connection[Any], staller: Staller,
        capsys: pytest.CaptureFixture[str]) -> None:
    su.execute("SELECT app_private.outbox_enqueue('email.send', 'faults:stuck', %s)", [_reminder_payload()])
    settings = replace(fx_settings, smtp_port=staller.port, worker_lease_seconds=60)
    env = worker_env(settings, AUTODOC_SMTP_TIMEOUT_SECONDS="60", AUTODOC_WORKER_HEARTBEAT_SECONDS="3")
    lines: list[str] = []
    child = Child("worker", [sys.executable, "-m", "api.worker", "--worker-id", "supervised"], env,
                  log=lines.append)
    supervisor = Supervisor([child])
    supervisor.start_all()
    running = threading.Event()

    def supervise() -> None:
        while not running.is_set():
            supervisor.check()
            running.wait(0.05)

    thread = threading.Thread(target=supervise, daemon=True)
    thread.start()
    try:
        wait_until(lambda: one(su, "SELECT locked_by = 'supervised' AND status = 'running' FROM app.outbox "
                                   "WHERE idempotency_key = 'faults:stuck'"), 20, "the email in flight")
        assert child.proc is not None and child.restarts == 0, lines
        first_pid = child.proc.pid
        killed = time.monotonic()
        os.kill(first_pid, signal.SIGKILL)
        wait_until(lambda: child.restarts == 1, 10, "the supervisor to restart the worker")
        restarted = child.started_at
        wait_until(lambda: one(su, "SELECT last_error LIKE '%restarted during the attempt%' FROM app.outbox "
                                   "WHERE idempotency_key = 'faults:stuck'"), 10, "the dead claim to be taken back")
        reclaimed = time.monotonic()
    finally:
        running.set()
        thread.join(5)
        supervisor.stop_all()
    assert child.proc is not None and child.proc.pid != first_pid
    assert any("worker was killed by SIGKILL; restarting it alone" in line for line in lines), lines
    assert reclaimed - restarted <= 5.0, "the restarted worker took its claim back at once, not after the lease"
    _figure("worker_sigkill", {"restarted_after_s": round(restarted - killed, 3),
                               "claim_taken_back_after_restart_s": round(reclaimed - restarted, 3),
                               "lease_s": 60}, capsys)


def test_a_dead_worker_stops_counting_within_one_heartbeat_period(fx_settings: Settings,
                                                                   su: psycopg.Connection[Any]) -> None:
    period = 2.0
    proc = subprocess.Popen([sys.executable, "-m", "api.worker", "--worker-id", "mortal"], cwd=PROJECT_ROOT,
                            env=worker_env(fx_settings, AUTODOC_WORKER_HEARTBEAT_SECONDS=str(period)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: one(su, "SELECT api.outbox_health()")["workers_alive"] == 1, 20, "a live worker")
        time.sleep(period)  # let it beat a few times (liveness must hold between beats)
        assert one(su, "SELECT api.outbox_health()")["workers_alive"] == 1
        proc.kill()
        killed = time.monotonic()
        wait_until(lambda: one(su, "SELECT api.outbox_health()")["workers_alive"] == 0, 10, "the dead worker to go")
        assert time.monotonic() - killed <= period + 0.5
    finally:
        proc.kill()
        proc.wait()


def _stripe_process(port: int, state: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "api.devtools.local_services", "stripe", "--port", str(port),
                             "--state-dir", str(state), "--no-webhook"], cwd=PROJECT_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port("127.0.0.1", port, 20)
    return proc


def _intents_at(url: str, payment_id: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/v1/payment_intents", params={"limit": 100},
                  headers={"Authorization": "Bearer sk_test_local"})
    return [pi for pi in r.json()["data"] if (pi.get("metadata") or {}).get("payment_id") == payment_id]


@pytest.mark.parametrize("keys_kept", [True, False])
def test_local_stripe_restarted_between_the_call_and_the_write_back_charges_once(
        keys_kept: bool, fx_settings: Settings, su: psycopg.Connection[Any], tmp_path: Path) -> None:
    session_id = str(one(su, "SELECT tests.se_booking()"))
    payment_id = str(one(su, "SELECT id FROM app.scheduled_payments WHERE session_id = %s", [session_id]))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = replace(fx_settings, stripe_api_base=url)
    stripe = _stripe_process(port, tmp_path / "stripe")
    try:
        # The worker claims the charge and calls Stripe ... and dies before writing the result back.
        with psycopg.connect(settings.database_url, autocommit=True, row_factory=dict_row) as conn:
            conn.execute("SET ROLE autodoc_worker")
            [row] = conn.execute("SELECT * FROM api.outbox_claim('restarting', 10, 60, ARRAY['stripe'])").fetchall()
        job = Job(id=row["id"], kind=row["kind"], idempotency_key=row["idempotency_key"], payload=row["payload"])
        first = StripeEffects(settings).charge(settings, job)
        # ... and local Stripe is restarted with it (the control: its keys are not kept).
        stripe.terminate()
        stripe.wait(10)
        if not keys_kept:
            (tmp_path / "stripe" / "idempotency-keys.sqlite3").unlink()
        stripe = _stripe_process(port, tmp_path / "stripe")
        run_worker_until_idle(settings, "restarting")  # same worker id: takes its claim back at once
        intents = _intents_at(url, payment_id)
    finally:
        stripe.terminate()
        stripe.wait(10)
    payment = su.execute("SELECT status, payment_intent_id FROM app.scheduled_payments WHERE id = %s",
                         [payment_id]).fetchone()
    assert payment is not None and payment["status"] == "succeeded"
    if keys_kept:
        assert [pi["id"] for pi in intents] == [first["payment_intent_id"]], "one PaymentIntent, the first one"
        assert payment["payment_intent_id"] == first["payment_intent_id"]
    else:
        assert len(intents) == 2, "negative control: a local Stripe that forgot its keys charges twice"


def test_a_dropped_webhook_is_settled_by_the_pending_state_job(fx_settings: Settings, su: psycopg.Connection[Any],
                                                               local_stripe: LocalStripe) -> None:
    settings = replace(fx_settings, stripe_test_payment_method="")  # the customer confirms in the browser
    session_id = str(one(su, "SELECT tests.se_booking()"))
    run_worker_until_idle(settings, "sync-worker")
    payment = su.execute("SELECT id, status, payment_intent_id FROM app.scheduled_payments WHERE session_id = %s",
                         [session_id]).fetchone()
    assert payment is not None and payment["status"] == "pending" and payment["payment_intent_id"]
    import stripe

    customer_side = stripe.StripeClient("sk_test_local", base_addresses={"api": local_stripe.url})
    customer_side.v1.payment_intents.update(payment["payment_intent_id"], {"payment_method": "pm_card_visa"})
    assert customer_side.v1.payment_intents.confirm(payment["payment_intent_id"]).status == "succeeded"
    # The webhook never arrives (nothing delivers it to this database). 16 minutes later the job runs:
    assert one(su, "SELECT api.stripe_sync_pending()") == 0, "not before the threshold"
    with su.transaction():
        su.execute("SELECT set_config('autodoc.now', (now() + interval '16 minutes')::text, true)")
        assert one(su, "SELECT api.stripe_sync_pending()") == 1
    run_worker_until_idle(settings, "sync-worker")
    after = su.execute("SELECT status FROM app.scheduled_payments WHERE id = %s", [payment["id"]]).fetchone()
    assert after is not None and after["status"] == "succeeded", "settled from what Stripe said"
    assert one(su, "SELECT outcome FROM app.stripe_events WHERE id LIKE 'sync:%%'") == "payment_succeeded"


# ------------------------------------------------------------------------------------- health


def test_health_says_degraded_with_reasons_and_503_only_without_the_database(settings: Settings,
                                                                             su: psycopg.Connection[Any]) -> None:
    from litestar.testing import TestClient

    from api.app import create_app

    with TestClient(app=create_app(settings)) as client:
        body = client.get("/health").json()
        assert (body["status"], body["reasons"]) == ("degraded", ["no_live_worker"]), "no worker has started"
        su.execute("SELECT api.worker_heartbeat('alive', NULL, false, 60)")
        assert client.get("/health").json()["status"] == "ok"
        su.execute("INSERT INTO app.outbox (kind, idempotency_key, run_after) VALUES "
                   "('noop', 'health:late', now() - interval '10 minutes'), ('noop', 'health:dead', now())")
        su.execute("UPDATE app.outbox SET status = 'dead' WHERE idempotency_key = 'health:dead'")
        r = client.get("/health")
        assert r.status_code == 200 and r.json()["reasons"] == ["outbox_backlog", "dead_letters"]
        assert r.json()["outbox"]["oldest_due_age_seconds"] >= 600

"""`autodoc dev` (make run): the whole system in the foreground with readable, prefixed logs.

Order: database (start, migrate, demo data) → local Stripe → local SMTP → local identity provider's
JWKS (unless AUTODOC_JWKS_URL names a real one) → API → worker.
The processes are supervised: one that dies (a crash, a SIGKILL) is restarted alone, after a
backoff that doubles from 0.5 s up to 30 s (reset once it has run for a minute), with a log line
saying what happened; PostgreSQL is watched the same way. Nothing else is touched. Ctrl-C (or
SIGTERM) stops them in reverse order, then the database, and leaves nothing behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from api.config import PROJECT_ROOT, Settings, env, record_run
from api.devtools import migrate
from api.devtools.cluster import Cluster, dev_cluster
from api.devtools.secrets import LOCAL_JWKS_PORT, api_password, ensure_local_key, ensure_local_secrets


def _pump(name: str, stream: IO[bytes]) -> None:
    for raw in iter(stream.readline, b""):
        sys.stdout.write(f"[{name:>7}] {raw.decode(errors='replace')}")
        sys.stdout.flush()


def _spawn(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own, so the terminal's Ctrl-C reaches only us and we stop children in order.
    proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    assert proc.stdout is not None
    threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()
    return proc


RESTART_FIRST, RESTART_MAX, HEALTHY_AFTER = 0.5, 30.0, 60.0


def _exit_text(code: int) -> str:
    if code < 0:
        with_name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return f"was killed by {with_name}"
    return f"exited with status {code}"


@dataclass
class Child:
    """One supervised process: how to start it, and its restart state."""

    name: str
    args: list[str]
    env: dict[str, str]
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    delay: float = RESTART_FIRST
    restart_at: float | None = None
    log: Callable[[str], None] = field(default=lambda line: print(line, flush=True))

    def start(self) -> None:
        self.proc = _spawn(self.name, self.args, self.env)
        self.started_at = time.monotonic()
        self.restart_at = None


class Supervisor:
    """Starts children in order and keeps them running: a child that exits while we are not
    stopping is restarted alone after its backoff. `check()` is one supervision round."""

    def __init__(self, children: list[Child], watch_database: Cluster | None = None) -> None:
        self.children = children
        self.cluster = watch_database
        self._db_delay = RESTART_FIRST
        self._db_check_at = 0.0

    def start_all(self) -> None:
        for child in self.children:
            child.start()
            if child.port and child.proc is not None:
                _wait_for_port(child.port, child.proc, child.name)

    def check(self) -> None:
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if proc is None:
                continue
            if child.restart_at is None and proc.poll() is not None:
                if now - child.started_at >= HEALTHY_AFTER:
                    child.delay = RESTART_FIRST  # it had been running fine: a fresh crash, a fresh backoff
                child.restart_at = now + child.delay
                child.log(f"==> {child.name} {_exit_text(proc.returncode)}; restarting it alone in {child.delay:.1f}s "
                          f"(restart #{child.restarts + 1})")
                child.delay = min(child.delay * 2, RESTART_MAX)
            elif child.restart_at is not None and now >= child.restart_at:
                child.start()
                child.restarts += 1
                child.log(f"==> {child.name} restarted (pid {child.proc.pid if child.proc else '?'})")
        if self.cluster is not None and now >= self._db_check_at:
            self._db_check_at = now + 2.0
            if not self.cluster.running():
                print(f"==> PostgreSQL is not running; starting it again (next check in {self._db_delay:.1f}s if "
                      "that fails)", flush=True)
                try:
                    self.cluster.start()
                    print("==> PostgreSQL restarted", flush=True)
                    self._db_delay = RESTART_FIRST
                except RuntimeError as e:
                    print(f"==> PostgreSQL did not start: {e}", flush=True)
                    self._db_check_at = now + self._db_delay
                    self._db_delay = min(self._db_delay * 2, RESTART_MAX)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            proc = child.proc
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            print(f"    {child.name} stopped", flush=True)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], name: str, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not open 127.0.0.1:{port} within {timeout:.0f}s")


def run_dev() -> int:
    ensure_local_secrets()
    cluster = dev_cluster()
    print(f"==> PostgreSQL (data: {cluster.home}, port {cluster.port})", flush=True)
    try:
        cluster.start()
        record_run(AUTODOC_DB_PORT=cluster.port)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    supervisor: Supervisor | None = None
    stopping = threading.Event()

    def stop(*_: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        migrate.bootstrap(cluster, "autodoc", api_password())
        applied = migrate.migrate(cluster, "autodoc")
        print(f"==> migrations: {applied or 'up to date'}", flush=True)
        subprocess.run([sys.executable, "-m", "api.devtools.cli", "seed", "--demo"], check=True, cwd=PROJECT_ROOT)

        settings = Settings.from_env()
        child_env = dict(os.environ, PYTHONUNBUFFERED="1")
        stripe_port = int(settings.stripe_api_base.rsplit(":", 1)[1])
        api_port = int(env("AUTODOC_API_PORT", "8000"))
        mail_dir = Path(settings.mail_dir)
        mail_dir.mkdir(parents=True, exist_ok=True)
        # Every later command (the CLI in another shell, the walkthrough) finds the system here.
        record_run(AUTODOC_API_PORT=api_port, AUTODOC_SMTP_PORT=settings.smtp_port,
                   AUTODOC_STRIPE_API_BASE=settings.stripe_api_base)
        py = sys.executable
        children: list[Child] = []
        if not os.environ.get("AUTODOC_JWKS_URL"):
            # The local identity provider: ES256 tokens from `autodoc token`, verified through a
            # JWKS like a real provider's; HS256 with the local secret keeps working beside it.
            ensure_local_key()
            jwks_port = int(env("AUTODOC_JWKS_PORT", str(LOCAL_JWKS_PORT)))
            jwks_url = f"http://127.0.0.1:{jwks_port}/.well-known/jwks.json"
            algorithms = os.environ.get("AUTODOC_JWT_ALGORITHMS") or "HS256,ES256"
            child_env.update(AUTODOC_JWKS_URL=jwks_url, AUTODOC_JWT_ALGORITHMS=algorithms)
            record_run(AUTODOC_JWKS_URL=jwks_url, AUTODOC_JWT_ALGORITHMS=algorithms)
            children.append(Child("jwks", [py, "-m", "api.devtools.local_services", "jwks", "--port", str(jwks_port)],
                                  child_env, jwks_port))
        children += [
            Child("stripe", [py, "-m", "api.devtools.local_services", "stripe", "--port", str(stripe_port)],
                  child_env, stripe_port),
            Child("smtp", [py, "-m", "api.devtools.local_services", "smtp", "--port", str(settings.smtp_port),
                           "--maildir", str(mail_dir)], child_env, settings.smtp_port),
            Child("api", [py, "-m", "api.devtools.cli", "serve", "--port", str(api_port)], child_env, api_port),
            Child("worker", [py, "-m", "api.devtools.cli", "worker"], child_env),
        ]
        supervisor = Supervisor(children, watch_database=cluster)
        supervisor.start_all()
        _wait_for_worker(cluster)  # "running" includes the worker: /health says ok, not no_live_worker
        _banner(cluster, api_port, settings)
        while not stopping.is_set():
            supervisor.check()
            stopping.wait(0.2)
    finally:
        print("\n==> stopping", flush=True)
        if supervisor is not None:
            supervisor.stop_all()
        cluster.stop()
        print("    PostgreSQL stopped", flush=True)
    return 0


def _wait_for_worker(cluster: Cluster, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(cluster.owner_dsn("autodoc"), autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT (api.outbox_health() ->> 'workers_alive')::int").fetchone()
            if row and row[0]:
                return
            time.sleep(0.1)
    print("==> warning: no worker heartbeat yet (see the [ worker] lines)", flush=True)


def _demo_users(cluster: Cluster) -> str:
    with psycopg.connect(cluster.owner_dsn("autodoc")) as conn:
        rows = conn.execute("SELECT role, id, email FROM app.users ORDER BY role, email LIMIT 12").fetchall()
    return "\n".join(f"{role:<9} {uid}  {email}" for role, uid, email in rows) or "(none)"


def _banner(cluster: Cluster, api_port: int, settings: Settings) -> None:
    db_port = cluster.port
    users = _demo_users(cluster)
    print(f"""
==> AutoDoctor is running (Ctrl-C stops everything)
    API            http://127.0.0.1:{api_port}
    OpenAPI docs   http://127.0.0.1:{api_port}/schema  (Swagger UI: /schema/swagger)
    health         curl http://127.0.0.1:{api_port}/health
    database       postgresql://autodoc_api:***@127.0.0.1:{db_port}/autodoc  (password: .data/secrets.env)
                   psql as a role: .venv/bin/autodoc db psql --role customer --user <uuid>
    Stripe (local) {settings.stripe_api_base}
    SMTP (local)   127.0.0.1:{settings.smtp_port}, every message saved in {settings.mail_dir}/
    token          .venv/bin/autodoc token <user-uuid> customer|mechanic|admin  (ES256, local JWKS; --hs256)
    frontend       {settings.app_url} (email links; CORS allows {", ".join(settings.cors_origins)})
    walkthrough    docs/walkthrough.md (ports recorded in .data/run.env: `.venv/bin/autodoc where`)
    users (role, id, email)
{_indent(users, 7)}
""", flush=True)


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())

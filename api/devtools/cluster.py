"""An embedded PostgreSQL cluster owned by the project (local runs and throwaway test clusters).

PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres` OS user
and its data lives under /var/lib/postgresql (a project folder inside a 0700 home would not be
reachable by that user); `.data/pg` then is a symlink to it. Clients connect as superuser over the
Unix socket in the cluster folder (trust: the folder is private to the server's user and root) and
everyone else over TCP on 127.0.0.1 with a password.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.config import DATA_DIR, PROJECT_ROOT, env

PG_BIN = Path(os.environ.get("AUTODOC_PG_BIN", "/usr/lib/postgresql/15/bin"))
IS_ROOT = os.geteuid() == 0


_ports_given: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now and not handed out before by this process: the kernel may offer
    a port again as soon as the probing socket closes, so two services asked for in a row (the local
    run's API and SMTP server) could otherwise be given the same one."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if IS_ROOT else cmd


def _server_run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    # cwd "/": the server's OS user may not be allowed into the caller's directory (a 0700 checkout).
    return subprocess.run(_as_server_user(cmd), cwd="/", **kw)


def cluster_home(name: str) -> Path:
    """Where a named cluster of this checkout lives (see the module docstring for why)."""
    if not IS_ROOT:
        return DATA_DIR / name
    # One cluster per data folder: a run with its own AUTODOC_DATA_DIR (the walkthrough test) never
    # shares the checkout's cluster. The default folder keeps its historical tag.
    owner = PROJECT_ROOT if DATA_DIR == PROJECT_ROOT / ".data" else DATA_DIR
    tag = hashlib.sha1(str(owner).encode()).hexdigest()[:10]
    return Path("/var/lib/postgresql/autodoc") / f"{name}-{tag}"


@dataclass
class Cluster:
    home: Path  # holds pg/ (the data directory), the socket and postgres.log
    port: int
    cron_database: str
    fast_unsafe: bool = False  # throwaway test clusters trade durability for speed
    # Settings written after the defaults (e.g. the bench's pg_stat_statements preload); init() only.
    extra_settings: dict[str, str] = field(default_factory=dict)

    @property
    def datadir(self) -> Path:
        return self.home / "pg"

    @property
    def logfile(self) -> Path:
        return self.home / "postgres.log"

    def superuser_dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.home} port={self.port} user=postgres dbname={dbname}"

    def owner_dsn(self, dbname: str) -> str:
        return f"host={self.home} port={self.port} user=autodoc_owner dbname={dbname}"

    def tcp_url(self, user: str, password: str, dbname: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def initialized(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.chmod(0o700)
        if IS_ROOT:
            shutil.chown(self.home, "postgres", "postgres")
        _server_run([str(PG_BIN / "initdb"), "-D", str(self.datadir), "-U", "postgres", "-E", "UTF8",
                     "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"],
                    check=True, stdout=subprocess.DEVNULL)
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.home}'",
            "shared_preload_libraries": "'pg_cron'",
            "cron.database_name": f"'{self.cron_database}'",
            # Jobs run in background workers: no libpq self-connection, no pg_hba or password.
            "cron.use_background_workers": "on",
            "max_worker_processes": "32",
            "max_connections": "200",
            "timezone": "'UTC'",
            "log_timezone": "'UTC'",
            "log_min_messages": "warning",
        }
        if self.fast_unsafe:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        settings |= self.extra_settings
        conf = "".join(f"{k} = {v}\n" for k, v in settings.items())
        with open(self.datadir / "postgresql.conf", "a") as f:
            f.write("\n# autodoc\n" + conf)

    def running(self) -> bool:
        if not self.initialized():
            return False
        r = _server_run([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "status"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def running_port(self) -> int | None:
        """The port of the running server, from postmaster.pid (its fourth line)."""
        try:
            return int((self.datadir / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return None

    def start(self) -> None:
        if not self.initialized():
            self.init()
        if self.running():
            actual = self.running_port()
            if actual is not None and actual != self.port:
                raise RuntimeError(f"PostgreSQL of {self.home} is already running on port {actual}, not {self.port}: "
                                   f"use AUTODOC_DB_PORT={actual}, or stop it first (.venv/bin/autodoc db stop)")
            return
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # fail only on a listener, not TIME_WAIT
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                raise RuntimeError(f"127.0.0.1:{self.port} is already in use by another program: "
                                   "choose a free port with AUTODOC_DB_PORT=<port>") from None
        # -p: the port asked for now wins over the one written into postgresql.conf by init().
        r = _server_run([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                         "-o", f"-p {self.port}", "-w", "-t", "60", "start"], stdout=subprocess.DEVNULL)
        if r.returncode != 0:
            tail = self.logfile.read_text()[-3000:] if self.logfile.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start (port {self.port}); log:\n{tail}")

    def stop(self) -> None:
        if self.running():
            _server_run([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"],
                        check=True, stdout=subprocess.DEVNULL)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def link_data_dir(link: Path, home: Path) -> None:
    """Make `link` (`.data/pg`) a symlink to the cluster folder `home`. A link whose target was deleted
    (or that points elsewhere, e.g. the checkout moved) is replaced, with a line saying so; a real
    directory in its place is left alone (not ours to remove)."""
    if link.is_symlink():
        target = Path(os.readlink(link))
        if target == home:
            return
        why = "no longer exists" if not link.exists() else "is another cluster's folder"
        print(f"autodoc: {link} pointed at {target}, which {why}; relinking it to {home}", flush=True)
        link.unlink()
    elif link.exists():
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(home, target_is_directory=True)


def dev_cluster() -> Cluster:
    """The long-lived local cluster of `make run` (data kept between runs)."""
    home = cluster_home("dev")
    if IS_ROOT:
        link_data_dir(DATA_DIR / "pg", home)
    # AUTODOC_DB_PORT, else the port the last `make run` / `autodoc db start` recorded, else 54329.
    port = int(env("AUTODOC_DB_PORT", "54329"))
    return Cluster(home=home, port=port, cron_database="autodoc")


def test_cluster(cron_database: str = "autodoc_test", extra_settings: dict[str, str] | None = None) -> Cluster:
    """A throwaway cluster on a free port; the caller destroys it."""
    tag = f"test-{os.getpid()}-{free_port()}"
    home = Path("/var/lib/postgresql/autodoc") / tag if IS_ROOT else DATA_DIR / tag
    return Cluster(home=home, port=free_port(), cron_database=cron_database, fast_unsafe=True,
                   extra_settings=extra_settings or {})

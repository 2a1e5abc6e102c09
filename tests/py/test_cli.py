"""The CLI finds the local system without port variables: `make run` / `autodoc db start` record
where it listens in .data/run.env, and every command reads it (the environment still wins). When
the database is not there, the CLI says which port it tried, where that port came from, and what to
do — no traceback. (The walkthrough test proves the happy path against a real `make run`.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from api.config import PROJECT_ROOT


def autodoc(data: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AUTODOC_") or k == "AUTODOC_PG_BIN"}
    return subprocess.run([sys.executable, "-m", "api.devtools.cli", *args], cwd=PROJECT_ROOT, text=True,
                          capture_output=True, timeout=60, env={**clean, "AUTODOC_DATA_DIR": str(data), **env})


def test_commands_read_the_recorded_ports_and_the_environment_wins(tmp_path: Path) -> None:
    data = tmp_path / ".data"
    data.mkdir()
    (data / "run.env").write_text("AUTODOC_API_PORT=8123\nAUTODOC_DB_PORT=55123\n")
    assert autodoc(data, "where", "api").stdout.strip() == "http://127.0.0.1:8123"
    assert autodoc(data, "where", "db").stdout.strip() == "postgresql://autodoc_api@127.0.0.1:55123/autodoc"
    assert autodoc(data, "where", "api", AUTODOC_API_PORT="9000").stdout.strip() == "http://127.0.0.1:9000"
    assert autodoc(data, "where", "app").stdout.strip() == "http://localhost:3000"
    assert autodoc(data, "where", "mail").stdout.strip() == str(data / "mail")
    assert ":55123/autodoc" in autodoc(data, "db", "url").stdout, "the API's database URL uses the recorded port"


def test_no_running_database_is_a_clear_message_naming_the_port(tmp_path: Path) -> None:
    # (a fresh data folder per command: a second command in a never-started folder meets the
    # dangling .data/pg link that the platform work fixes in api/devtools/cluster.py)
    data = tmp_path / "a" / ".data"
    data.mkdir(parents=True)
    (data / "run.env").write_text("AUTODOC_DB_PORT=55124\n")
    r = autodoc(data, "db", "psql", "-c", "SELECT 1")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "PostgreSQL is not running (tried port 55124, recorded in" in r.stderr and "run.env" in r.stderr, r.stderr
    assert "make run" in r.stderr
    r = autodoc(tmp_path / "b" / ".data", "seed", "--demo", AUTODOC_DB_PORT="55125")
    assert r.returncode == 1 and "tried port 55125, AUTODOC_DB_PORT" in r.stderr, r.stderr
    r = autodoc(tmp_path / "c" / ".data", "db", "psql")
    assert r.returncode == 1 and "tried port 54329, the default" in r.stderr, r.stderr


def test_mail_says_when_there_is_none(tmp_path: Path) -> None:
    data = tmp_path / ".data"
    (data / "mail").mkdir(parents=True)
    r = autodoc(data, "mail", "--to", "nobody@example.test")
    assert r.returncode == 1 and "no email to nobody@example.test" in r.stderr, r.stderr

"""`autodoc test` (make test): linters, then pgTAP and pytest against a throwaway cluster.

The cluster lives only for the run: initdb on a free port, pg_cron pointed at the pgTAP database
(`autodoc_test`, so one test can prove the schedules exist in cron.job), the project migrated into
it, then pg_prove. pytest reuses the same cluster (see tests/py/conftest.py): it builds a migrated
template database once and clones it per test.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg

from api.config import PROJECT_ROOT
from api.devtools import migrate
from api.devtools.cluster import test_cluster

VENV_BIN = Path(sys.executable).parent
SQL_TESTS = PROJECT_ROOT / "tests" / "sql"
TEST_DB = "autodoc_test"


def _run(title: str, cmd: list[str], env: dict[str, str] | None = None) -> bool:
    print(f"\n==> {title}", flush=True)
    return subprocess.call(cmd, cwd=PROJECT_ROOT, env=env) == 0


def run_linters() -> int:
    migrations = sorted(str(p) for p in (PROJECT_ROOT / "db" / "migrations").glob("*.sql")
                        if not p.name.endswith(".rollback.sql"))
    ok = [
        _run("ruff", [str(VENV_BIN / "ruff"), "check", "api", "tests", "bench", "docker"]),
        _run("mypy (strict) api/", [str(VENV_BIN / "mypy")]),
        _run("squawk db/migrations", [str(VENV_BIN / "squawk"), "--config", ".squawk.toml", *migrations]),
    ]
    return 0 if all(ok) else 1


def load_test_helpers(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        for f in sorted((SQL_TESTS / "setup").glob("*.sql")):
            conn.execute(f.read_text().encode())


def run_tests(pytest_args: list[str]) -> int:
    results: dict[str, bool] = {"lint": run_linters() == 0}
    cluster = test_cluster(TEST_DB)
    try:
        print(f"\n==> throwaway PostgreSQL cluster on 127.0.0.1:{cluster.port} ({cluster.home})", flush=True)
        cluster.start()
        api_password = secrets.token_urlsafe(16)
        migrate.bootstrap(cluster, TEST_DB, api_password, with_pgtap=True)
        migrate.migrate(cluster, TEST_DB)
        load_test_helpers(cluster.superuser_dsn(TEST_DB))
        files = sorted(str(p.relative_to(PROJECT_ROOT)) for p in SQL_TESTS.glob("*.sql"))
        results["pgtap"] = _run("pgTAP (pg_prove)", ["pg_prove", "--failures", "-h", str(cluster.home), "-p",
                                                    str(cluster.port), "-U", "postgres", "-d", TEST_DB, *files])
        env = dict(os.environ, AUTODOC_TEST_PG_HOME=str(cluster.home), AUTODOC_TEST_PG_PORT=str(cluster.port),
                   AUTODOC_TEST_API_PASSWORD=api_password)
        results["pytest"] = _run("pytest", [str(VENV_BIN / "pytest"), *pytest_args], env=env)
    finally:
        cluster.destroy()
    print("\nsummary: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in results.items()))
    return 0 if all(results.values()) else 1

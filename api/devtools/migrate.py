"""Database setup and migrations (sqitch discipline on yoyo).

- `bootstrap()`: cluster roles and a database owned by `autodoc_owner`, with its extensions.
- `migrate()`: numbered yoyo migrations (tables change only there), then every idempotent file
  in db/functions, db/triggers, db/policies and — in the pg_cron database only — db/jobs,
  re-applied in one transaction so the database always matches the repository.
- `dump_schema()`: the normalized schema the migrations alone produce (db/schema/schema.sql).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from api.devtools.cluster import PG_BIN, Cluster

__all__ = ["PG_BIN", "bootstrap", "migrate", "rollback"]
from api.config import PROJECT_ROOT

DB_DIR = PROJECT_ROOT / "db"
MIGRATIONS_DIR = DB_DIR / "migrations"
SCHEMA_FILE = DB_DIR / "schema" / "schema.sql"
IDEMPOTENT_DIRS = ("functions", "triggers", "policies")
PROJECT_SCHEMAS = ("app", "app_private", "api")


def bootstrap(cluster: Cluster, dbname: str, api_password: str, *, with_pgtap: bool = False) -> None:
    """Roles, the database and its extensions: the steps that need a superuser. Idempotent."""
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute((DB_DIR / "bootstrap.sql").read_text())
        conn.execute(sql.SQL("ALTER ROLE autodoc_api PASSWORD {}").format(sql.Literal(api_password)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER autodoc_owner").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO autodoc_api").format(sql.Identifier(dbname)))
    with psycopg.connect(cluster.superuser_dsn(dbname), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        if with_pgtap:  # test databases only: the test frameworks
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgtap")
            conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
        if dbname == cluster.cron_database:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
            # Jobs are scheduled by, and run as, the owner (pg_cron's documented non-superuser setup).
            conn.execute("GRANT USAGE ON SCHEMA cron TO autodoc_owner")


@contextmanager
def _backend(cluster: Cluster, dbname: str) -> Iterator[Any]:
    url = (f"postgresql+psycopg://autodoc_owner@/{quote(dbname)}"
           f"?host={quote(str(cluster.home))}&port={cluster.port}")
    backend = get_backend(url)
    try:
        yield backend
    finally:
        backend.connection.close()  # an open connection would block CREATE DATABASE ... TEMPLATE


def apply_migrations(cluster: Cluster, dbname: str, db_dir: Path = DB_DIR) -> list[str]:
    """Apply pending numbered migrations (of `db_dir`: another version's tree in tests); returns their ids."""
    with _backend(cluster, dbname) as backend, backend.lock():
        pending = backend.to_apply(read_migrations(str(db_dir / "migrations")))
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def rollback(cluster: Cluster, dbname: str, count: int = 1) -> list[str]:
    """Roll back the last `count` applied migrations (all of them with count <= 0).

    A rollback drops the tables of the migrations it undoes and every function, trigger, policy and
    job that only those migrations' versions of the code create. The functions the older version
    shares with this one keep this version's bodies until that version's files are re-applied: run
    `autodoc db migrate` from the older checkout (it applies nothing and re-applies its files).
    """
    with _backend(cluster, dbname) as backend, backend.lock():
        todo = backend.to_rollback(read_migrations(str(MIGRATIONS_DIR)))
        todo = todo if count <= 0 else todo[:count]
        backend.rollback_migrations(todo)
    return [m.id for m in todo]


def idempotent_files(dbname: str, cluster: Cluster, db_dir: Path = DB_DIR) -> list[Path]:
    dirs = list(IDEMPOTENT_DIRS) + (["jobs"] if dbname == cluster.cron_database else [])
    return [f for d in dirs for f in sorted((db_dir / d).glob("*.sql"))]


def reapply(cluster: Cluster, dbname: str, db_dir: Path = DB_DIR) -> None:
    """Re-create every function, trigger, policy (and cron job) from the repository, atomically."""
    with psycopg.connect(cluster.owner_dsn(dbname)) as conn:
        for f in idempotent_files(dbname, cluster, db_dir):
            try:
                conn.execute(f.read_text().encode())
            except psycopg.Error as e:
                raise RuntimeError(f"{f.relative_to(db_dir.parent)}: {e}") from e


def migrate(cluster: Cluster, dbname: str, db_dir: Path = DB_DIR) -> list[str]:
    applied = apply_migrations(cluster, dbname, db_dir)
    reapply(cluster, dbname, db_dir)
    return applied


def current_version(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(
        "SELECT migration_id FROM public._yoyo_migration ORDER BY applied_at_utc DESC, migration_id DESC LIMIT 1"
    ).fetchone()
    return str(row[0]) if row else None


def schema_dump(cluster: Cluster, dbname: str, *, privileges: bool = False) -> str:
    """pg_dump --schema-only of the project schemas, normalized so two equal states compare equal."""
    cmd = [str(PG_BIN / "pg_dump"), "--schema-only", "--no-owner", "-h", str(cluster.home), "-p",
           str(cluster.port), "-U", "postgres", "-d", dbname]
    if not privileges:
        cmd.append("--no-privileges")
    for s in PROJECT_SCHEMAS:
        cmd += ["-n", s]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [ln for ln in out.splitlines()
             if ln.strip() and not ln.startswith("--")
             and not re.match(r"^SET |^SELECT pg_catalog\.set_config|^\\(un)?restrict ", ln)]
    return "\n".join(lines) + "\n"


SCHEMA_HEADER = ("-- GENERATED by `make schema` (autodoc db dump-schema) from db/migrations: the declarative\n"
                 "-- current state of tables, types, constraints and indexes. Edit migrations, not this file.\n"
                 "-- Functions, triggers, policies and jobs live in db/functions, db/triggers, db/policies, db/jobs.\n")


def migrations_only_dump(cluster: Cluster, scratch_db: str, api_password: str) -> str:
    """The schema produced by the numbered migrations alone, in a fresh scratch database."""
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch_db)))
    bootstrap(cluster, scratch_db, api_password)
    try:
        apply_migrations(cluster, scratch_db)
        return SCHEMA_HEADER + schema_dump(cluster, scratch_db)
    finally:
        with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch_db)))

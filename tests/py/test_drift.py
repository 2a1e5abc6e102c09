"""Drift: every function, trigger, policy and cron job of a migrated database comes from a file of
the repository (a migration or an idempotent file), and the idempotent files hold no tombstones
(a DROP of something no file creates any more: that belongs in a migration).

Together with test_migration_versions.py's upgrade test (a database that lived through every
version equals a fresh one), this means no database carries an object the code does not know.
"""

from __future__ import annotations

import re

import psycopg

from api.devtools import migrate
from api.devtools.cluster import Cluster
from tests.py.conftest import CRON_DB, fresh_database
from tests.py.sql_objects import (
    CRON_JOB,
    FUNCTION,
    POLICY,
    TRIGGER,
    declared,
    idempotent_files,
    migration_files,
    tombstones,
    without_comments,
)

CATALOG = {
    "functions": """
        SELECT n.nspname, p.proname, oidvectortypes(p.proargtypes)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(%(s)s)""",
    "triggers": """
        SELECT n.nspname, c.relname, t.tgname
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND n.nspname = ANY(%(s)s)""",
    "policies": "SELECT schemaname, tablename, policyname FROM pg_policies WHERE schemaname = ANY(%(s)s)",
    "cron_jobs": "SELECT jobname FROM cron.job WHERE database = current_database()",
}


def test_every_object_of_a_migrated_database_comes_from_a_file(cron_cluster: tuple[Cluster, str]) -> None:
    cluster, password = cron_cluster
    fresh_database(cluster, password)
    migrate.migrate(cluster, CRON_DB)
    with psycopg.connect(cluster.superuser_dsn(CRON_DB)) as conn:
        files = declared(conn, migration_files() + idempotent_files())
        orphans = []
        for kind, query in CATALOG.items():
            rows = conn.execute(query, {"s": list(migrate.PROJECT_SCHEMAS)}).fetchall()
            in_db = {r[0] if kind == "cron_jobs" else tuple(r) for r in rows}
            assert in_db, f"the migrated database has {kind}"
            orphans += [f"{kind}: {o}" for o in sorted(in_db - getattr(files, kind), key=repr)]
    assert not orphans, "in the database but declared by no file:\n" + "\n".join(orphans)


def test_the_file_reader_misses_no_statement() -> None:
    """A guard for the test above: every CREATE the plain text holds is one the reader parsed."""
    for f in migration_files() + idempotent_files():
        text = without_comments(f.read_text())
        for keyword, pattern in [("FUNCTION", FUNCTION), ("TRIGGER", TRIGGER), ("POLICY", POLICY)]:
            plain = len(re.findall(rf"\bCREATE\s+(?:OR\s+REPLACE\s+|CONSTRAINT\s+)?{keyword}\b", text, re.I))
            assert len(pattern.findall(text)) == plain, f"{f.name}: {keyword} statements the reader does not parse"
        assert len(CRON_JOB.findall(text)) == text.count("cron.schedule("), f"{f.name}: cron.schedule calls"


def test_idempotent_files_hold_no_tombstones() -> None:
    found = tombstones(idempotent_files())
    assert not found, ("idempotent files drop objects no file creates any more; drop them in a "
                       "migration instead (docs/migrations.md):\n" + "\n".join(found))

"""Migrations: from zero equals the declarative schema; apply → rollback → apply round-trips;
a second migrate changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from api.devtools import migrate
from api.devtools.cluster import Cluster


@pytest.fixture
def empty_db(pg_cluster: tuple[Cluster, str]) -> Iterator[tuple[Cluster, str]]:
    cluster, password = pg_cluster
    name = "t_migrations"
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    migrate.bootstrap(cluster, name, password)
    yield cluster, name
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_migrations_from_zero_equal_the_declarative_schema(empty_db: tuple[Cluster, str]) -> None:
    cluster, name = empty_db
    migrate.apply_migrations(cluster, name)
    produced = migrate.SCHEMA_HEADER + migrate.schema_dump(cluster, name)
    assert produced == migrate.SCHEMA_FILE.read_text(), "db/schema/schema.sql is stale: run `make schema`"


def test_apply_rollback_apply_round_trips(empty_db: tuple[Cluster, str]) -> None:
    cluster, name = empty_db
    applied = migrate.migrate(cluster, name)
    assert applied, "there are migrations to apply"
    first = migrate.schema_dump(cluster, name, privileges=True)

    rolled_back = migrate.rollback(cluster, name, count=0)
    assert sorted(rolled_back) == sorted(applied)
    with psycopg.connect(cluster.owner_dsn(name)) as conn:
        left = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)",
                            [list(migrate.PROJECT_SCHEMAS)]).fetchall()
    assert left == [], "rolling back everything leaves no project schema behind"

    assert migrate.migrate(cluster, name) == applied
    assert migrate.schema_dump(cluster, name, privileges=True) == first


def test_each_migration_rolls_back_and_reapplies(empty_db: tuple[Cluster, str]) -> None:
    cluster, name = empty_db
    applied = migrate.migrate(cluster, name)
    full = migrate.schema_dump(cluster, name, privileges=True)
    for _ in applied[1:]:
        migrate.rollback(cluster, name, count=1)
    migrate.migrate(cluster, name)
    assert migrate.schema_dump(cluster, name, privileges=True) == full


def test_second_migrate_changes_nothing(empty_db: tuple[Cluster, str]) -> None:
    cluster, name = empty_db
    migrate.migrate(cluster, name)
    before = migrate.schema_dump(cluster, name, privileges=True)
    assert migrate.migrate(cluster, name) == []
    assert migrate.schema_dump(cluster, name, privileges=True) == before
    with psycopg.connect(cluster.owner_dsn(name)) as conn:
        assert migrate.current_version(conn) == sorted(p.stem for p in migrate.MIGRATIONS_DIR.glob("*.sql")
                                                       if not p.name.endswith(".rollback.sql"))[-1]

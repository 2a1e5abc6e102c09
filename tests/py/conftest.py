"""pytest fixtures: a real PostgreSQL cluster, a migrated template database, one clone per test.

Under `make test` the cluster comes from the environment (AUTODOC_TEST_PG_*); run pytest on its own
and a throwaway cluster is started for the session.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from api.config import Settings
from api.devtools import migrate
from api.devtools.cluster import Cluster, test_cluster
from api.devtools.testrun import load_test_helpers

TEMPLATE = "autodoc_template"
JWT_SECRET = "test-secret-" + "x" * 40
_counter = itertools.count()


@dataclass
class ClonedDatabase:
    cluster: Cluster
    name: str
    api_password: str

    @property
    def superuser_dsn(self) -> str:
        return self.cluster.superuser_dsn(self.name)

    @property
    def owner_dsn(self) -> str:
        return self.cluster.owner_dsn(self.name)

    @property
    def api_url(self) -> str:
        return self.cluster.tcp_url("autodoc_api", self.api_password, self.name)

    def connect(self, **kw: object) -> psycopg.Connection:  # superuser, for arranging and asserting
        return psycopg.connect(self.superuser_dsn, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[tuple[Cluster, str]]:
    home, port = os.environ.get("AUTODOC_TEST_PG_HOME"), os.environ.get("AUTODOC_TEST_PG_PORT")
    if home and port:
        yield Cluster(home=Path(home), port=int(port), cron_database="autodoc_test"), \
            os.environ["AUTODOC_TEST_API_PASSWORD"]
        return
    cluster = test_cluster("autodoc_test")
    cluster.start()
    try:
        yield cluster, secrets.token_urlsafe(16)
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def template_db(pg_cluster: tuple[Cluster, str]) -> ClonedDatabase:
    cluster, password = pg_cluster
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE)))
    migrate.bootstrap(cluster, TEMPLATE, password)
    migrate.migrate(cluster, TEMPLATE)
    load_test_helpers(cluster.superuser_dsn(TEMPLATE))
    return ClonedDatabase(cluster, TEMPLATE, password)


def clone_database(template: ClonedDatabase, name: str) -> ClonedDatabase:
    with psycopg.connect(template.cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {} OWNER autodoc_owner").format(
            sql.Identifier(name), sql.Identifier(template.name)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO autodoc_api").format(sql.Identifier(name)))
    return replace(template, name=name)


def drop_database(db: ClonedDatabase) -> None:
    with psycopg.connect(db.cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db.name)))


@pytest.fixture
def database(template_db: ClonedDatabase) -> Iterator[ClonedDatabase]:
    """A fresh, migrated database of its own for one test."""
    db = clone_database(template_db, f"t_{os.getpid()}_{next(_counter)}")
    try:
        yield db
    finally:
        drop_database(db)


CRON_DB = "t_cron"


@pytest.fixture(scope="session")
def cron_cluster() -> Iterator[tuple[Cluster, str]]:
    """A cluster of its own whose pg_cron database is CRON_DB, for tests that rebuild that database
    from scratch (migration history, drift): cron jobs can only be scheduled there."""
    cluster = test_cluster(CRON_DB)
    cluster.start()
    try:
        yield cluster, secrets.token_urlsafe(16)
    finally:
        cluster.destroy()


def fresh_database(cluster: Cluster, password: str) -> None:
    """CRON_DB dropped and bootstrapped again: roles, extensions, no migration."""
    with psycopg.connect(cluster.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(CRON_DB)))
    migrate.bootstrap(cluster, CRON_DB, password)


@pytest.fixture
def settings(database: ClonedDatabase) -> Settings:
    return replace(Settings.from_env(), database_url=database.api_url, jwt_secret=JWT_SECRET)

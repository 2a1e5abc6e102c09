"""Every rollback restores the previous version exactly, and /health answers at every version.

For each migration N+1: a fresh database at the newest version, rolled back to N (the rollback
files of this checkout), then version N's idempotent files re-applied (what deploying version N's
code and running `autodoc db migrate` does) must equal a fresh database migrated by version N's
own tree — tables, columns, indexes, constraints, functions (arguments, bodies), policies,
triggers, cron jobs and privileges (see tests/py/catalog.py; versions: tests/py/db_versions.py).

These run on a cluster of their own whose pg_cron database is the database under test (the
`cron_cluster` fixture), so the cron jobs of every version are compared too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.config import Settings
from api.devtools import migrate
from api.devtools.cluster import Cluster
from tests.py.catalog import differences, snapshot
from tests.py.conftest import CRON_DB as DB
from tests.py.conftest import JWT_SECRET, fresh_database
from tests.py.db_versions import Version, migration_ids, versions

VERSIONS = versions()


def health(cluster: Cluster, password: str) -> dict[str, Any]:
    settings = replace(Settings.from_env(), database_url=cluster.tcp_url("autodoc_api", password, DB),
                       jwt_secret=JWT_SECRET)
    with TestClient(app=create_app(settings)) as client:
        r = client.get("/health")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize("previous", VERSIONS[:-1], ids=lambda v: v.migration)
def test_rollback_restores_the_previous_version(cron_cluster: tuple[Cluster, str], previous: Version,
                                               tmp_path: Path) -> None:
    cluster, password = cron_cluster
    old_db = previous.db_dir(tmp_path)

    fresh_database(cluster, password)
    migrate.migrate(cluster, DB, old_db)
    expected = snapshot(cluster.superuser_dsn(DB))
    assert health(cluster, password)["migration"] == previous.migration

    fresh_database(cluster, password)
    migrate.migrate(cluster, DB)
    later = migration_ids()[migration_ids().index(previous.migration) + 1:]
    assert migrate.rollback(cluster, DB, count=len(later)) == later[::-1]
    migrate.reapply(cluster, DB, old_db)
    diff = differences(expected, snapshot(cluster.superuser_dsn(DB)))
    assert not diff, (f"rolling back {', '.join(later)} and re-applying the files of {previous.commit} does not "
                      f"give version {previous.migration}:\n" + "\n".join(diff))
    body = health(cluster, password)
    assert body["migration"] == previous.migration
    assert body["pg_cron"]["installed"] is True


def test_health_answers_at_the_newest_version(cron_cluster: tuple[Cluster, str]) -> None:
    cluster, password = cron_cluster
    fresh_database(cluster, password)
    migrate.migrate(cluster, DB)
    body = health(cluster, password)
    assert body["migration"] == VERSIONS[-1].migration
    assert body["pg_cron"]["jobs"], "the newest version schedules its jobs"


def test_rolling_back_everything_leaves_what_bootstrap_made(cron_cluster: tuple[Cluster, str]) -> None:
    cluster, password = cron_cluster
    fresh_database(cluster, password)
    expected = snapshot(cluster.superuser_dsn(DB))
    migrate.migrate(cluster, DB)
    migrate.rollback(cluster, DB, count=0)
    diff = differences(expected, snapshot(cluster.superuser_dsn(DB)))
    assert not diff, "rolling back every migration leaves:\n" + "\n".join(diff)


def test_upgrading_through_every_version_equals_a_fresh_migrate(cron_cluster: tuple[Cluster, str],
                                                                 tmp_path: Path) -> None:
    """A database that lived through every version (as production did) has nothing a fresh one lacks:
    objects a version stopped creating were dropped by a migration, not left behind."""
    cluster, password = cron_cluster
    fresh_database(cluster, password)
    migrate.migrate(cluster, DB)
    expected = snapshot(cluster.superuser_dsn(DB))

    fresh_database(cluster, password)
    for version in VERSIONS:
        migrate.migrate(cluster, DB, version.db_dir(tmp_path))
    diff = differences(expected, snapshot(cluster.superuser_dsn(DB)))
    assert not diff, "upgrading version by version differs from a fresh migrate:\n" + "\n".join(diff)

"""plpgsql_check over every PL/pgSQL function of the project: no error, and every warning (other,
extra, performance, security, compatibility) either fixed or allowed with a reason in
tests/plpgsql_check_allow.txt. An allowed warning that no longer occurs fails too, so the list
stays true.

Trigger functions are checked once per trigger that uses them, with that trigger's relation and
transition tables (NEW/OLD have that table's row type); a trigger function no trigger uses yet
cannot be checked and fails the test. The check runs in a pg_cron database (cron_cluster), since
some functions read cron's tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.config import PROJECT_ROOT
from api.devtools import migrate
from api.devtools.cluster import Cluster
from tests.py.conftest import CRON_DB, fresh_database

ALLOW_FILE = PROJECT_ROOT / "tests" / "plpgsql_check_allow.txt"

CHECK = """
WITH checked AS (
  SELECT p.oid::regprocedure AS fn, n.nspname || '.' || p.proname AS name,
         coalesce(t.tgrelid, 0)::regclass AS relid, t.tgoldtable AS oldtable, t.tgnewtable AS newtable,
         p.prorettype = 'trigger'::regtype AS is_trigger, t.oid IS NOT NULL AS has_trigger
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_language l ON l.oid = p.prolang
  LEFT JOIN pg_trigger t ON t.tgfoid = p.oid AND NOT t.tgisinternal
  WHERE n.nspname = ANY(%(schemas)s) AND l.lanname = 'plpgsql'
)
SELECT c.name, c.relid::text, r.level, r.message, coalesce(r.lineno::text, '-'), coalesce(r.detail, '')
FROM checked c
CROSS JOIN LATERAL plpgsql_check_function_tb(
  c.fn, c.relid, fatal_errors := false, other_warnings := true, extra_warnings := true,
  performance_warnings := true, security_warnings := true, compatibility_warnings := true,
  oldtable := c.oldtable, newtable := c.newtable) r
WHERE NOT c.is_trigger OR c.has_trigger
ORDER BY 1, 2, 5
"""

UNATTACHED_TRIGGER_FUNCTIONS = """
SELECT n.nspname || '.' || p.proname
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = ANY(%(schemas)s) AND l.lanname = 'plpgsql' AND p.prorettype = 'trigger'::regtype
  AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgfoid = p.oid)
"""

SCHEMAS = ["app", "app_private", "api"]


def read_allow_list(path: Path) -> dict[tuple[str, str], str]:
    """`function | message | reason` per line (# comments); returns {(function, message): reason}."""
    allowed: dict[tuple[str, str], str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        assert len(parts) == 3 and all(parts), f"{path.name}:{n}: want `function | message | reason`"
        allowed[(parts[0], parts[1])] = parts[2]
    return allowed


@pytest.fixture(scope="module")
def checked_db(cron_cluster: tuple[Cluster, str]) -> Iterator[str]:
    """A migrated pg_cron database with plpgsql_check; its superuser DSN."""
    cluster, password = cron_cluster
    fresh_database(cluster, password)
    migrate.migrate(cluster, CRON_DB)
    dsn = cluster.superuser_dsn(CRON_DB)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
    yield dsn


def test_every_plpgsql_function_passes_plpgsql_check(checked_db: str) -> None:
    allowed = read_allow_list(ALLOW_FILE)
    with psycopg.connect(checked_db) as conn:
        unattached = [r[0] for r in conn.execute(UNATTACHED_TRIGGER_FUNCTIONS, {"schemas": SCHEMAS})]
        findings = conn.execute(CHECK, {"schemas": SCHEMAS}).fetchall()
    assert not unattached, f"trigger functions no trigger uses (cannot be checked): {unattached}"

    errors = [f for f in findings if f[2] == "error"]
    unexplained = [f for f in findings if f[2] != "error" and (f[0], f[3]) not in allowed]
    stale = sorted(set(allowed) - {(f[0], f[3]) for f in findings})

    def show(rows: list[tuple[str, ...]]) -> str:
        return "\n".join(f"  {name} [{rel}] line {line}: {level}: {msg} {detail}"
                         for name, rel, level, msg, line, detail in rows)

    assert not errors, "plpgsql_check errors:\n" + show(errors)
    assert not unexplained, ("plpgsql_check warnings: fix them, or allow them with a reason in "
                             f"{ALLOW_FILE.relative_to(PROJECT_ROOT)}:\n" + show(unexplained))
    assert not stale, f"allowed in {ALLOW_FILE.name} but no longer raised (remove them): {stale}"


def test_the_check_finds_what_it_should(checked_db: str) -> None:
    """The checker is really running: a function with a planted error and warning is reported."""
    with psycopg.connect(checked_db) as conn:  # rolled back on leaving: the function is not kept
        conn.execute("""CREATE FUNCTION app_private.planted(p_unused int) RETURNS int LANGUAGE plpgsql AS $$
                        BEGIN RETURN (SELECT count(*) FROM app.no_such_table); END $$""")
        findings = conn.execute(CHECK, {"schemas": SCHEMAS}).fetchall()
        conn.rollback()
    planted = {(f[2], f[3]) for f in findings if f[0] == "app_private.planted"}
    assert ("error", 'relation "app.no_such_table" does not exist') in planted
    assert ("warning extra", 'unused parameter "p_unused"') in planted

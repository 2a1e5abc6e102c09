"""A comparable picture of a database's project objects, read from the catalogs.

`snapshot()` returns, per kind of object, a set of rows: two databases are in the same state when
their snapshots are equal, and a failing comparison names exactly which rows differ. OIDs, column
numbers and other accidents of history are left out (a rolled-back-and-re-applied database and a
fresh one must compare equal); function bodies are compared by md5.
"""

from __future__ import annotations

from typing import Any

import psycopg

PROJECT_SCHEMAS = ["app", "app_private", "api"]



def _acl(column: str) -> str:
    """An ACL as sorted text: the order of its entries is an accident of grant history."""
    return f"coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest({column}) a), '')"


QUERIES: dict[str, str] = {
    "schemas": f"""
        SELECT nspname, {_acl("nspacl")} FROM pg_namespace WHERE nspname = ANY(%(s)s)""",
    "default privileges": f"""
        SELECT pg_get_userbyid(defaclrole), coalesce(n.nspname, ''), defaclobjtype, {_acl("defaclacl")}
        FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace""",
    "extensions": "SELECT extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace",
    "relations": f"""
        SELECT n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
               {_acl("c.relacl")}, coalesce(c.reloptions::text, ''),
               coalesce(obj_description(c.oid, 'pg_class'), '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%(s)s) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')""",
    "columns": f"""
        SELECT n.nspname, c.relname, a.attname,
               rank() OVER (PARTITION BY c.oid ORDER BY a.attnum),
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''), a.attidentity, a.attgenerated,
               {_acl("a.attacl")}, coalesce(col_description(c.oid, a.attnum), '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE n.nspname = ANY(%(s)s) AND a.attnum > 0 AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')""",
    "indexes": """
        SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = ANY(%(s)s)""",
    "constraints": """
        SELECT n.nspname, coalesce(r.relname, t.typname), co.conname, pg_get_constraintdef(co.oid),
               co.condeferrable, co.condeferred, co.convalidated
        FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
        LEFT JOIN pg_class r ON r.oid = co.conrelid LEFT JOIN pg_type t ON t.oid = co.contypid
        WHERE n.nspname = ANY(%(s)s)""",
    "types": f"""
        SELECT n.nspname, t.typname, t.typtype,
               coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                         FROM pg_enum e WHERE e.enumtypid = t.oid), ''),
               coalesce(format_type(t.typbasetype, t.typtypmod), ''), {_acl("t.typacl")}
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = ANY(%(s)s) AND t.typtype IN ('e', 'd', 'r', 'm')""",
    "functions": f"""
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), l.lanname, p.prokind,
               p.prosecdef, p.provolatile, p.proparallel, p.proisstrict, p.proleakproof,
               coalesce(p.proconfig::text, ''), {_acl("p.proacl")},
               md5(coalesce(p.prosrc, '') || coalesce(pg_get_function_sqlbody(p.oid), '')),
               coalesce(obj_description(p.oid, 'pg_proc'), '')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
        WHERE n.nspname = ANY(%(s)s)""",
    "policies": """
        SELECT schemaname, tablename, policyname, permissive, roles::text, cmd,
               coalesce(qual, ''), coalesce(with_check, '')
        FROM pg_policies WHERE schemaname = ANY(%(s)s)""",
    "triggers": """
        SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT t.tgisinternal AND n.nspname = ANY(%(s)s)""",
    "event triggers": "SELECT evtname, evtevent, evtfoid::regproc::text FROM pg_event_trigger",
}

CRON_JOBS = """
    SELECT jobname, schedule, command, database, username, active FROM cron.job WHERE database = current_database()"""


def snapshot(dsn: str) -> dict[str, set[tuple[Any, ...]]]:
    """Every project object of the database at `dsn` (connect as a superuser), kind by kind."""
    with psycopg.connect(dsn) as conn:
        snap = {kind: set(conn.execute(q, {"s": PROJECT_SCHEMAS}).fetchall()) for kind, q in QUERIES.items()}
        has_cron = conn.execute("SELECT to_regclass('cron.job') IS NOT NULL").fetchone()
        snap["cron jobs"] = set(conn.execute(CRON_JOBS).fetchall()) if has_cron and has_cron[0] else set()
    return snap


def differences(expected: dict[str, set[tuple[Any, ...]]], actual: dict[str, set[tuple[Any, ...]]]) -> list[str]:
    """Readable lines for what `actual` lacks (-) and has in excess (+), kind by kind; [] when equal."""
    lines: list[str] = []
    for kind in expected.keys() | actual.keys():
        missing = sorted(expected.get(kind, set()) - actual.get(kind, set()), key=repr)
        extra = sorted(actual.get(kind, set()) - expected.get(kind, set()), key=repr)
        lines += [f"{kind} - {row}" for row in missing] + [f"{kind} + {row}" for row in extra]
    return sorted(lines)

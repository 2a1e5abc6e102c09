"""One message per error code: every code raised in SQL is in the error catalog
(app_private.error_catalog(), db/functions/00_errors.sql), raise_error raises a catalogued code with
the catalog's message, and api/errors.py gives the codes it maps the same messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg

from api.config import PROJECT_ROOT
from api.errors import CONSTRAINT_CODES, SQLSTATE_CODES
from tests.py.side_effect_fixtures import su  # noqa: F401 (fixture)

RAISE = re.compile(r"raise_error\(\s*(\d+)\s*,\s*'([a-z_]+)'")


def _catalog(conn: psycopg.Connection[Any]) -> dict[str, str | None]:
    return {r["code"]: r["message"] for r in conn.execute("SELECT * FROM app_private.error_catalog()").fetchall()}


def _raised_in_sql() -> dict[str, set[int]]:
    codes: dict[str, set[int]] = {}
    for path in (Path(PROJECT_ROOT) / "db").rglob("*.sql"):
        if "migrations" in path.parts or "schema" in path.parts:
            continue
        for status, code in RAISE.findall(path.read_text()):
            codes.setdefault(code, set()).add(int(status))
    return codes


def test_every_code_raised_in_sql_is_catalogued_once(su: psycopg.Connection[Any]) -> None:  # noqa: F811
    catalog = _catalog(su)
    assert one_row_per_code(su), "the catalog lists each code once"
    raised = _raised_in_sql()
    assert "slot_unavailable" in raised, "the scan finds raise_error calls"
    missing = sorted(set(raised) - set(catalog))
    assert not missing, f"codes raised in SQL but not in the error catalog: {missing}"


def one_row_per_code(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT count(*) = count(DISTINCT code) AS ok FROM app_private.error_catalog()").fetchone()
    return bool(row and row["ok"])


def test_the_api_says_what_the_catalog_says(su: psycopg.Connection[Any]) -> None:  # noqa: F811
    catalog = _catalog(su)
    by_code: dict[str, set[str]] = {}
    for _status, code, message in [*CONSTRAINT_CODES.values(), *SQLSTATE_CODES.values()]:
        by_code.setdefault(code, set()).add(message)
    for code, messages in by_code.items():
        if catalog.get(code) is not None:
            assert messages == {catalog[code]}, f"{code}: api/errors.py says {messages}, the catalog {catalog[code]!r}"


def test_a_catalogued_code_raises_its_one_message(su: psycopg.Connection[Any]) -> None:  # noqa: F811
    for code, message in _catalog(su).items():
        try:
            su.execute("SELECT app_private.raise_error(409, %s, 'whatever the caller wrote')", [code])
        except psycopg.Error as e:
            expected = message if message is not None else "whatever the caller wrote"
            assert (e.diag.message_primary, e.diag.message_hint) == (expected, code)
        else:
            raise AssertionError("raise_error did not raise")

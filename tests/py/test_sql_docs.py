"""docs/sql-api.md is generated from the database (each api function's COMMENT ON) and kept current."""

from __future__ import annotations

import difflib

from api.devtools import sqldocs
from tests.py.conftest import ClonedDatabase


def test_the_sql_api_reference_matches_the_database(database: ClonedDatabase) -> None:
    with database.connect() as conn:
        rendered = sqldocs.render(conn)
    committed = sqldocs.DOCS_FILE.read_text() if sqldocs.DOCS_FILE.exists() else ""
    if committed != rendered:
        diff = difflib.unified_diff(committed.splitlines(), rendered.splitlines(), "docs/sql-api.md (committed)",
                                    "rendered from the database", lineterm="", n=1)
        shown = "\n".join(list(diff)[:40])
        raise AssertionError(f"docs/sql-api.md is stale: run `make docs` and commit the result\n{shown}")


def test_every_api_function_is_commented_and_not_granted_to_public(database: ClonedDatabase) -> None:
    with database.connect() as conn:
        functions = sqldocs.api_functions(conn)
    assert functions, "the api schema has functions"
    assert [f.name for f in functions if not (f.comment or "").strip()] == [], "COMMENT ON FUNCTION missing"
    assert [f.name for f in functions if f.public_execute] == [], "EXECUTE granted to PUBLIC"


def test_arguments_split_only_at_top_level_commas() -> None:
    args = "p_a uuid, p_b text DEFAULT 'x, y'::text, p_c numeric(10,2) DEFAULT NULL, p_d text[] DEFAULT '{a,b}'"
    assert sqldocs.split_arguments(args) == [
        "p_a uuid", "p_b text DEFAULT 'x, y'::text", "p_c numeric(10,2) DEFAULT NULL", "p_d text[] DEFAULT '{a,b}'"]
    assert sqldocs.split_arguments("") == []

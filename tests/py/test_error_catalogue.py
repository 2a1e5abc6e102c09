"""docs/conventions.md lists every error code with its status: extracted from the code both ways, so
the catalogue cannot go stale (a new code must be documented, a code no longer raised must go)."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SQL_RAISE = re.compile(r"raise_error\(\s*(\d{3})\s*,\s*'([a-z_]+)'")
PY_PATTERNS = [
    re.compile(r"api_error\(\s*(\d{3}),\s*\"([a-z_]+)\""),          # handlers' own errors
    re.compile(r"\((\d{3}), \"([a-z_]+)\", \""),                     # CONSTRAINT_CODES / SQLSTATE_CODES
    re.compile(r"^\s+(\d{3}): \"([a-z_]+)\",$", re.MULTILINE),      # HTTP_STATUS_CODES
    re.compile(r"error_body\(\"([a-z_]+)\"[^\n]*status_code=(\d{3})"),  # error_body("code", ...), status=...
]


def raised() -> dict[str, set[str]]:
    """code -> the statuses the code raises it with ('any' for the framework fallback)."""
    codes: dict[str, set[str]] = defaultdict(set)
    for path in (ROOT / "db").rglob("*.sql"):
        if path.parts[-2] == "schema":
            continue
        for status, code in SQL_RAISE.findall(path.read_text()):
            codes[code].add(status)
    for path in (ROOT / "api").rglob("*.py"):
        text = path.read_text()
        for pattern in PY_PATTERNS:
            for a, b in pattern.findall(text):
                status, code = (a, b) if a.isdigit() else (b, a)
                codes[code].add(status)
        if '"http_error"' in text:
            codes["http_error"].add("any")
    return codes


def documented() -> dict[str, str]:
    text = (ROOT / "docs" / "conventions.md").read_text()
    section = text[text.index("### Error codes"):]
    section = section[: section.index("\n## ")] if "\n## " in section else section
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `([a-z_]+)` \| ([^|]+) \|", section, re.MULTILINE)}


def test_the_extraction_finds_codes_on_both_sides() -> None:
    codes = raised()
    assert {"slot_unavailable", "off_grid", "session_not_found", "resend_too_soon"} <= set(codes)   # SQL
    assert {"malformed_json", "unsupported_media_type", "token_expired", "invalid_token", "internal_error",
            "body_too_large", "webhooks_not_configured", "retry"} <= set(codes)                       # Python


def test_every_raised_code_is_documented_with_its_status() -> None:
    docs = documented()
    missing = {code: sorted(statuses) for code, statuses in raised().items() if code not in docs}
    assert missing == {}, "codes raised but not listed in docs/conventions.md"
    wrong = {code: (sorted(statuses), docs[code]) for code, statuses in raised().items()
             if "any" not in statuses and not statuses <= set(re.findall(r"\d{3}", docs[code]))}
    assert wrong == {}, "statuses in docs/conventions.md differ from the code"


def test_every_documented_code_is_raised_somewhere() -> None:
    assert set(documented()) - set(raised()) == set(), "listed in docs/conventions.md but raised nowhere"

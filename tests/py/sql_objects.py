"""What the repository's SQL files create and drop, read from their text.

The drift test compares this with a migrated database's catalog: every function, trigger, policy
and cron job there must be declared by a migration or an idempotent file. Statements are found by
regular expressions over the files with `--` comments removed; a function's argument types are
resolved by the database (`to_regtype`), so `p_at timestamptz` and `timestamp with time zone`
compare equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from api.devtools.migrate import DB_DIR, IDEMPOTENT_DIRS

IDENT = r'(?:"[^"]+"|[a-z_][a-z0-9_]*)'
QUALIFIED = rf"({IDENT})\.({IDENT})"
FUNCTION = re.compile(rf"\bCREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+{QUALIFIED}\s*\(", re.I)
DROP_FUNCTION = re.compile(rf"\bDROP\s+FUNCTION\s+(?:IF\s+EXISTS\s+)?{QUALIFIED}", re.I)
TRIGGER = re.compile(rf"\bCREATE\s+(?:CONSTRAINT\s+)?TRIGGER\s+({IDENT})\s.*?\bON\s+{QUALIFIED}", re.I | re.S)
DROP_TRIGGER = re.compile(rf"\bDROP\s+TRIGGER\s+(?:IF\s+EXISTS\s+)?({IDENT})\s+ON\s+{QUALIFIED}", re.I)
POLICY = re.compile(rf"\bCREATE\s+POLICY\s+({IDENT})\s+ON\s+{QUALIFIED}", re.I)
DROP_POLICY = re.compile(rf"\bDROP\s+POLICY\s+(?:IF\s+EXISTS\s+)?({IDENT})\s+ON\s+{QUALIFIED}", re.I)
CRON_JOB = re.compile(r"\bcron\.schedule\(\s*'([^']+)'", re.I)
CRON_UNSCHEDULE = re.compile(r"\bcron\.unschedule\(\s*'([^']+)'", re.I)
MODES = {"in", "out", "inout", "variadic"}


def unquote(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name.lower()


def without_comments(text: str) -> str:
    return re.sub(r"--[^\n]*", "", text)


def _balanced(text: str, start: int) -> str:
    """The text inside the parenthesis that opens just before `start`."""
    depth, i, quote = 1, start, False
    while depth:
        c = text[i]
        if c == "'":
            quote = not quote
        elif not quote and c == "(":
            depth += 1
        elif not quote and c == ")":
            depth -= 1
        i += 1
    return text[start:i - 1]


def _split_args(args: str) -> list[str]:
    parts, depth, quote, cur = [], 0, False, ""
    for c in args:
        if c == "'":
            quote = not quote
        if not quote and c in "([":
            depth += 1
        if not quote and c in ")]":
            depth -= 1
        if c == "," and depth == 0 and not quote:
            parts.append(cur)
            cur = ""
        else:
            cur += c
    return [p.strip() for p in [*parts, cur] if p.strip()]


@dataclass
class Declared:
    functions: set[tuple[str, str, str]] = field(default_factory=set)   # schema, name, argument types
    triggers: set[tuple[str, str, str]] = field(default_factory=set)    # schema, table, trigger
    policies: set[tuple[str, str, str]] = field(default_factory=set)    # schema, table, policy
    cron_jobs: set[str] = field(default_factory=set)
    unresolved: list[str] = field(default_factory=list)                 # signatures whose types are gone


def function_signatures(text: str) -> list[tuple[str, str, list[str]]]:
    """(schema, name, [argument declarations without defaults and OUT arguments]) per CREATE FUNCTION."""
    found = []
    for m in FUNCTION.finditer(text):
        args = []
        for arg in _split_args(_balanced(text, m.end())):
            arg = re.split(r"\s+DEFAULT\s+|\s*=\s*", arg, maxsplit=1, flags=re.I)[0].strip()
            words = arg.split()
            if words[0].lower() in MODES:
                if words[0].lower() == "out":
                    continue
                words = words[1:]
            args.append(" ".join(words))
        found.append((unquote(m.group(1)), unquote(m.group(2)), args))
    return found


def _arg_type(conn: psycopg.Connection[Any], arg: str) -> str | None:
    """The type of one argument declaration, `name type` or just `type`, as format_type spells it."""
    for candidate in (arg, arg.split(None, 1)[1] if " " in arg else None):
        if candidate:
            try:
                with conn.transaction():  # a savepoint: to_regtype raises on some malformed names
                    row = conn.execute("SELECT to_regtype(%s)::text", [candidate]).fetchone()
            except psycopg.errors.SyntaxError:
                continue
            if row and row[0]:
                return str(row[0])
    return None


def migration_files() -> list[Path]:
    return sorted(p for p in (DB_DIR / "migrations").glob("*.sql") if not p.name.endswith(".rollback.sql"))


def idempotent_files() -> list[Path]:
    return [f for d in (*IDEMPOTENT_DIRS, "jobs") for f in sorted((DB_DIR / d).glob("*.sql"))]


def declared(conn: psycopg.Connection[Any], files: list[Path]) -> Declared:
    """Everything `files` create; argument types resolved in the database of `conn`."""
    result = Declared()
    for f in files:
        text = without_comments(f.read_text())
        for schema, name, args in function_signatures(text):
            types = [_arg_type(conn, a) for a in args]
            if None in types:
                result.unresolved.append(f"{f.name}: {schema}.{name}({', '.join(args)})")
                continue
            result.functions.add((schema, name, ", ".join(t for t in types if t)))
        result.triggers |= {(unquote(s), unquote(t), unquote(n)) for n, s, t in TRIGGER.findall(text)}
        result.policies |= {(unquote(s), unquote(t), unquote(n)) for n, s, t in POLICY.findall(text)}
        result.cron_jobs |= set(CRON_JOB.findall(text))
    return result


def tombstones(files: list[Path]) -> list[str]:
    """DROP statements in `files` whose object no statement of `files` creates again."""
    functions, triggers, policies, jobs = set(), set(), set(), set()
    drops: list[tuple[str, tuple[str, ...], str]] = []
    for f in files:
        text = without_comments(f.read_text())
        functions |= {(s, n) for s, n, _ in function_signatures(text)}
        triggers |= {(unquote(s), unquote(t), unquote(n)) for n, s, t in TRIGGER.findall(text)}
        policies |= {(unquote(s), unquote(t), unquote(n)) for n, s, t in POLICY.findall(text)}
        jobs |= set(CRON_JOB.findall(text))
        drops += [("function", (unquote(s), unquote(n)), f.name) for s, n in DROP_FUNCTION.findall(text)]
        drops += [("trigger", (unquote(s), unquote(t), unquote(n)), f.name) for n, s, t in DROP_TRIGGER.findall(text)]
        drops += [("policy", (unquote(s), unquote(t), unquote(n)), f.name) for n, s, t in DROP_POLICY.findall(text)]
        drops += [("cron job", (j,), f.name) for j in CRON_UNSCHEDULE.findall(text)]
    created = {"function": functions, "trigger": triggers, "policy": policies, "cron job": {(j,) for j in jobs}}
    return [f"{where}: DROP {kind} {'.'.join(key)}" for kind, key, where in drops if key not in created[kind]]

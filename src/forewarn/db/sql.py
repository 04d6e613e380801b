"""Just enough SQL lexing to split migration files and vet analyst queries.

ClickHouse takes one statement per request, so migration files are split on top-level ``;``;
a naive split would break on a semicolon inside a string or comment, and a naive keyword check
would be fooled by ``/* SELECT */ DROP TABLE``. Blanking literals and comments first makes
both checks honest without a real parser. The server-side ``readonly=1`` setting is the
actual guard; this module exists so analysts get a clear message before a round trip.
"""

from __future__ import annotations

import re

from forewarn.db.errors import ReadOnlyViolation

#: Statement kinds an analyst may run through ``forewarn sql``.
READ_ONLY_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN"})

_QUOTES = "'\"`"
_FIRST_WORD = re.compile(r"[(\s]*([A-Za-z]+)")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+\w+\s*$", re.IGNORECASE)
_INTO_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)


def _end_of_quoted(sql: str, start: int) -> int:
    """Index just past the literal opened at ``start`` (backslash and doubled-quote escapes)."""
    quote = sql[start]
    i = start + 1
    while i < len(sql):
        if sql[i] == "\\" or sql.startswith(quote * 2, i):
            i += 2
        elif sql[i] == quote:
            return i + 1
        else:
            i += 1
    return len(sql)


def code_only(sql: str) -> str:
    """``sql`` with literal contents and comments replaced by spaces, offsets unchanged."""
    out = list(sql)
    i = 0
    while i < len(sql):
        if sql[i] in _QUOTES:
            end = _end_of_quoted(sql, i)
            blank_from, blank_to = i + 1, end - 1
        elif sql.startswith("--", i) or sql[i] == "#":
            end = sql.find("\n", i)
            end = len(sql) if end < 0 else end
            blank_from, blank_to = i, end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            end = len(sql) if end < 0 else end + 2
            blank_from, blank_to = i, end
        else:
            i += 1
            continue
        out[blank_from:blank_to] = " " * max(0, blank_to - blank_from)
        i = end
    return "".join(out)


def split_statements(sql: str) -> list[str]:
    """Top-level statements of ``sql``, without their ``;``; comment-only pieces are dropped."""
    code = code_only(sql)
    statements: list[str] = []
    start = 0
    for end in [i for i, ch in enumerate(code) if ch == ";"] + [len(sql)]:
        if code[start:end].strip():
            statements.append(sql[start:end].strip())
        start = end + 1
    return statements


def ensure_read_only(sql: str) -> str:
    """The single read-only statement in ``sql``, or ``ReadOnlyViolation`` saying why not."""
    statements = split_statements(sql)
    if not statements:
        raise ReadOnlyViolation("the query is empty")
    if len(statements) > 1:
        raise ReadOnlyViolation(f"run one statement at a time (got {len(statements)})")
    statement = statements[0]
    code = code_only(statement)
    match = _FIRST_WORD.match(code)
    keyword = match.group(1).upper() if match else ""
    if keyword not in READ_ONLY_STATEMENTS:
        allowed = "SELECT, WITH, SHOW, DESCRIBE or EXPLAIN"
        raise ReadOnlyViolation(
            f"forewarn sql is read-only: {keyword or 'this statement'!s} is not allowed, only {allowed}"
        )
    if _INTO_OUTFILE.search(code):
        raise ReadOnlyViolation("forewarn sql is read-only: INTO OUTFILE is not allowed; use --format and redirect")
    if _TRAILING_FORMAT.search(code):
        raise ReadOnlyViolation("drop the FORMAT clause; choose the output with --format table|csv|json")
    return statement

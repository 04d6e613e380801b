"""`forewarn db migrate|status` for operators and `forewarn sql` for analysts.

Every failure surfaces as one readable line (``click.ClickException``) carrying ClickHouse's
own message, because the people running these are reading a terminal, not a traceback.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click
from pydantic import ValidationError

from forewarn.config import Settings
from forewarn.db.client import Rows, Warehouse, open_clickhouse
from forewarn.db.errors import WarehouseError
from forewarn.db.migrations import applied_migrations, load_migrations, migrate, pending_migrations
from forewarn.db.sql import ensure_read_only

_MAX_CELL = 80


@contextmanager
def _warehouse(*, read_only: bool = False) -> Iterator[Warehouse]:
    """Open the configured warehouse, turning setup and connection failures into CLI errors."""
    try:
        settings = Settings.from_env()
    except ValidationError as exc:
        raise click.ClickException(f"invalid FOREWARN_* settings: {exc}") from exc
    try:
        with open_clickhouse(settings.clickhouse_dsn, read_only=read_only) as warehouse:
            yield warehouse
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def db() -> None:
    """ClickHouse schema: versioned migrations."""


@db.command("migrate")
def migrate_command() -> None:
    """Apply pending schema migrations (safe to run repeatedly)."""
    with _warehouse() as warehouse:
        applied = migrate(warehouse)
        where = warehouse.target.display
    if not applied:
        click.echo(f"{where}: schema is up to date")
        return
    for migration in applied:
        click.echo(f"applied {migration.label}")
    click.echo(f"{where}: {len(applied)} migration(s) applied")


@db.command("status")
def status_command() -> None:
    """Show applied and pending schema migrations."""
    with _warehouse(read_only=True) as warehouse:
        applied = applied_migrations(warehouse)
        pending = pending_migrations(applied, load_migrations())
        click.echo(warehouse.target.display)
    width = max([len(r.label) for r in applied] + [len(m.label) for m in pending], default=0)
    for record in applied:
        when = f"{record.applied_at:%Y-%m-%d %H:%M:%S}Z"
        click.echo(f"  applied  {record.label:<{width}}  {when}  sha256 {record.checksum[:12]}")
    for migration in pending:
        click.echo(f"  pending  {migration.label}")
    if not applied and not pending:
        click.echo("  no migrations")


@click.command()
@click.argument("query")
@click.option(
    "--format",
    "output",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="How to print the result.",
)
def sql(query: str, output: str) -> None:
    """Run a read-only SQL query (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN) against the audit store.

    Start with the views: incident_mttr, notifications_per_channel, notifications_by_severity_kind.
    """
    try:
        statement = ensure_read_only(query)
    except WarehouseError as exc:
        raise click.ClickException(str(exc)) from exc
    with _warehouse(read_only=True) as warehouse:
        result = warehouse.query(statement)
    click.echo(_render(result, output), nl=False)


def _render(result: Rows, output: str) -> str:
    if output == "json":
        records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        return json.dumps(records, default=_json_value, ensure_ascii=False, indent=2) + "\n"
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if result.columns:
            writer.writerow(result.columns)
        writer.writerows([["" if v is None else _text(v) for v in row] for row in result.rows])
        return buffer.getvalue()
    return _table(result.columns, result.rows)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    return str(value)


def _cell(value: Any) -> str:
    text = _text(value).replace("\n", "\\n")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Aligned columns, numbers right-aligned, long cells cut: readable in a terminal."""
    if not rows:
        return "(0 rows)\n"
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(name), *(len(r[i]) for r in cells)) for i, name in enumerate(columns)]
    numeric = [
        all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in rows) for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return " | ".join(parts).rstrip()

    out = [line(list(columns)), "-+-".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"

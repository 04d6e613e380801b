"""`forewarn audit export --incident ID`: every audit row of one incident as CSV, for compliance.

Rows are read through FINAL (a replayed decision appears once), in the order they happened,
with customers as their keyed pseudonym only. While a worker owns the embedded store the
export goes through that worker's read-only ClickHouse endpoint instead.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import click
import clickhouse_connect
from pydantic import ValidationError

from forewarn.config import Settings
from forewarn.db.client import open_clickhouse
from forewarn.db.errors import EmbeddedStoreLocked, WarehouseError
from forewarn.sinks.clickhouse import AUDIT_COLUMNS

EXPORT_SQL = (
    f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit FINAL "
    "WHERE incident_id = {incident:String} ORDER BY recorded_at, stage, audit_id"
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def write_csv(out: TextIO, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_cell(v) for v in row] for row in rows])


def read_record(settings: Settings, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Rows from the warehouse, or through the worker's query endpoint while it owns the store."""
    try:
        with open_clickhouse(settings.clickhouse_dsn, read_only=True) as warehouse:
            return list(warehouse.query(sql, params))
    except EmbeddedStoreLocked:
        client = clickhouse_connect.get_client(host=settings.web_host, port=settings.web_port)
        try:
            return [tuple(r) for r in client.query(sql, parameters=params).result_rows]
        finally:
            client.close()


def audit_rows(settings: Settings, incident_id: str) -> list[tuple[Any, ...]]:
    return read_record(settings, EXPORT_SQL, {"incident": incident_id})


@click.group()
def audit() -> None:
    """The audit record of decisions and sends."""


@audit.command("export")
@click.option("--incident", "incident_id", required=True, help="Incident id, e.g. inc_1a2b3c4d5e6f7a8b.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="CSV file (default: stdout).")
def export(incident_id: str, out: Path | None) -> None:
    """Write every audit row of INCIDENT as CSV (header row first)."""
    try:
        settings = Settings.from_env()
    except ValidationError as exc:
        raise click.ClickException(f"invalid FOREWARN_* settings: {exc}") from exc
    try:
        rows = audit_rows(settings, incident_id)
    except (WarehouseError, clickhouse_connect.driver.exceptions.Error) as exc:
        raise click.ClickException(str(exc)) from exc
    if not rows:
        raise click.ClickException(f"no audit rows for incident {incident_id!r}")
    if out is None:
        write_csv(sys.stdout, AUDIT_COLUMNS, rows)
        return
    with out.open("w", encoding="utf-8", newline="") as f:
        write_csv(f, AUDIT_COLUMNS, rows)
    click.echo(f"wrote {len(rows)} audit rows of {incident_id} to {out}", err=True)

"""`forewarn customers load FILE` and `forewarn customers show ID`: the customer-segment table.

`load` validates every row with the same rules the stream applies and publishes a snapshot to
the compacted ``customers`` topic; a bad row is reported with its line number and reason and
never published. `show` asks a running worker (web role) for the customer as its live table
holds it — what targeting will actually use — rather than re-reading the topic.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from confluent_kafka import KafkaException

from forewarn.config import Settings
from forewarn.processors.deadletter import Rejected
from forewarn.processors.segments import change_from_row
from forewarn.publish import Publisher

#: Rejected rows listed one by one before the summary only counts them.
LISTED_REJECTS = 20


@dataclass
class LoadSummary:
    published: int = 0
    deleted: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def detect_format(path: Path) -> str:
    return "csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl"


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """(line number, row) per record; a row that can't be parsed comes as the reason (a str)."""
    with path.open(encoding="utf-8", newline="") as f:
        if fmt == "csv":
            reader = csv.DictReader(f, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            if not reader.fieldnames or "customer_id" not in reader.fieldnames:
                yield 1, f"header has no customer_id column (got {reader.fieldnames})"
                return
            line = 1
            for row in reader:
                if None in row:
                    yield line + 1, f"{len(row[None])} more fields than the header names"
                else:
                    yield line + 1, {k: v for k, v in row.items() if v not in (None, "")}
                line = reader.line_num
            return
        for lineno, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield lineno, f"not JSON: {exc.msg} at column {exc.colno}"
                continue
            yield lineno, obj if isinstance(obj, dict) else f"expected a JSON object, got {type(obj).__name__}"


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def load_customers(
    rows: Iterator[tuple[int, Mapping[str, Any] | str]],
    publisher: Publisher,
    now: datetime,
    progress: Callable[[int], None] = lambda line: None,
) -> LoadSummary:
    """Validate and publish rows (Debezium deletes become tombstones); bad rows are collected."""
    summary = LoadSummary()
    for lineno, row in rows:
        progress(lineno)
        if isinstance(row, str):
            summary.rejected.append((lineno, row))
            continue
        try:
            change = change_from_row(row, now)
        except Rejected as exc:
            summary.rejected.append((lineno, exc.reason))
            continue
        if change.segment is None:
            publisher.send_bytes("customers", None, key=change.customer_id.encode())
            summary.deleted += 1
        else:
            publisher.send("customers", change.segment)
            summary.published += 1
    publisher.flush()
    return summary


@click.group()
def customers() -> None:
    """The customer-segment table: load a snapshot, show one customer as targeting sees it."""


@customers.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="auto: .csv/.tsv are CSV, anything else JSON lines (plain rows or Debezium envelopes).",
)
def load(file: Path, fmt: str) -> None:
    """Validate customers from FILE and publish them to the customers topic.

    CSV columns: customer_id, account_name, plan, enterprise, regions, features, language,
    timezone, emails, phones, slack_webhook, teams_webhook, inapp_user_ids, last_active, slo
    (lists separated by ';', last_active as feature=RFC 3339;...). Rejected rows are listed with
    their line number and reason; the exit code is 1 if there were any.
    """
    settings = Settings.from_env()
    fmt = detect_format(file) if fmt == "auto" else fmt
    publisher = Publisher(settings)
    total = count_lines(file)
    try:
        with click.progressbar(length=max(total, 1), label="loading customers", file=sys.stderr) as bar:
            done = [0]

            def advance(lineno: int) -> None:
                if lineno - done[0] >= 1000 or lineno >= total:
                    bar.update(lineno - done[0])
                    done[0] = lineno

            summary = load_customers(read_rows(file, fmt), publisher, datetime.now(UTC), advance)
        publisher.close()
    except KafkaException as exc:
        raise click.ClickException(f"publishing to {settings.kafka} failed: {exc}") from exc
    for lineno, reason in summary.rejected[:LISTED_REJECTS]:
        click.echo(f"{file}:{lineno}: {reason}", err=True)
    if len(summary.rejected) > LISTED_REJECTS:
        click.echo(f"... and {len(summary.rejected) - LISTED_REJECTS} more rejected rows", err=True)
    deleted = f", deleted {summary.deleted}" if summary.deleted else ""
    click.echo(
        f"published {summary.published} customers{deleted} to {publisher.names('customers')}; "
        f"rejected {len(summary.rejected)} rows"
    )
    if summary.rejected:
        sys.exit(1)


@customers.command()
@click.argument("customer_id")
@click.option(
    "--url", default=None, help="A worker's web address [default: http://FOREWARN_WEB_HOST:FOREWARN_WEB_PORT]."
)
def show(customer_id: str, url: str | None) -> None:
    """Show CUSTOMER_ID as the live table of a running worker holds it (and how it is indexed)."""
    settings = Settings.from_env()
    base = (url or f"http://{settings.web_host}:{settings.web_port}").rstrip("/")
    address = f"{base}/customers/{urllib.parse.quote(customer_id, safe='')}"
    try:
        with urllib.request.urlopen(address, timeout=10) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, AttributeError):
            detail = json.loads(detail).get("error", detail)
        raise click.ClickException(f"{address}: {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise click.ClickException(
            f"no worker answers at {base} ({exc}); start one with `forewarn worker` (pipeline and web roles)"
        ) from None
    click.echo(json.dumps(body, indent=2, ensure_ascii=False))

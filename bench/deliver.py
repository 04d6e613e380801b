"""How fast forewarn delivers email and records audit rows, on this machine.

Two figures, each beside a baseline measured in the same run:

* ``emails_per_s``: commands through the delivery base (idempotency store, rate limit off,
  breaker, receipts) and the SMTP sink to a real SMTP server on loopback (aiosmtpd), one
  connection per message as the sink does; baseline: bare ``smtplib`` sends of the same
  messages over one kept-open connection.
* ``audit_rows_per_s``: the recording path end to end without the broker: batches of Kafka
  messages (Avro-encoded AuditRecords, as the audit topic carries them, wrapped like Faust's
  events) through ``recording.record_audit`` (the audit-writer agent's whole batch step:
  wire form, replay check, one INSERT that ClickHouse decodes) into the embedded ClickHouse,
  timed until the rows are stored. Baselines, same run, same messages: a bare clickhouse-connect
  column-oriented INSERT of ready-made columns (no decoding, no replay check), the same Avro
  INSERT without the replay check (ClickHouse's own ceiling for this form), and the previous
  path (each message decoded into a model, then ``AuditStore.write``). Target: at least
  200,000 rows/s batched. Batches are the audit-writer agent's largest (``recording.BATCH``);
  in a worker a batch is what arrives within a second, so this is the store's capacity, which
  matters when the writer catches up after ClickHouse was away. The replay check here finds
  nothing to look up (one writer, records past its claims), as in steady state.

It starts what it needs (the SMTP server, a scratch chdb data dir) and stops it again.
The last line is one JSON object.

    .venv/bin/python bench/deliver.py [--emails 600] [--rows 400000] [--batch N] [--only audit]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import smtplib
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from forewarn.config import SmtpSettings
from forewarn.db.client import open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.demo.mailbox import Mailbox
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import AuditRecord, Channel, IncidentKind, NotificationCommand, Phase, Severity
from forewarn.sinks.base import CircuitBreaker, Deliverer, SqliteDeliveredStore
from forewarn.sinks.clickhouse import AUDIT_COLUMNS, AVRO_INSERT_SETTINGS, AuditStore, AvroAudit, _columns
from forewarn.sinks.email import EmailSink, build_message
from forewarn.streams import recording
from forewarn.streams.app import tune_collector
from forewarn.streams.context import StreamContext
from forewarn.streams.recording import record_audit

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def commands(n: int, tag: str) -> list[NotificationCommand]:
    return [
        NotificationCommand(
            notification_id=f"ntf_{tag}_{i}",
            incident_id="inc_bench",
            incident_version=1,
            customer_id=f"c{i}",
            channel=Channel.email,
            recipients=[f"ops@c{i}.example"],
            subject="[P1] Investigating: Payments outage in EU-WEST",
            text="Hello,\n\nWe are investigating an issue affecting Payments in EU-WEST.\n" * 3,
            html="<p>Hello,</p><p>We are investigating an issue affecting Payments in EU-WEST.</p>",
            severity=Severity.P1,
            kind=IncidentKind.regional_outage,
            phase=Phase.investigating,
            created_at=T0,
        )
        for i in range(n)
    ]


def bench_email(n: int, scratch: Path) -> tuple[float, float]:
    with Mailbox() as box:
        smtp = SmtpSettings(host=box.host, port=box.port)
        baseline_msgs = [build_message(c, smtp.sender, "https://status.example/unsubscribe") for c in commands(n, "b")]
        started = time.perf_counter()
        with smtplib.SMTP(box.host, box.port) as client:
            for msg in baseline_msgs:
                client.send_message(msg)
        baseline = n / (time.perf_counter() - started)

        deliverer = Deliverer(
            EmailSink(smtp, "https://status.example/unsubscribe"),
            SqliteDeliveredStore(scratch / "email-delivered.sqlite"),
            clock=lambda: T0,
            breaker=CircuitBreaker(),
        )
        todo = commands(n, "f")

        async def run() -> None:
            for command in todo:
                receipt = await deliverer.deliver(command)
                if receipt.status.value != "delivered":
                    raise RuntimeError(f"bench email not delivered: {receipt}")

        started = time.perf_counter()
        asyncio.run(run())
        forewarn = n / (time.perf_counter() - started)
        if len(box.snapshot()) != 2 * n:
            raise RuntimeError(f"SMTP server got {len(box.snapshot())} messages, expected {2 * n}")
    return forewarn, baseline


def audit_rows(n: int, offset: int) -> list[AuditRecord]:
    rng = random.Random(offset)
    stages = ("correlate", "target", "deliver")
    return [
        AuditRecord(
            audit_id=f"{rng.getrandbits(64):016x}{i:08x}",
            recorded_at=T0 + timedelta(milliseconds=offset + i),
            stage=stages[i % 3],
            action="delivered",
            incident_id=f"inc_{i % 50}",
            incident_version=1,
            notification_id=f"ntf_{offset + i}",
            customer_ref=f"cus_{i % 5000:024x}",
            channel="email",
            severity="P1",
            kind="regional_outage",
            phase="investigating",
            sent_at=T0,
            provider_response="250 accepted",
            detail={"provider": "smtp", "attempts": "1"},
        )
        for i in range(n)
    ]


@dataclass(frozen=True)
class Message:
    """What the agent reads of a Faust event's message."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


@dataclass(frozen=True)
class Event:
    message: Message


class BenchContext(StreamContext):
    """The real decode/dead-letter logic; a dead letter here would mean the bench is wrong."""

    def __init__(self) -> None:
        self.rejected = 0

    async def reject(self, message: Any, stage: str, error_type: str, reason: str) -> None:
        self.rejected += 1


def audit_events(records: list[AuditRecord], first_offset: int) -> list[Event]:
    return [
        Event(Message("forewarn.audit", 0, first_offset + i, r.audit_id.encode(), encode(r)))
        for i, r in enumerate(records)
    ]


def bench_audit(total: int, batch: int, scratch: Path) -> dict[str, float]:
    """Rows/s for each path, every one into its own fresh table of the audit DDL."""
    batches = [audit_rows(batch, k * batch) for k in range(max(1, total // batch))]
    event_batches = [audit_events(records, k * batch) for k, records in enumerate(batches)]
    rows = sum(len(b) for b in batches)
    tune_collector()  # as a worker does: the bench's own data is not re-scanned on every collection
    figures: dict[str, float] = {}
    with open_clickhouse(f"chdb://{scratch / 'clickhouse'}") as warehouse:
        migrate(warehouse)
        for table in ("bare_insert", "bare_avro", "model_path"):
            warehouse.command(f"CREATE TABLE {table} AS audit")

        def settled() -> None:
            """Wait for the previous figure's background merges: on two cores they would be
            charged to whichever path runs next."""
            deadline = time.monotonic() + 120
            while warehouse.query("SELECT count() FROM system.merges").scalar():
                if time.monotonic() > deadline:
                    raise RuntimeError("ClickHouse merges did not finish within 120 s")
                time.sleep(0.05)

        def timed(name: str, table: str, run: Any) -> None:
            settled()
            started = time.perf_counter()
            run()
            figures[name] = rows / (time.perf_counter() - started)
            stored = warehouse.query(f"SELECT count(), uniqExact(audit_id) FROM {table}").rows
            if stored != [(rows, rows)]:
                raise RuntimeError(f"{name}: stored {stored} audit rows, expected {rows}")

        def bare_insert() -> None:
            for records in batches:
                warehouse.insert("bare_insert", _columns(records, AUDIT_COLUMNS), AUDIT_COLUMNS, column_oriented=True)

        structure = AuditStore(warehouse)._structure(warehouse)

        def bare_avro() -> None:
            for events in event_batches:
                wire = AvroAudit()
                for event in events:
                    wire.add(event.message.value)
                warehouse.insert_encoded(
                    "bare_avro",
                    AUDIT_COLUMNS,
                    wire.container(range(len(wire))),
                    "Avro",
                    structure,
                    settings=AVRO_INSERT_SETTINGS,
                )

        ctx, store = BenchContext(), AuditStore(warehouse)

        def recording() -> None:
            async def run() -> None:
                for events in event_batches:
                    await record_audit(ctx, store, events)

            asyncio.run(run())

        previous = AuditStore(warehouse, audit_table="model_path")

        def model_path() -> None:
            for events in event_batches:
                previous.write([decode(event.message.value, AuditRecord) for event in events])

        timed("bare_insert", "bare_insert", bare_insert)
        timed("bare_avro", "bare_avro", bare_avro)
        timed("recording", "audit", recording)
        timed("model_path", "model_path", model_path)
        if ctx.rejected:
            raise RuntimeError(f"{ctx.rejected} bench audit records were dead-lettered")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=600)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=recording.BATCH, help="records per batch (the agent's)")
    parser.add_argument("--only", choices=["email", "audit"], help="measure one figure (the other is null)")
    args = parser.parse_args()
    emails: float | None = None
    audit: float | None = None
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-") as tmp:
        scratch = Path(tmp)
        if args.only != "audit":
            emails, smtp_baseline = bench_email(args.emails, scratch)
            print(
                f"email: {emails:,.0f} emails/s through the delivery base + SMTP sink "
                f"(bare smtplib on one connection: {smtp_baseline:,.0f}/s; ratio {emails / smtp_baseline:.2f})"
            )
        if args.only != "email":
            figures = bench_audit(args.rows, args.batch, scratch)
            audit = figures["recording"]
            print(
                f"audit: {audit:,.0f} rows/s from Kafka messages through recording.record_audit in batches of "
                f"{args.batch:,} (target >= 200,000)\n"
                f"  bare column-oriented INSERT of ready columns: {figures['bare_insert']:,.0f}/s "
                f"(ratio {audit / figures['bare_insert']:.2f})\n"
                f"  bare Avro INSERT, no replay check:            {figures['bare_avro']:,.0f}/s "
                f"(ratio {audit / figures['bare_avro']:.2f})\n"
                f"  previous path (model per message + write):    {figures['model_path']:,.0f}/s "
                f"(ratio {audit / figures['model_path']:.2f})"
            )
    print(
        json.dumps(
            {
                "emails_per_s": None if emails is None else round(emails, 1),
                "audit_rows_per_s": None if audit is None else round(audit, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

"""How fast forewarn delivers email and records audit rows, on this machine.

Two figures, each beside a baseline measured in the same run:

* ``emails_per_s``: commands through the delivery base (idempotency store, rate limit off,
  breaker, receipts) and the SMTP sink to a real SMTP server on loopback (aiosmtpd), one
  connection per message as the sink does; baseline: bare ``smtplib`` sends of the same
  messages over one kept-open connection.
* ``audit_rows_per_s``: audit records through ``AuditStore.write`` (replay check + one
  columnar INSERT per batch) into the embedded ClickHouse; baseline: the bare INSERT without
  the replay check. Target: at least 200,000 rows/s batched.

It starts what it needs (the SMTP server, a scratch chdb data dir) and stops it again.
The last line is one JSON object.

    .venv/bin/python bench/deliver.py [--emails 600] [--rows 400000] [--batch 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import smtplib
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forewarn.config import SmtpSettings
from forewarn.db.client import open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.demo.mailbox import Mailbox
from forewarn.schemas.models import AuditRecord, Channel, IncidentKind, NotificationCommand, Phase, Severity
from forewarn.sinks.base import CircuitBreaker, Deliverer, SqliteDeliveredStore
from forewarn.sinks.clickhouse import AUDIT_COLUMNS, AuditStore, _columns
from forewarn.sinks.email import EmailSink, build_message

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


def bench_audit(total: int, batch: int, scratch: Path) -> tuple[float, float]:
    batches = [audit_rows(batch, k * batch) for k in range(max(1, total // batch))]
    rows = sum(len(b) for b in batches)
    with open_clickhouse(f"chdb://{scratch / 'clickhouse'}") as warehouse:
        migrate(warehouse)
        warehouse.command("CREATE TABLE baseline AS audit")
        started = time.perf_counter()
        for records in batches:
            warehouse.insert("baseline", _columns(records, AUDIT_COLUMNS), AUDIT_COLUMNS, column_oriented=True)
        baseline = rows / (time.perf_counter() - started)

        store = AuditStore(warehouse)
        started = time.perf_counter()
        for records in batches:
            store.write(records)
        forewarn = rows / (time.perf_counter() - started)
        stored = warehouse.query("SELECT count() FROM audit").scalar()
        if stored != rows:
            raise RuntimeError(f"stored {stored} audit rows, expected {rows}")
    return forewarn, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=600)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="forewarn-bench-") as tmp:
        scratch = Path(tmp)
        emails, smtp_baseline = bench_email(args.emails, scratch)
        print(
            f"email: {emails:,.0f} emails/s through the delivery base + SMTP sink "
            f"(bare smtplib on one connection: {smtp_baseline:,.0f}/s; ratio {emails / smtp_baseline:.2f})"
        )
        audit, insert_baseline = bench_audit(args.rows, args.batch, scratch)
        print(
            f"audit: {audit:,.0f} rows/s through AuditStore.write in batches of {args.batch:,} "
            f"(bare INSERT: {insert_baseline:,.0f}/s; ratio {audit / insert_baseline:.2f}; target >= 200,000)"
        )
    print(json.dumps({"emails_per_s": round(emails, 1), "audit_rows_per_s": round(audit, 1)}))


if __name__ == "__main__":
    main()

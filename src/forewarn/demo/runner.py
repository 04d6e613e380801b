"""`make demo`: a payments outage in eu-west, end to end on this machine, then a summary.

Everything is real and local: a Kafka broker started from the official jars, a forewarn
worker process, an SMTP server that receives the mail, and the embedded ClickHouse that
holds the record the summary is read from.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from forewarn.broker.admin import create_topics
from forewarn.broker.local import LocalKafka
from forewarn.config import Settings, SmtpSettings
from forewarn.db.client import open_clickhouse
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.process import WorkerProcess
from forewarn.processors.segments import segment_from_row
from forewarn.publish import Publisher, group_caught_up, raw_signal_from_json, read_json_lines, wait_until

#: Topics in pipeline order: when each has no lag, checked in this order, the run is quiet.
PIPELINE_ORDER = ("customers", "raw", "events", "dedup", "signals", "incidents", "targeting", "notify.email", "audit")

Echo = Callable[[str], None]


def bundled(name: str) -> Path:
    return Path(str(resources.files("forewarn.demo") / name))


def publish_customers(publisher: Publisher, path: Path, now: datetime) -> int:
    count = 0
    for _, row in read_json_lines(path):
        publisher.send("customers", segment_from_row(row, now))
        count += 1
    publisher.flush()
    return count


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def shift_times(value: Any, delta: timedelta) -> Any:
    """Move every RFC 3339 UTC timestamp by delta, so a recorded scenario happens 'now'."""
    if isinstance(value, str) and _ISO.match(value) and not value.startswith("0001-"):
        moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + delta
        return moved.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if isinstance(value, dict):
        return {k: shift_times(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [shift_times(v, delta) for v in value]
    return value


def publish_signals(
    publisher: Publisher, path: Path, starts_at: datetime | None = None, between: Callable[[], None] | None = None
) -> int:
    """Publish a recorded scenario; with starts_at, shifted so its first signal happens then.

    Detection runs on event time, so the later signals of the recording play out at once,
    while time-to-notify is still measured from a first signal that really is 'now'.
    ``between`` runs after each signal: different sources land on different partitions, so
    the demo lets each signal settle, as an on-call's ack follows the page in real life.
    """
    lines = [obj for _, obj in read_json_lines(path)]
    delta = timedelta(0)
    if starts_at is not None and lines:
        first = min(datetime.fromisoformat(str(o["received_at"]).replace("Z", "+00:00")) for o in lines)
        delta = starts_at - first
    count = 0
    for obj in lines:
        publisher.send("raw", raw_signal_from_json(shift_times(obj, delta)))
        publisher.flush()
        count += 1
        if between is not None:
            between()
    return count


def wait_quiet(settings: Settings, worker: WorkerProcess, timeout_s: float) -> None:
    """Every stage consumed and committed everything upstream of it produced."""

    def quiet() -> bool:
        if not worker.running:
            raise RuntimeError(f"the worker exited early:\n{worker.log_tail()}")
        return group_caught_up(settings, settings.app_id, PIPELINE_ORDER)

    wait_until(quiet, timeout_s, "the worker to process every record", interval_s=0.5)


@dataclass
class DemoResult:
    customers: int
    signals: int
    emails_received: int
    summary: str


def run_demo(root: Path, echo: Echo = print, timeout_s: float = 120.0) -> DemoResult:
    started = time.monotonic()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    mailbox = Mailbox().start()
    broker = LocalKafka(home=root / "kafka", port=free_port())
    worker: WorkerProcess | None = None
    try:
        echo(f"• starting Kafka (KRaft, single node) on {broker.bootstrap} ...")
        broker.start()
        settings = Settings(
            kafka=broker.bootstrap,
            data_dir=root / "worker",
            topic_prefix="demo.",
            app_id="forewarn-demo",
            partitions=4,
            smtp=SmtpSettings(host=mailbox.host, port=mailbox.port, sender="status@payments.example"),
            status_page_url="https://status.example.com",
        )
        created = create_topics(settings)
        echo(f"• created {len(created)} topics; local SMTP server on {mailbox.host}:{mailbox.port}")
        publisher = Publisher(settings)
        customers = publish_customers(publisher, bundled("customers.jsonl"), datetime.now(UTC))
        echo(f"• published {customers} customers to {publisher.names('customers')}")
        worker = WorkerProcess(settings, root / "worker.log", policy=bundled("policy.yaml")).start()
        echo("• started a forewarn worker (pipeline + email sink + audit writer)")
        echo(f"• replaying observability signals (Alertmanager, PagerDuty) to {publisher.names('raw')} ...")
        signals = publish_signals(
            publisher,
            bundled("scenario.jsonl"),
            starts_at=datetime.now(UTC),
            between=lambda: wait_quiet(settings, worker, timeout_s),
        )
        publisher.close()
        echo("• pipeline drained; stopping the worker")
        worker.stop()
        summary = summarise(settings, mailbox)
        echo("")
        echo(summary)
        echo(f"\n(done in {time.monotonic() - started:.0f}s; logs and data under {root})")
        return DemoResult(customers, signals, len(mailbox.snapshot()), summary)
    finally:
        if worker is not None:
            worker.stop()
        mailbox.stop()
        broker.stop()


def summarise(settings: Settings, mailbox: Mailbox) -> str:
    """What was detected and sent, read back from the audit record in ClickHouse."""
    lines = ["forewarn demo — what happened", "=" * 30]
    with open_clickhouse(settings.clickhouse_dsn, read_only=True) as wh:
        incidents = wh.query(
            "SELECT incident_id, version, title, severity, kind, phase, change, updated_at, rule "
            "FROM incidents FINAL ORDER BY incident_id, version"
        )
        current = None
        for inc_id, version, title, severity, kind, phase, change, updated_at, rule in incidents:
            if inc_id != current:
                current = inc_id
                lines.append(f"Incident {inc_id}: {title} — {severity}, {kind.replace('_', ' ')}")
            lines.append(f"  v{version} {updated_at:%H:%M:%S} {change:<9} phase={phase:<13} via {rule}")
        mttr = wh.query("SELECT incident_id, mttr_s, time_to_notify_s FROM incident_mttr")
        for _inc, mttr_s, notify_s in mttr:
            if mttr_s is not None:
                lines.append(f"  time to resolve: {mttr_s / 60:.0f} min (event time)")
            if notify_s is not None:
                lines.append(f"  first customer notified {notify_s:.1f}s after the first signal")
        lines.append("")
        lines.append("Messages (from the audit record):")
        rows = wh.query(
            "SELECT channel, action, count() FROM audit FINAL WHERE stage IN ('target', 'deliver') "
            "GROUP BY channel, action ORDER BY channel, action"
        )
        for channel, action, n in rows:
            lines.append(f"  {channel:<10} {action:<12} {n}")
        customers = wh.query(
            "SELECT uniqExact(customer_ref) FROM audit FINAL WHERE stage = 'deliver' AND action = 'delivered'"
        ).scalar()
        dead = wh.query("SELECT count() FROM audit FINAL WHERE action = 'dead_lettered'").scalar()
        total = wh.query("SELECT count() FROM audit FINAL").scalar()
    received = mailbox.snapshot()
    lines.append("")
    lines.append(f"Customers reached by email: {customers}; emails received by the SMTP server: {len(received)}")
    if received:
        first = received[0]
        lines.append(f"  e.g. To: {first['To']}  Subject: {first['Subject']}")
    lines.append(f"Dead letters: {dead}; audit rows in ClickHouse: {total}")
    ids = [str(m["Message-ID"]) for m in received]
    regions = {
        email: set(row.get("regions", []))
        for _, row in read_json_lines(bundled("customers.jsonl"))
        for email in row.get("contacts", {}).get("emails", [])
    }
    outside = sorted({str(m["To"]) for m in received if "eu-west" not in regions.get(str(m["To"]), set())})
    lines.append(
        f"Checked: {len(set(ids))} distinct messages, {len(ids) - len(set(ids))} duplicates; "
        f"recipients outside eu-west: {', '.join(outside) or 'none'}"
    )
    return "\n".join(lines)

"""Replaying a past incident through the whole pipeline on a private broker, in dry run.

Nothing reaches a provider: the worker runs with ``dry_run`` and its own broker, topics and
data directory, so the report says exactly what forewarn would have sent, to whom, on which
channel and in which language — and what it would have held for a person to approve, and
whom it left out and why: the worker runs with ``report_suppressed``, so targeting records each
customer and channel that cadence or a missing address held back (``processors/suppressed.py``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from forewarn.broker.admin import create_topics
from forewarn.broker.local import LocalKafka
from forewarn.commands.customers import detect_format, load_customers, read_rows
from forewarn.config import Settings
from forewarn.demo.mailbox import free_port
from forewarn.demo.runner import publish_signals, wait_quiet
from forewarn.process import WorkerProcess
from forewarn.processors.approve import VALIDATION
from forewarn.processors.cadence import Verdict
from forewarn.processors.ids import pseudonymise
from forewarn.processors.suppressed import ACTION, UNLISTED_ACTION, UNREACHABLE
from forewarn.publish import Publisher, group_caught_up, read_topic, wait_until
from forewarn.schemas.codec import DecodeError, decode
from forewarn.schemas.models import (
    Approval,
    ApprovalStatus,
    AuditRecord,
    CustomerSegment,
    Incident,
    NotificationCommand,
)
from forewarn.topics import CHANNELS

#: Why targeting held a message back, in the report's words (``Verdict`` values, plus unreachable).
VERDICT_REASONS: dict[str, str] = {
    Verdict.too_soon.value: "cadence: too soon",
    Verdict.no_news.value: "cadence: no news",
    Verdict.capped.value: "cadence: capped",
    Verdict.never_told.value: "never told",
    UNREACHABLE: "unreachable: no address on this channel",
}


@dataclass
class Report:
    incidents: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"incidents": self.incidents, "messages": self.messages}


def verdict_reason(verdict: str) -> str:
    """A targeting verdict as the report says it; one this table does not know is shown as is."""
    return VERDICT_REASONS.get(verdict, verdict)


def failed_rules(verdicts: list[str]) -> str:
    """The rule names of validation verdicts (``"rule: detail"``), once each, in order."""
    return ", ".join(dict.fromkeys(v.split(":", 1)[0].strip() for v in verdicts))


def approval_reason(approval: Approval) -> str | None:
    """Why a held draft was not sent (or not yet): the person's decision first, then validation."""
    parts: list[str] = []
    if approval.status is ApprovalStatus.rejected:
        parts.append(f"rejected by {approval.approver or 'an approver'}")
    elif approval.status is ApprovalStatus.expired:
        parts.append("approval expired")
    if approval.category == VALIDATION or approval.verdicts:
        parts.append(f"failed validation: {failed_rules(approval.verdicts) or approval.reason}")
    elif approval.status is ApprovalStatus.pending:
        parts.append(f"awaiting approval: {approval.reason}" if approval.reason else "awaiting approval")
    return "; ".join(parts) or None


def message(command: NotificationCommand, status: str, reason: str | None = None) -> dict[str, Any]:
    return {
        "customer_id": command.customer_id,
        "channel": command.channel.value,
        "language": command.language,
        "kind": command.kind.value,
        "severity": command.severity.value,
        "status": status,
        "text": command.text,
        "version": command.incident_version,
        "reason": reason,
    }


def held_back_message(audit: AuditRecord, customer: CustomerSegment | None) -> dict[str, Any]:
    """A message targeting never drafted: no text, the customer's language, the verdict's reason."""
    verdict = audit.verdicts[0] if audit.verdicts else ""
    return {
        "customer_id": customer.customer_id if customer is not None else audit.customer_ref or "",
        "channel": audit.channel or "",
        "language": customer.language if customer is not None else "",
        "kind": audit.kind or "",
        "severity": audit.severity or "",
        "status": "suppressed",
        "text": "",
        "version": audit.incident_version,
        "reason": verdict_reason(verdict),
    }


def _decoded(settings: Settings, topic: str, model: Any) -> list[Any]:
    out = []
    for m in read_topic(settings, topic):
        if m.value() is None:
            continue  # a tombstone (a deleted customer, a compacted approval)
        try:
            out.append(decode(m.value(), model))
        except DecodeError:
            continue
    return out


def collect(settings: Settings) -> Report:
    """What the pipeline produced: incident versions, sent commands, held and suppressed messages.

    Suppressed are drafts a person rejected or let expire, and (with ``report_suppressed``) the
    customers and channels targeting held back; those audit rows name customers by pseudonym
    only, so the customer table on the replay's own broker maps them back.
    """
    report = Report()
    audits = {a.audit_id: a for a in _decoded(settings, "audit", AuditRecord) if a.stage == "target"}
    unlisted: dict[tuple[str, int], int] = {}
    for audit in audits.values():
        if audit.action == UNLISTED_ACTION and audit.incident_id and audit.incident_version is not None:
            key = (audit.incident_id, audit.incident_version)
            unlisted[key] = unlisted.get(key, 0) + int(audit.detail.get("count", "0"))
    incidents = sorted(_decoded(settings, "incidents", Incident), key=lambda i: (i.opened_at, i.incident_id, i.version))
    for inc in incidents:
        report.incidents.append(
            {
                "incident_id": inc.incident_id,
                "version": inc.version,
                "title": inc.title,
                "severity": inc.severity.value,
                "kind": inc.kind.value,
                "phase": inc.phase.value,
                "change": inc.change,
                "updated_at": inc.updated_at.isoformat(),
                "suppressed_unlisted": unlisted.get((inc.incident_id, inc.version), 0),
            }
        )
    released: set[str] = set()
    for channel in CHANNELS:
        for command in _decoded(settings, f"notify.{channel}", NotificationCommand):
            if command.customer_id == "on-call":
                continue  # approval reminders to the on-call list are not customer messages
            report.messages.append(message(command, "sent"))
            released.add(command.notification_id)
    latest: dict[str, Approval] = {}
    for approval in _decoded(settings, "approvals", Approval):
        latest[approval.approval_id] = approval
    for approval in latest.values():
        if approval.command.notification_id in released:
            continue
        status = "held" if approval.status is ApprovalStatus.pending else "suppressed"
        report.messages.append(message(approval.command, status, approval_reason(approval)))
    held_back = [a for a in audits.values() if a.action == ACTION]
    if held_back:
        by_ref = {
            pseudonymise(c.customer_id, settings.pseudonym_key): c
            for c in _decoded(settings, "customers", CustomerSegment)
        }
        report.messages.extend(held_back_message(a, by_ref.get(a.customer_ref or "")) for a in held_back)
    report.messages.sort(key=lambda m: (m["status"], m["customer_id"], m["channel"], m["kind"], m["version"] or 0))
    return report


def render_html(report: Report, source: str) -> str:
    counts: dict[str, int] = {}
    for m in report.messages:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no messages"
    inc_rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(str(i[k]))}</td>"
            for k in (
                "incident_id",
                "version",
                "change",
                "severity",
                "kind",
                "phase",
                "title",
                "updated_at",
                "suppressed_unlisted",
            )
        )
        + "</tr>"
        for i in report.incidents
    )
    msg_rows = "".join(
        f"<tr class='{m['status']}'><td>{escape(m['status'])}</td><td>{escape(m['customer_id'])}</td>"
        f"<td>{escape(m['channel'])}</td><td>{escape(m['language'])}</td><td>{escape(m['severity'])}</td>"
        f"<td>{escape(m['kind'])}</td><td>{escape(str(m['version']))}</td><td>{escape(m['reason'] or '')}</td>"
        f"<td><pre>{escape(m['text'])}</pre></td></tr>"
        for m in report.messages
    )
    style = (
        "body{font-family:sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}"
        "td,th{border-bottom:1px solid #ddd;padding:.3rem;vertical-align:top;text-align:left}"
        "pre{white-space:pre-wrap;margin:0}.held{background:#fff8c5}.suppressed{color:#888}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>forewarn replay</title><style>{style}</style>"
        f"</head><body><h1>Replay of {escape(source)}</h1><p>Dry run: nothing was sent. {escape(summary)}.</p>"
        "<h2>Incidents</h2><table><tr><th>incident</th><th>v</th><th>change</th><th>severity</th><th>kind</th>"
        "<th>phase</th><th>title</th><th>updated</th><th title='held back but over the per-version list cap'>"
        f"suppressed, not listed</th></tr>{inc_rows}</table>"
        "<h2>Messages</h2><table><tr><th>status</th><th>customer</th><th>channel</th><th>language</th>"
        "<th>severity</th><th>kind</th><th>version</th><th>reason</th>"
        f"<th>text</th></tr>{msg_rows}</table></body></html>\n"
    )


def replay(events: Path, customers: Path, out: Path, *, policy: Path | None = None, timeout_s: float = 180.0) -> Report:
    """Run the whole pipeline on a private broker in dry run and write OUT.json and OUT.html."""
    root = Path(tempfile.mkdtemp(prefix="forewarn-replay-"))
    broker = LocalKafka(home=root / "kafka", port=free_port())
    worker: WorkerProcess | None = None
    try:
        broker.start()
        settings = Settings(
            kafka=broker.bootstrap,
            data_dir=root / "worker",
            topic_prefix="replay.",
            app_id="forewarn-replay",
            partitions=2,
            dry_run=True,
            report_suppressed=True,
            web_port=free_port(),
        )
        create_topics(settings)
        publisher = Publisher(settings)
        loaded = load_customers(read_rows(customers, detect_format(customers)), publisher, datetime.now(UTC))
        if not loaded.published:
            raise ValueError(f"{customers}: no customer could be loaded ({len(loaded.rejected)} rejected)")
        worker = WorkerProcess(settings, root / "worker.log", policy=policy).start()
        publish_signals(publisher, events)
        publisher.close()
        wait_quiet(settings, worker, timeout_s)
        wait_until(lambda: group_caught_up(settings, settings.app_id, ("approvals",)), timeout_s, "approvals handled")
        worker.stop()
        report = collect(settings)
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    Path(f"{out}.html").write_text(render_html(report, events.name), encoding="utf-8")
    return report

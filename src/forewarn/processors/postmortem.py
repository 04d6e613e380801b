"""The post-mortem draft: a timeline generated from the audit record, for a person to complete.

Everything in it comes from what the pipeline recorded — incident versions (signals, phase
changes), audit rows (messages sent, drafts held and decided, running summaries) — so the
draft cannot disagree with the record. Every sent message and every approval step is listed
individually in its appendix; the timeline groups sends per version and channel so it stays
readable for an incident that reached 100,000s of customers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SENT_ACTIONS = frozenset({"delivered", "dry_run"})


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str


@dataclass(frozen=True)
class SentMessage:
    notification_id: str
    channel: str
    version: int | None
    at: datetime
    recipient_ref: str
    action: str


@dataclass(frozen=True)
class ApprovalStep:
    at: datetime
    action: str
    notification_id: str | None
    channel: str | None
    category: str
    approver: str | None


@dataclass(frozen=True)
class Postmortem:
    incident_id: str
    title: str
    severity: str
    first_signal_at: datetime | None
    resolved_at: datetime | None
    timeline: list[Event] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    approvals: list[ApprovalStep] = field(default_factory=list)
    summary: str = ""

    @property
    def mttr_s(self) -> float | None:
        if self.first_signal_at is None or self.resolved_at is None:
            return None
        return (self.resolved_at - self.first_signal_at).total_seconds()


def _at(row: Mapping[str, Any]) -> datetime:
    at: datetime = row.get("sent_at") or row["recorded_at"]
    return at


def build(versions: Sequence[Mapping[str, Any]], audit: Sequence[Mapping[str, Any]]) -> Postmortem:
    """``versions``: incident rows by version; ``audit``: that incident's audit rows (any order)."""
    if not versions:
        raise ValueError("no incident versions recorded for this incident")
    ordered = sorted(versions, key=lambda v: v["version"])
    first, last = ordered[0], ordered[-1]
    timeline = [Event(first["first_signal_at"], f"first signal ({', '.join(first['signal_ids']) or 'n/a'})")]
    for v in ordered:
        timeline.append(
            Event(
                v["updated_at"],
                f"v{v['version']} {v['change']}: phase {v['phase']}, {v['severity']} (rule {v['rule']})",
            )
        )
    messages = sorted(
        (
            SentMessage(
                r["notification_id"],
                r["channel"] or "?",
                r["incident_version"],
                _at(r),
                r["customer_ref"] or "",
                r["action"],
            )
            for r in audit
            if r["stage"] == "deliver" and r["action"] in SENT_ACTIONS and r["notification_id"]
        ),
        key=lambda m: (m.at, m.notification_id),
    )
    per_send: Counter[tuple[int | None, str]] = Counter((m.version, m.channel) for m in messages)
    first_at = {key: min(m.at for m in messages if (m.version, m.channel) == key) for key in per_send}
    for (version, channel), n in per_send.items():
        timeline.append(Event(first_at[(version, channel)], f"v{version}: {n} message(s) sent on {channel}"))
    approvals = sorted(
        (
            ApprovalStep(
                r["recorded_at"],
                r["action"],
                r["notification_id"],
                r["channel"],
                (r.get("detail") or {}).get("category", ""),
                r["approver"],
            )
            for r in audit
            if r["stage"] == "approve"
        ),
        key=lambda a: (a.at, a.action, a.notification_id or ""),
    )
    for step in approvals:
        who = f" by {step.approver}" if step.approver else ""
        timeline.append(Event(step.at, f"draft {step.action}{who} ({step.category}, {step.channel})"))
    summaries = sorted((r for r in audit if r["stage"] == "internal" and r["action"] == "summary"), key=_at)
    return Postmortem(
        incident_id=last["incident_id"],
        title=last["title"],
        severity=last["severity"],
        first_signal_at=min(v["first_signal_at"] for v in ordered),
        resolved_at=last["resolved_at"],
        timeline=sorted(timeline, key=lambda e: e.at),
        messages=messages,
        approvals=approvals,
        summary=(summaries[-1]["detail"] or {}).get("summary", "") if summaries else "",
    )


def _clock(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_markdown(pm: Postmortem) -> str:
    mttr = pm.mttr_s
    lines = [
        f"# Post-mortem (draft): {pm.title}",
        "",
        f"Incident {pm.incident_id}, {pm.severity}. Time to resolve (first signal to resolution): "
        + (f"{mttr / 60:.0f} min" if mttr is not None else "not resolved"),
        "",
        "## Summary (last running summary)",
        "",
        pm.summary or "_none recorded_",
        "",
        "## Timeline",
        "",
        *(f"- {_clock(e.at)} — {e.what}" for e in pm.timeline),
        "",
        "## Impact, root cause, what went well, what to improve",
        "",
        "_To be completed by the incident owner._",
        "",
        f"## Appendix A: messages sent ({len(pm.messages)})",
        "",
        "| sent at | channel | version | notification | recipient (pseudonym) |",
        "|---|---|---|---|---|",
        *(
            f"| {_clock(m.at)} | {m.channel} | {m.version} | {m.notification_id} | {m.recipient_ref} |"
            for m in pm.messages
        ),
        "",
        f"## Appendix B: approvals ({len(pm.approvals)})",
        "",
        "| at | action | category | channel | notification | approver |",
        "|---|---|---|---|---|---|",
        *(
            f"| {_clock(a.at)} | {a.action} | {a.category} | {a.channel} | {a.notification_id} | {a.approver or ''} |"
            for a in pm.approvals
        ),
    ]
    return "\n".join(lines) + "\n"

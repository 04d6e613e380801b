"""Audit records of the internal side: what it drafted, summarised and held for approval.

Ids are deterministic like every audit id, so a replay lands on the same rows; the held
record has the same shape and id as the approval stage's own, so the post-mortem finds every
held draft under ``stage = 'approve'`` whoever held it.
"""

from __future__ import annotations

from datetime import datetime

from forewarn.processors.ids import pseudonymise, stable_id
from forewarn.processors.summary import Summary
from forewarn.processors.validate import Verdict
from forewarn.schemas.models import Approval, AuditRecord, Incident, NotificationCommand


def drafted(command: NotificationCommand, now: datetime) -> AuditRecord:
    return AuditRecord(
        audit_id=stable_id("internal", command.notification_id),
        recorded_at=now,
        stage="internal",
        action="drafted",
        incident_id=command.incident_id,
        incident_version=command.incident_version,
        notification_id=command.notification_id,
        customer_ref=command.customer_id,  # an audience ("internal:support"), never a customer
        channel=command.channel.value,
        severity=command.severity.value,
        kind=command.kind.value,
        phase=command.phase.value,
        signal_at=command.signal_at,
        draft_source=command.draft_source.value,
        detail={k: command.metadata.get(k, "") for k in ("audience", "kind", "slot", "destination")},
    )


def summarised(incident: Incident, summary: Summary, verdicts: list[Verdict], now: datetime) -> AuditRecord:
    """The running summary as of one version: kept for the post-mortem timeline."""
    return AuditRecord(
        audit_id=stable_id("summary", incident.incident_id, incident.version),
        recorded_at=now,
        stage="internal",
        action="summary",
        incident_id=incident.incident_id,
        incident_version=incident.version,
        severity=incident.severity.value,
        kind=incident.kind.value,
        phase=incident.phase.value,
        signal_at=incident.first_signal_at,
        draft_source=summary.source,
        verdicts=[str(v) for v in verdicts],
        detail={"summary": summary.text[:4000], "at": incident.updated_at.isoformat()},
    )


def held(approval: Approval, pseudonym_key: str, now: datetime) -> AuditRecord:
    cmd = approval.command
    return AuditRecord(
        audit_id=stable_id("approve", approval.approval_id, "held"),
        recorded_at=now,
        stage="approve",
        action="held",
        incident_id=approval.incident_id,
        incident_version=approval.incident_version,
        notification_id=cmd.notification_id,
        customer_ref=pseudonymise(cmd.customer_id, pseudonym_key),
        channel=cmd.channel.value,
        severity=cmd.severity.value,
        kind=cmd.kind.value,
        phase=cmd.phase.value,
        signal_at=cmd.signal_at,
        draft_source=cmd.draft_source.value,
        draft_version=cmd.draft_version,
        verdicts=list(approval.verdicts),
        detail={
            "approval_id": approval.approval_id,
            "category": approval.category,
            "reason": approval.reason[:500],
            "template": cmd.template,
            "language": cmd.language,
            "edited": "false",
        },
    )

"""Audit records of the internal side: what it drafted, summarised and held for approval.

Ids are deterministic like every audit id, so a replay lands on the same rows; the held
record has the same shape and id as the approval stage's own, so the post-mortem finds every
held draft under ``stage = 'approve'`` whoever held it.
"""

from __future__ import annotations

from datetime import datetime

from forewarn.processors.audit import approval_audit
from forewarn.processors.ids import stable_id
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


def summarised(
    incident: Incident,
    summary: Summary,
    verdicts: list[Verdict],
    now: datetime,
    model_detail: dict[str, str] | None = None,
) -> AuditRecord:
    """The running summary as of one version: kept for the post-mortem timeline (with the model's call, if any)."""
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
        detail={**(model_detail or {}), "summary": summary.text[:4000], "at": incident.updated_at.isoformat()},
    )


def held(approval: Approval, pseudonym_key: str, now: datetime) -> AuditRecord:
    """An executive note put on hold: the same record the approval stage writes for held drafts."""
    return approval_audit(approval, pseudonym_key, now, "held")

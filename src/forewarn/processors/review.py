"""Where a drafted command goes: its channel topic, or the approvals topic to wait for a person.

Pure: given the validated draft (``Skeleton``) for the reader's language, ``route`` fills in the
reader's words and decides. A draft that failed validation is held with its verdicts; one whose
category the policy gates (``gate_reason``) is held for approval; only the rest go straight to
``notify.<channel>``. Customer commands (one reader each) and public posts (status page, social:
no single reader, so ``reader`` is None) take this same path (``streams/review.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from forewarn.policy import Policy
from forewarn.processors.approve import gate_reason, held
from forewarn.processors.audit import AuditTrail, approval_audit
from forewarn.processors.draft import Skeleton
from forewarn.schemas.models import AuditRecord, CustomerSegment, Incident, NotificationCommand, Record

VALIDATION_FAILED = "the draft failed validation"


@dataclass(frozen=True)
class Routed:
    """One record to send (to ``topic`` under ``key``) and the audit record that explains it."""

    topic: str
    key: bytes
    record: Record
    audit: AuditRecord


def route(
    incident: Incident,
    command: NotificationCommand,
    skeleton: Skeleton,
    reader: CustomerSegment | None,
    policy: Policy,
    trail: AuditTrail,
    pseudonym_key: str,
    now: datetime,
    detail: dict[str, str] | None = None,
) -> Routed:
    """The command with the skeleton's words for ``reader``, sent on or held; ``detail`` joins the audit."""
    words = skeleton.for_reader(reader, policy.tone.public_timezone)
    command = command.replaced(
        subject=words.subject,
        text=words.text,
        html=words.html,
        language=words.language,
        template=words.template,
        draft_source=words.source,
    )
    verdicts = [str(v) for v in skeleton.verdicts]
    reason = VALIDATION_FAILED if verdicts else gate_reason(incident, policy)
    record: Record
    if reason is None:
        audit = trail.command(command, now)
        topic, key, record = f"notify.{command.channel.value}", command.notification_id.encode(), command
    else:
        approval = held(command, incident, reason, verdicts, now)
        audit = approval_audit(approval, pseudonym_key, now)
        topic, key, record = "approvals", approval.approval_id.encode(), approval
    if detail:
        audit = audit.replaced(detail={**audit.detail, **detail})
    return Routed(topic, key, record, audit)

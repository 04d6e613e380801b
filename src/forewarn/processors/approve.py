"""Approval gates: which drafts wait for a person, and what a person's decision releases.

Pure functions over records; the stream glue (``streams/review.py``, ``streams/approvals.py``)
sends what they return. Nothing gated reaches a channel topic except as ``released(approval)``
of an approved record, so every such command carries its ``approval_id``.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from datetime import datetime, timedelta

from forewarn.policy import Policy
from forewarn.policy_drafting import Gate
from forewarn.processors.draft import READER_TIMEZONE, Draft, Drafter
from forewarn.processors.ids import stable_id
from forewarn.processors.validate import validate
from forewarn.schemas.models import (
    Approval,
    ApprovalStatus,
    Channel,
    DraftSource,
    Incident,
    NotificationCommand,
    Severity,
)

VALIDATION = "validation"
#: ``metadata`` key an edit leaves on its command: the drafted text's hash (the first edit's
#: original, kept through later edits), so the audit can say what the approver changed.
ORIGINAL_TEXT_SHA256 = "original_text_sha256"
#: ``metadata`` key on a command decided with its batch (``processors.bulk_approval``): the approval
#: id of the sample the person read for the whole batch.
BATCH_SAMPLE = "batch_sample"
_DECIDED = frozenset({ApprovalStatus.approved, ApprovalStatus.rejected, ApprovalStatus.expired})


def gate_reason(incident: Incident, policy: Policy) -> str | None:
    """Why this incident version's drafts must be approved first, or None when they need not."""
    gates = policy.gates
    gate = gates.gate(incident.kind)
    if gate is Gate.always:
        return f"{incident.kind.value}: always approved by a person"
    if gate is Gate.p1_p2 and incident.severity in (Severity.P1, Severity.P2):
        return f"{incident.kind.value}: {incident.severity.value} drafts are approved by a person"
    tags = sorted(set(gates.compliance_flags).intersection(incident.flags))
    if gate is Gate.compliance and tags:
        return f"{incident.kind.value}: compliance-tagged ({', '.join(tags)})"
    return None


def approval_id(notification_id: str) -> str:
    return "apv_" + stable_id("approval", notification_id)


def held(command: NotificationCommand, incident: Incident, reason: str, verdicts: list[str], now: datetime) -> Approval:
    return Approval(
        approval_id=approval_id(command.notification_id),
        incident_id=command.incident_id,
        incident_version=command.incident_version,
        status=ApprovalStatus.pending,
        category=VALIDATION if verdicts else incident.kind.value,
        reason=reason,
        command=command,
        verdicts=verdicts,
        requested_at=now,
    )


@dataclass(frozen=True)
class Edit:
    """A person's change to a held draft; the HTML part is rebuilt from the edited text."""

    text: str
    subject: str | None = None


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def edited(command: NotificationCommand, edit: Edit) -> NotificationCommand:
    original = command.metadata.get(ORIGINAL_TEXT_SHA256) or text_sha256(command.text)
    paragraphs = [p.strip() for p in edit.text.split("\n\n") if p.strip()]
    body = "\n".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)
    return command.model_copy(
        update={
            "text": edit.text,
            "subject": edit.subject if edit.subject is not None else command.subject,
            "html": None if command.html is None else f"<!doctype html>\n<html>\n<body>\n{body}\n</body>\n</html>\n",
            "draft_source": DraftSource.operator,
            "draft_version": command.draft_version + 1,
            "metadata": {**command.metadata, ORIGINAL_TEXT_SHA256: original},
        }
    )


def recheck(approval: Approval, incident: Incident, drafter: Drafter) -> list[str]:
    """Verdicts on an approval's command as it stands (edited or not), under the expectations its
    draft was written to: the incident version's facts, the tone guide, its internal facts and the
    reader's language, with the times in the reader's zone. Empty when it may be sent.

    ``incident`` must be the version the draft was written for (``approval.incident_version``).
    """
    if (incident.incident_id, incident.version) != (approval.incident_id, approval.incident_version):
        raise ValueError(f"{approval.approval_id} was drafted for {approval.incident_id} v{approval.incident_version}")
    cmd = approval.command
    timezone = cmd.metadata.get(READER_TIMEZONE) or drafter.policy.tone.public_timezone
    expect = drafter.reader_expectations(incident, cmd.channel, cmd.language, timezone)
    words = Draft(cmd.template, cmd.subject, cmd.text, cmd.html, cmd.language, cmd.draft_source)
    return [str(v) for v in validate(words, expect)]


def decided(
    approval: Approval,
    status: ApprovalStatus,
    approver: str,
    now: datetime,
    edit: Edit | None = None,
    reason: str = "",
) -> Approval:
    command = approval.command if edit is None else edited(approval.command, edit)
    return approval.model_copy(
        update={
            "status": status,
            "approver": approver,
            "decided_at": now,
            "command": command,
            "edited": approval.edited or edit is not None,
            "reason": reason or approval.reason,
        }
    )


def supersedes(current: Approval | None, incoming: Approval) -> bool:
    """The first decision wins; a stale 'pending' never overwrites one."""
    return current is None or current.status not in _DECIDED


def released(approval: Approval) -> NotificationCommand:
    """The command an approval sends to its channel topic."""
    if approval.status is not ApprovalStatus.approved:
        raise ValueError(f"approval {approval.approval_id} is {approval.status.value}, not approved")
    return approval.command.model_copy(update={"approval_id": approval.approval_id})


def reminder_due(approval: Approval, policy: Policy, now: datetime) -> bool:
    """An unapproved P1 draft re-alerts the on-call list once it has waited too long."""
    wait = timedelta(minutes=policy.gates.remind_after_minutes)
    return (
        approval.status is ApprovalStatus.pending
        and approval.command.severity is Severity.P1
        and bool(policy.gates.oncall_emails)
        and now - approval.requested_at >= wait
    )


def reminder(approval: Approval, policy: Policy, console_url: str, now: datetime) -> NotificationCommand:
    """An email to the on-call list; its id is fixed per approval, so it is sent once."""
    held_for = int((now - approval.requested_at).total_seconds() // 60)
    cmd = approval.command
    text = (
        f"A {cmd.severity.value} draft for {cmd.customer_id} on {cmd.channel.value} has waited {held_for} minutes "
        f"for approval ({approval.reason}).\n\nReview it: {console_url}/console/approvals/{approval.approval_id}\n"
    )
    return NotificationCommand(
        notification_id="ntf_" + stable_id("reminder", approval.approval_id),
        incident_id=approval.incident_id,
        incident_version=approval.incident_version,
        customer_id="on-call",
        channel=Channel.email,
        recipients=list(policy.gates.oncall_emails),
        subject=f"[{cmd.severity.value}] Draft waiting for approval: {cmd.subject or cmd.template}",
        text=text,
        severity=cmd.severity,
        kind=cmd.kind,
        phase=cmd.phase,
        template="approval_reminder",
        created_at=now,
        metadata={"approval_id": approval.approval_id},
    )

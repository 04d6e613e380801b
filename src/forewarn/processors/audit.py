"""Audit records for every decision and send, built from the records that caused them.

Ids are deterministic so a replayed decision lands on the same ClickHouse row; customers
appear only as a keyed pseudonym, never as an address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from forewarn.processors.approve import BATCH_SAMPLE, ORIGINAL_TEXT_SHA256, text_sha256
from forewarn.processors.ids import pseudonymise, stable_id
from forewarn.schemas.models import Approval, AuditRecord, DeadLetter, DeliveryReceipt, Incident, NotificationCommand


class AuditTrail:
    def __init__(self, pseudonym_key: str) -> None:
        self._key = pseudonym_key
        #: The last "drafted" row built and validated, with what it shares with its neighbours.
        self._drafted: tuple[tuple[object, ...], AuditRecord] | None = None

    def incident(self, incident: Incident, now: datetime) -> AuditRecord:
        return AuditRecord(
            audit_id=stable_id("correlate", incident.incident_id, incident.version),
            recorded_at=now,
            stage="correlate",
            action=incident.change,
            incident_id=incident.incident_id,
            incident_version=incident.version,
            severity=incident.severity.value,
            kind=incident.kind.value,
            phase=incident.phase.value,
            rule=incident.rule,
            signal_at=incident.first_signal_at,
            detail={"dedup_key": incident.dedup_key, "title": incident.title},
        )

    def command(self, command: NotificationCommand, now: datetime) -> AuditRecord:
        """The "drafted" row of a command. A fan-out asks for one per command, in runs that share
        the incident, its version and the time: the first of a run is built and validated, the
        rest are it with the command's own fields replaced (a validated row each was ~5 % of it)."""
        shared = (
            command.incident_id,
            command.incident_version,
            command.severity,
            command.kind,
            command.phase,
            command.signal_at,
            now,
        )
        if self._drafted is not None and self._drafted[0] == shared:
            return self._drafted[1].replaced(**self._command_fields(command))
        record = self._drafted_row(command, now)
        self._drafted = (shared, record)
        return record

    def _drafted_row(self, command: NotificationCommand, now: datetime) -> AuditRecord:
        return AuditRecord(
            **self._command_fields(command),
            recorded_at=now,
            stage="target",
            action="drafted",
            incident_id=command.incident_id,
            incident_version=command.incident_version,
            severity=command.severity.value,
            kind=command.kind.value,
            phase=command.phase.value,
            signal_at=command.signal_at,
        )

    def _command_fields(self, command: NotificationCommand) -> dict[str, Any]:
        """The fields of a drafted row that are the command's own: all that differ within a run."""
        return {
            "audit_id": stable_id("target", command.notification_id),
            "notification_id": command.notification_id,
            "customer_ref": pseudonymise(command.customer_id, self._key),
            "channel": command.channel.value,
            "draft_source": command.draft_source.value,
            "draft_version": command.draft_version,
            "detail": {"template": command.template, "language": command.language},
        }

    def receipt(self, receipt: DeliveryReceipt, now: datetime) -> AuditRecord:
        return AuditRecord(
            audit_id=stable_id("deliver", receipt.notification_id, receipt.status.value),
            recorded_at=now,
            stage="deliver",
            action=receipt.status.value,
            incident_id=receipt.incident_id,
            incident_version=receipt.incident_version,
            notification_id=receipt.notification_id,
            customer_ref=pseudonymise(receipt.customer_id, self._key),
            channel=receipt.channel.value,
            sent_at=receipt.sent_at,
            provider_response=receipt.provider_response,
            detail={"provider": receipt.provider, "attempts": str(receipt.attempts)},
        )

    def dead_letter(self, letter: DeadLetter) -> AuditRecord:
        return AuditRecord(
            audit_id=stable_id("deadletter", letter.topic, letter.partition, letter.offset, letter.stage),
            recorded_at=letter.failed_at,
            stage=letter.stage,
            action="dead_lettered",
            detail={
                "topic": letter.topic,
                "partition": str(letter.partition),
                "offset": str(letter.offset),
                "error_type": letter.error_type,
                "reason": letter.reason[:1000],
            },
        )


#: How much of an edited text an approval row keeps (the compacted approvals topic drops the rest).
EDITED_TEXT_CHARS = 4000


def approval_audit(approval: Approval, pseudonym_key: str, now: datetime, action: str = "held") -> AuditRecord:
    """One step of a held draft's life (held, reminded, approved, rejected), keyed so a replay lands on the same row.

    Every row carries the hash of the text it is about (``text_sha256``); a row for an edited draft
    also the drafted text's hash and the edited text (bounded), so what the approver changed stays
    on record after the compacted approvals topic has dropped the held record."""
    cmd = approval.command
    detail = {
        "approval_id": approval.approval_id,
        "category": approval.category,
        "reason": approval.reason[:500],
        "template": cmd.template,
        "language": cmd.language,
        "edited": str(approval.edited).lower(),
        "text_sha256": text_sha256(cmd.text),
    }
    sample = cmd.metadata.get(BATCH_SAMPLE)
    if sample:  # decided with its batch: the approval id of the sample the person read
        detail["batch_sample"] = sample
    if approval.edited:
        detail.update(
            original_text_sha256=cmd.metadata.get(ORIGINAL_TEXT_SHA256, ""),
            edited_text=cmd.text[:EDITED_TEXT_CHARS],
            edited_text_chars=str(len(cmd.text)),
            edited_subject=(cmd.subject or "")[:500],
        )
    return AuditRecord(
        audit_id=stable_id("approve", approval.approval_id, action),
        recorded_at=now,
        stage="approve",
        action=action,
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
        approver=approval.approver,
        detail=detail,
    )

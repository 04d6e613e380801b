"""Pydantic mirrors of ``schemas/*.avsc``: the typed records every stage passes around.

The Avro files are the contract; these models exist so Python code gets validation and
type checking. ``tests/schemas/test_models_match_avsc.py`` fails the build if they drift.
Timestamps are timezone-aware UTC datetimes (Avro ``timestamp-millis``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Record(BaseModel):
    """Base of every wire record: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: object) -> object:
        """Naive datetimes are taken as UTC so event time never shifts with the host's zone."""
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class SignalStatus(StrEnum):
    firing = "firing"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Phase(StrEnum):
    investigating = "investigating"
    identified = "identified"
    monitoring = "monitoring"
    resolved = "resolved"


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class IncidentKind(StrEnum):
    local_degradation = "local_degradation"
    regional_outage = "regional_outage"
    single_customer = "single_customer"
    sla_breach = "sla_breach"
    maintenance = "maintenance"


class Channel(StrEnum):
    email = "email"
    inapp = "inapp"
    slack = "slack"
    teams = "teams"
    sms = "sms"
    statuspage = "statuspage"
    social = "social"
    helpdesk = "helpdesk"
    internal = "internal"


class DraftSource(StrEnum):
    template = "template"
    model = "model"
    operator = "operator"


class ApprovalStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    expired = "expired"


class DeliveryStatus(StrEnum):
    delivered = "delivered"
    duplicate = "duplicate"
    dry_run = "dry_run"
    failed = "failed"
    dead_lettered = "dead_lettered"


class RawSignal(Record):
    source: str
    received_at: datetime
    body: bytes
    content_type: str = "application/json"
    origin: str | None = None


class ObservabilityEvent(Record):
    event_id: str
    source: str
    source_ref: str
    service: str
    region: str
    symptom: str
    status: SignalStatus
    severity: str
    metric: str | None = None
    value: float | None = None
    summary: str
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    flags: list[str] = Field(default_factory=list)
    customer_id: str | None = None
    occurred_at: datetime
    received_at: datetime


class Incident(Record):
    incident_id: str
    version: int
    dedup_key: str
    title: str
    service: str
    region: str
    symptom: str
    phase: Phase
    severity: Severity
    kind: IncidentKind
    change: str
    internal: bool = False
    opened_at: datetime
    updated_at: datetime
    first_signal_at: datetime
    resolved_at: datetime | None = None
    eta: datetime | None = None
    next_update_at: datetime | None = None
    cause: str | None = None
    summary: str = ""
    rule: str | None = None
    signal_ids: list[str] = Field(default_factory=list)
    affected_services: list[str] = Field(default_factory=list)
    parent_incident_id: str | None = None
    customer_id: str | None = None
    share_affected: float | None = None
    flags: list[str] = Field(default_factory=list)


class Contacts(Record):
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    slack_webhook: str | None = None
    teams_webhook: str | None = None
    inapp_user_ids: list[str] = Field(default_factory=list)


class CustomerSegment(Record):
    customer_id: str
    account_name: str
    plan: str
    enterprise: bool = False
    regions: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)
    language: str = "en"
    timezone: str = "UTC"
    contacts: Contacts
    last_active: dict[str, datetime] = Field(default_factory=dict)
    slo: float | None = None
    updated_at: datetime


class NotificationCommand(Record):
    notification_id: str
    incident_id: str
    incident_version: int
    customer_id: str
    channel: Channel
    language: str = "en"
    recipients: list[str] = Field(default_factory=list)
    subject: str | None = None
    text: str
    html: str | None = None
    severity: Severity
    kind: IncidentKind
    phase: Phase
    template: str = ""
    draft_source: DraftSource = DraftSource.template
    draft_version: int = 1
    approval_id: str | None = None
    dry_run: bool = False
    signal_at: datetime | None = None
    created_at: datetime
    metadata: dict[str, str] = Field(default_factory=dict)


class Approval(Record):
    approval_id: str
    incident_id: str
    incident_version: int
    status: ApprovalStatus
    category: str
    reason: str = ""
    command: NotificationCommand
    verdicts: list[str] = Field(default_factory=list)
    approver: str | None = None
    edited: bool = False
    requested_at: datetime
    decided_at: datetime | None = None


class DeliveryReceipt(Record):
    notification_id: str
    incident_id: str
    incident_version: int
    customer_id: str
    channel: Channel
    status: DeliveryStatus
    attempts: int = 1
    provider: str = ""
    provider_response: str = ""
    provider_message_id: str | None = None
    sent_at: datetime


class AuditRecord(Record):
    audit_id: str
    recorded_at: datetime
    stage: str
    action: str
    incident_id: str | None = None
    incident_version: int | None = None
    notification_id: str | None = None
    customer_ref: str | None = None
    channel: str | None = None
    severity: str | None = None
    kind: str | None = None
    phase: str | None = None
    rule: str | None = None
    signal_at: datetime | None = None
    draft_source: str | None = None
    draft_version: int | None = None
    verdicts: list[str] = Field(default_factory=list)
    approver: str | None = None
    sent_at: datetime | None = None
    provider_response: str | None = None
    detail: dict[str, str] = Field(default_factory=dict)


class DeadLetter(Record):
    topic: str
    partition: int
    offset: int
    key: bytes | None = None
    value: bytes | None = None
    stage: str
    error_type: str
    reason: str
    failed_at: datetime


class TargetingRequest(Record):
    request_id: str
    partition: int
    incident: Incident
    channels: list[Channel] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    plans: list[str] = Field(default_factory=list)
    features: list[str] = Field(default_factory=list)
    active_within_hours: int | None = None
    customer_id: str | None = None


#: Avro full name -> model, for the codec and the drift test.
MODELS: dict[str, type[Record]] = {
    f"io.forewarn.{m.__name__}": m
    for m in (
        RawSignal,
        ObservabilityEvent,
        Incident,
        CustomerSegment,
        NotificationCommand,
        Approval,
        DeliveryReceipt,
        AuditRecord,
        DeadLetter,
        TargetingRequest,
    )
}

"""Where a drafted command goes: its channel topic, or the approvals topic to wait for a person.

``Review.route`` is the single hook the targeting stage calls for every command it makes. It
swaps in the validated draft for the reader's language (one render per version, channel and
language), and holds the command when validation failed or the policy gates its category.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from forewarn.config import Settings
from forewarn.drafting.anthropic_drafter import AnthropicDrafter
from forewarn.policy import Policy
from forewarn.processors.approve import gate_reason, held
from forewarn.processors.audit import AuditTrail, approval_audit
from forewarn.processors.draft import Drafter, Skeleton
from forewarn.schemas.models import (
    AuditRecord,
    Channel,
    CustomerSegment,
    Incident,
    NotificationCommand,
    Record,
)


@dataclass(frozen=True)
class Routed:
    """One record to send (to ``topic`` under ``key``) and the audit record that explains it."""

    topic: str
    key: bytes
    record: Record
    audit: AuditRecord


class Review:
    def __init__(
        self, settings: Settings, policy: Policy, trail: AuditTrail, model: AnthropicDrafter | None = None
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.trail = trail
        self.drafter = Drafter(policy, settings.status_page_url)
        self.model = model
        if model is None and settings.anthropic_api_key and policy.tone.model_categories:
            self.model = AnthropicDrafter(
                self.drafter,
                api_key=settings.anthropic_api_key,
                model=settings.anthropic_model,
                timeout_s=settings.anthropic_timeout_s,
                base_url=settings.anthropic_base_url,
            )

    async def skeleton(self, incident: Incident, channel: Channel, language: str) -> tuple[Skeleton, dict[str, str]]:
        """The model's draft where the policy allows one (once per version and language), else the template's."""
        if self.model is not None and incident.kind in self.policy.tone.model_categories:
            drafted = await self.model.draft(incident, language)
            found = drafted.skeletons.get(channel)
            if found is not None:
                return found, {f"model_{k}": v for k, v in drafted.detail.items()}
        return self.drafter.skeleton(incident, channel, language), {}

    async def route(
        self, incident: Incident, segment: CustomerSegment, command: NotificationCommand, now: datetime
    ) -> Routed:
        skeleton, model_detail = await self.skeleton(incident, command.channel, segment.language)
        words = skeleton.for_reader(segment, self.policy.tone.public_timezone)
        command = command.model_copy(
            update={
                "subject": words.subject,
                "text": words.text,
                "html": words.html,
                "language": words.language,
                "template": words.template,
                "draft_source": words.source,
            }
        )
        verdicts = [str(v) for v in skeleton.verdicts]
        reason = "the draft failed validation" if verdicts else gate_reason(incident, self.policy)
        record: Record
        if reason is None:
            audit = self.trail.command(command, now)
            topic, key, record = f"notify.{command.channel.value}", command.notification_id.encode(), command
        else:
            approval = held(command, incident, reason, verdicts, now)
            audit = approval_audit(approval, self.settings.pseudonym_key, now)
            topic, key, record = "approvals", approval.approval_id.encode(), approval
        if model_detail:
            audit = audit.model_copy(update={"detail": {**audit.detail, **model_detail}})
        return Routed(topic, key, record, audit)

"""The review hook every drafted command passes: the draft for its language, then ``processors.review``.

``Review.route`` (a customer's command, in the reader's language) and ``Review.route_public`` (a
status-page or social post, in the company's default language) ask the model where the policy
allows one, else take the template's draft (one render per version, channel and language), and
let ``processors.review.route`` send the command on or hold it: failed validation, or a category
the policy gates, goes to the approvals topic.

A helpdesk command (one per affected account) is written for support agents, so its ticket text
is drafted like a public post, once per version in the company's default language, and carries
the reader's own canned reply (``processors/helpdesk.py``), checked like their other drafts.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.processors.audit import AuditTrail
from forewarn.processors.draft import Drafter, OtherAccounts, Skeleton
from forewarn.processors.helpdesk import with_canned_reply
from forewarn.processors.internal import CustomerDraft, canned_response
from forewarn.processors.review import Routed, route
from forewarn.schemas.models import Channel, CustomerSegment, Incident, NotificationCommand

if TYPE_CHECKING:  # the client library takes over a second to import; only a configured key needs it
    from forewarn.drafting.anthropic_drafter import AnthropicDrafter

__all__ = ["Review", "Routed"]


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
            from forewarn.drafting.anthropic_drafter import AnthropicDrafter

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
        self,
        incident: Incident,
        segment: CustomerSegment,
        command: NotificationCommand,
        now: datetime,
        others: OtherAccounts | None = None,
    ) -> Routed:
        """One customer's command, drafted in their language, to its channel topic or held.

        ``others``: other accounts' names at hand (the fan-out chunk's); a draft naming one is not sent.
        """
        if command.channel is Channel.helpdesk:
            return await self.route_helpdesk(incident, segment, command, now, others)
        skeleton, detail = await self.skeleton(incident, command.channel, segment.language)
        skeleton = self.drafter.for_names(skeleton, incident, segment, others)
        if "names_fallback" in skeleton.detail:  # the model's draft named another customer: the template's instead
            detail = {**detail, "model_outcome": "fallback", "model_reason": skeleton.detail["names_fallback"]}
        return self._routed(incident, command, skeleton, segment, now, detail)

    async def route_helpdesk(
        self,
        incident: Incident,
        segment: CustomerSegment,
        command: NotificationCommand,
        now: datetime,
        others: OtherAccounts | None = None,
    ) -> Routed:
        """One account's helpdesk command: the support team's ticket text, and the reader's canned reply."""

        def words(incident: Incident, reader: CustomerSegment, channel: Channel) -> CustomerDraft:
            # the template's words, like the support pack's; held to the chunk's other accounts like any draft
            skeleton = self.drafter.for_names(
                self.drafter.skeleton(incident, channel, reader.language), incident, reader, others
            )
            return CustomerDraft(
                skeleton.for_reader(reader, self.policy.tone.public_timezone), tuple(map(str, skeleton.verdicts))
            )

        command = with_canned_reply(command, canned_response(incident, segment, words))
        skeleton, detail = await self.skeleton(incident, Channel.helpdesk, self.policy.tone.default_language)
        return self._routed(incident, command, skeleton, None, now, detail)

    async def route_public(self, incident: Incident, command: NotificationCommand, now: datetime) -> Routed:
        """A public post (no single reader), drafted in the company's default language, on or held."""
        skeleton, detail = await self.skeleton(incident, command.channel, self.policy.tone.default_language)
        return self._routed(incident, command, skeleton, None, now, detail)

    def _routed(
        self,
        incident: Incident,
        command: NotificationCommand,
        skeleton: Skeleton,
        reader: CustomerSegment | None,
        now: datetime,
        detail: dict[str, str],
    ) -> Routed:
        key = self.settings.pseudonym_key
        return route(incident, command, skeleton, reader, self.policy, self.trail, key, now, detail)

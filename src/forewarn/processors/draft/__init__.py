"""Words for customers: one draft per incident version, channel and language, personalised per reader.

``Drafter.skeleton`` renders (and validates) a draft once per (incident version, channel,
language) — with ``{account}`` and the times still placeholders — and ``personalise`` fills them
for each reader. Rendering 300k customers' messages therefore costs a few renders plus string
substitution, and a model (``forewarn.drafting``) is asked once per version and language, not
once per customer.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime

from forewarn.policy import Policy
from forewarn.processors.draft.facts import (
    PLACEHOLDERS,
    TEMPLATES,
    Facts,
    facts_for,
    persona,
    template_for,
)
from forewarn.processors.draft.render import (
    CHANNELS,
    LANGUAGES,
    Catalogue,
    Draft,
    DraftError,
    personalise,
)
from forewarn.processors.ids import notification_id
from forewarn.processors.sms import plain
from forewarn.processors.target import recipients
from forewarn.processors.validate import Expectations, Verdict, validate
from forewarn.schemas.models import (
    Channel,
    CustomerSegment,
    DraftSource,
    Incident,
    NotificationCommand,
)

__all__ = [
    "CHANNELS",
    "LANGUAGES",
    "TEMPLATES",
    "Catalogue",
    "Draft",
    "DraftError",
    "Drafter",
    "Facts",
    "Skeleton",
    "command_for",
    "draft",
    "facts_for",
    "personalise",
    "template_for",
]


@dataclass(frozen=True)
class Skeleton:
    """A validated draft with placeholders, shared by every reader of one version/channel/language."""

    facts: Facts
    channel: Channel
    draft: Draft
    expectations: Expectations
    verdicts: tuple[Verdict, ...] = ()
    detail: dict[str, str] = field(default_factory=dict)

    def for_reader(self, segment: CustomerSegment | None, public_timezone: str = "UTC") -> Draft:
        filled = personalise(self.draft, persona(self.facts, segment, self.draft.language, public_timezone))
        if self.channel is Channel.sms:
            filled = replace(filled, text=plain(filled.text))
        return filled


class Drafter:
    """Template drafts for one policy, cached per (incident version, channel, language)."""

    def __init__(
        self, policy: Policy, status_url: str, catalogue: Catalogue | None = None, cache_size: int = 4096
    ) -> None:
        self.policy = policy
        self.status_url = status_url
        self.catalogue = catalogue or Catalogue()
        self._parts: OrderedDict[tuple[str, int, str, str], dict[str, str]] = OrderedDict()
        self._skeletons: OrderedDict[tuple[str, int, str, str, str], Skeleton] = OrderedDict()
        self._cache_size = cache_size

    def parts(self, facts: Facts, language: str) -> dict[str, str]:
        key = (facts.incident_id, facts.version, facts.template, language)
        found = self._parts.get(key)
        if found is None:
            found = self.catalogue.parts(facts, language, self.status_url, self.policy.tone.as_mapping())
            _remember(self._parts, key, found, self._cache_size)
        return found

    def expectations(
        self, facts: Facts, channel: Channel, language: str, *, model_written: bool = False
    ) -> Expectations:
        parts = self.parts(facts, language)
        wanted: dict[str, tuple[str, ...]] = {}
        for fact in facts.required():
            if fact == "service":
                wanted[fact] = (facts.service,)
            elif fact == "status":
                wanted[fact] = (parts["status_label"],)
            elif fact == "eta" and "eta" not in facts.times:
                wanted[fact] = (parts["still_investigating"],)
            else:
                wanted[fact] = (f"{{{fact}}}", f"{{{fact}_short}}")
        tone = self.policy.tone
        return Expectations(
            channel=channel,
            language=language,
            status_url=self.status_url,
            facts=wanted,
            placeholders=PLACEHOLDERS,
            banned_phrases=tuple(tone.banned_phrases),
            never_mention=tuple(tone.never_mention),
            model_written=model_written,
        )

    def skeleton(self, incident: Incident, channel: Channel, language: str) -> Skeleton:
        lang = self.catalogue.language_for(language)
        key = (incident.incident_id, incident.version, template_for(incident), channel.value, lang)
        found = self._skeletons.get(key)
        if found is None:
            facts = facts_for(incident, self.policy)
            found = self.checked(facts, self.render(facts, channel, lang), channel)
            _remember(self._skeletons, key, found, self._cache_size)
        return found

    def render(self, facts: Facts, channel: Channel, language: str) -> Draft:
        words = self.catalogue.arrange(self.parts(facts, language), facts.template, channel, language, self.status_url)
        return replace(words, text=plain(words.text)) if channel is Channel.sms else words

    def checked(self, facts: Facts, words: Draft, channel: Channel, detail: dict[str, str] | None = None) -> Skeleton:
        expect = self.expectations(facts, channel, words.language, model_written=words.source is DraftSource.model)
        return Skeleton(facts, channel, words, expect, tuple(validate(words, expect)), detail or {})


def _remember(cache: OrderedDict, key: object, value: object, size: int) -> None:  # type: ignore[type-arg]
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


_DEFAULT: dict[str, Drafter] = {}


def draft(incident: Incident, segment: CustomerSegment, channel: Channel, status_url: str) -> Draft:
    """The template draft for one reader under the default policy (the targeting stage's first cut)."""
    drafter = _DEFAULT.get(status_url)
    if drafter is None:
        drafter = _DEFAULT.setdefault(status_url, Drafter(Policy(), status_url))
    return drafter.skeleton(incident, channel, segment.language).for_reader(segment)


def command_for(
    incident: Incident,
    segment: CustomerSegment,
    channel: Channel,
    words: Draft,
    *,
    now: datetime,
    dry_run: bool,
) -> NotificationCommand:
    return NotificationCommand(
        notification_id=notification_id(incident.incident_id, incident.version, segment.customer_id, channel),
        incident_id=incident.incident_id,
        incident_version=incident.version,
        customer_id=segment.customer_id,
        channel=channel,
        language=words.language,
        recipients=recipients(segment, channel),
        subject=words.subject,
        text=words.text,
        html=words.html,
        severity=incident.severity,
        kind=incident.kind,
        phase=incident.phase,
        template=words.template,
        draft_source=words.source,
        dry_run=dry_run,
        signal_at=incident.first_signal_at,
        created_at=now,
    )

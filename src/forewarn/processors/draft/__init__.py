"""Words for customers: one draft per incident version, channel and language, personalised per reader.

``Drafter.skeleton`` renders (and validates) a draft once per (incident version, channel,
language) — with ``{account}`` and the times still placeholders — and ``personalise`` fills them
for each reader. Rendering 300k customers' messages therefore costs a few renders plus string
substitution, and a model (``forewarn.drafting``) is asked once per version and language, not
once per customer.

Every skeleton is validated against the incident's internal facts (``facts.internal_facts``:
signals, rule, internal services, approvers) as well as the tone guide. Other customers' names
are checked per reader, against a bounded sample the fan-out has at hand (``OtherAccounts``: the
other accounts of the reader's chunk), on the skeleton's words, so the check costs set lookups,
not a validation per customer. ``Drafter.reader_expectations`` rebuilds what one reader's filled
draft must satisfy, for a person's edit of a held draft.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from typing import Any

from forewarn.policy import Policy
from forewarn.processors.draft.facts import (
    PLACEHOLDER,
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
from forewarn.processors.validate import Expectations, Verdict, name_key, named, validate, word_grams
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
    "READER_TIMEZONE",
    "TEMPLATES",
    "BlankCommands",
    "Catalogue",
    "Draft",
    "DraftError",
    "Drafter",
    "Facts",
    "OtherAccounts",
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

    @property
    def visible(self) -> str:
        """What a reader sees (subject and text), as the validator reads it."""
        return "\n".join(t for t in (self.draft.subject, self.draft.text) if t)

    def verdicts_for(self, segment: CustomerSegment | None, others: OtherAccounts | None = None) -> tuple[Verdict, ...]:
        """The skeleton's verdicts, and whether it names another customer than this reader."""
        if others is None:
            return self.verdicts
        return (*self.verdicts, *others.verdicts(self, segment.account_name if segment is not None else ""))


#: At most this many other accounts' names are checked per reader (the fan-out chunk's, capped).
OTHER_NAMES_MAX = 500


class OtherAccounts:
    """Other customers' names a draft must not state: the accounts the fan-out has at hand (one chunk).

    A bounded sample, not the customer table: a skeleton naming an account is caught for the
    readers it is drafted with, never by a lookup per customer. Names are keyed once; a skeleton
    is searched once per sample (set lookups on its word runs); the reader's own name never counts.
    """

    def __init__(self, names: Iterable[str], cap: int = OTHER_NAMES_MAX) -> None:
        distinct = islice(dict.fromkeys(n for n in names if n), cap)
        self.keyed: tuple[tuple[str, str], ...] = tuple((n, name_key(n)) for n in distinct)
        #: Per skeleton (by identity; kept alive here, so an id is never reused): the names it states.
        self._found: dict[int, tuple[Skeleton, list[str]]] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.keyed)

    def excluding(self, own: str) -> tuple[str, ...]:
        """The names to hold a reader's draft to (``Expectations.customer_names``): all but their own."""
        mine = name_key(own)
        return tuple(name for name, key in self.keyed if key != mine)

    def named_in(self, skeleton: Skeleton) -> list[str]:
        memo = self._found.get(id(skeleton))
        if memo is None:
            visible = skeleton.visible
            memo = self._found[id(skeleton)] = (skeleton, named(visible, word_grams(visible), self.keyed))
        return memo[1]

    def verdicts(self, skeleton: Skeleton, own: str) -> tuple[Verdict, ...]:
        found = self.named_in(skeleton)
        if not found:
            return ()
        mine = name_key(own)
        hits = [name for name in found if name_key(name) != mine]
        return (Verdict("other_customer", "names another customer: " + ", ".join(hits)),) if hits else ()


#: Channels whose text is the short block alone (SMS, social): two segments or a post leave no
#: room for a report's URL beside the status page's, so a post-mortem there states only the latter.
SHORT_CHANNELS: frozenset[Channel] = frozenset({Channel.sms, Channel.social})


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
        if facts.postmortem_url and channel not in SHORT_CHANNELS:
            wanted["postmortem_url"] = (facts.postmortem_url,)
        tone = self.policy.tone
        return Expectations(
            channel=channel,
            language=language,
            status_url=self.status_url,
            facts=wanted,
            placeholders=PLACEHOLDERS,
            banned_phrases=tuple(tone.banned_phrases),
            never_mention=tuple(tone.never_mention),
            internal_terms=facts.never_say,
            model_written=model_written,
            status=facts.status,
            quoted=(facts.cause,) if facts.cause else (),
            links=(facts.postmortem_url,) if facts.postmortem_url else (),
        )

    def reader_expectations(
        self,
        incident: Incident,
        channel: Channel,
        language: str,
        timezone: str,
        customer_names: Iterable[str] = (),
    ) -> Expectations:
        """What one reader's filled draft must satisfy: the skeleton's expectations with the time
        facts in the reader's zone and locale, no placeholder left, and other customers' names.

        A person's edit of a held draft is checked against these, so it is held to every rule the
        drafted words were (facts, tone, internal facts, language), not a cut-down set.
        """
        facts = facts_for(incident, self.policy)
        lang = self.catalogue.language_for(language)
        expect = self.expectations(facts, channel, lang)
        values = persona(facts, None, lang, timezone)

        def fill(text: str) -> str:
            return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)

        filled = {fact: tuple(fill(alt) for alt in alts) for fact, alts in expect.facts.items()}
        return replace(expect, facts=filled, placeholders=frozenset(), customer_names=tuple(customer_names))

    def skeleton(self, incident: Incident, channel: Channel, language: str) -> Skeleton:
        lang = self.catalogue.language_for(language)
        key = (incident.incident_id, incident.version, template_for(incident), channel.value, lang)
        found = self._skeletons.get(key)
        if found is None:
            facts = facts_for(incident, self.policy)
            found = self.checked(facts, self.render(facts, channel, lang), channel)
            _remember(self._skeletons, key, found, self._cache_size)
        return found

    def for_names(
        self, skeleton: Skeleton, incident: Incident, segment: CustomerSegment, others: OtherAccounts | None
    ) -> Skeleton:
        """``skeleton`` for this reader, held to ``others``' names: unchanged when it names none of them
        (but the reader); a model's that does gives way to the template's; a template's carries the
        verdict, so it is held for a person like any draft that fails validation."""
        extra = others.verdicts(skeleton, segment.account_name) if others is not None else ()
        if not extra:
            return skeleton
        if skeleton.draft.source is DraftSource.model:
            template = self.skeleton(incident, skeleton.channel, segment.language)
            fallback = self.for_names(template, incident, segment, others)
            return replace(fallback, detail={**fallback.detail, "names_fallback": "; ".join(map(str, extra))})
        return replace(skeleton, verdicts=(*skeleton.verdicts, *extra))

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
#: The command's record of the zone its reader's times are shown in, so an edit of a held draft
#: can be checked for the same times (``Drafter.reader_expectations``).
READER_TIMEZONE = "reader_timezone"


def draft(incident: Incident, segment: CustomerSegment, channel: Channel, status_url: str) -> Draft:
    """The template draft for one reader under the default policy (the targeting stage's first cut)."""
    drafter = _DEFAULT.get(status_url)
    if drafter is None:
        drafter = _DEFAULT.setdefault(status_url, Drafter(Policy(), status_url))
    return drafter.skeleton(incident, channel, segment.language).for_reader(segment)


class BlankCommands:
    """``command_for`` with the blank draft, for the readers of one incident version at one time.

    The review replaces every word of the draft, so a fan-out's commands start blank and differ
    only in the reader's fields: validated once per channel, each further one is the first with
    those fields replaced (``Record.replaced``). A command built and validated per reader cost
    about a tenth of the fan-out. ``tests/processors/draft`` holds it to ``command_for``.
    """

    def __init__(self, incident: Incident, *, now: datetime, dry_run: bool) -> None:
        self.incident = incident
        self.now = now
        self.dry_run = dry_run
        self.blank = Draft(template_for(incident), None, "", None)
        self._first: dict[Channel, NotificationCommand] = {}

    def __call__(self, segment: CustomerSegment, channel: Channel) -> NotificationCommand:
        first = self._first.get(channel)
        if first is None:
            first = command_for(self.incident, segment, channel, self.blank, now=self.now, dry_run=self.dry_run)
            self._first[channel] = first
            return first
        return first.replaced(**_reader_fields(self.incident, segment, channel))


def _reader_fields(incident: Incident, segment: CustomerSegment, channel: Channel) -> dict[str, Any]:
    """The fields of a command that are the reader's own: all that differ between a chunk's readers."""
    return {
        "notification_id": notification_id(incident.incident_id, incident.version, segment.customer_id, channel),
        "customer_id": segment.customer_id,
        "recipients": recipients(segment, channel),
        "metadata": {READER_TIMEZONE: segment.timezone},
    }


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
        **_reader_fields(incident, segment, channel),
        incident_id=incident.incident_id,
        incident_version=incident.version,
        channel=channel,
        language=words.language,
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

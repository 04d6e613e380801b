"""Send policy: does one customer hear about one incident version on one channel?

A customer hears the first time they are affected; after that only on news (a phase change,
or a severity worse than what they were last told) or once the update promised in the last
message is due — and never sooner than the cadence allows: the severity's interval (P1 30
min, P2 60, P3 2 h by default), the shorter extended-outage interval while detection's
``extended_outage`` flag stands without an ETA (no ETA 4 h into a customer-visible incident),
or an explicit ``next_update_at`` that is sooner, but never below the policy's
shortest interval. So a flapping incident can't message anyone more often than the cadence.
Every channel has a per-customer cap; resolution notices always pass, once. A P1/P2's published
post-mortem (a later resolved version, ``change`` "postmortem") goes once to each channel a
customer was told on, so its ledger keeps who was told past the resolution (``POSTMORTEM_WITHIN``).

Time is the incident's event time (``updated_at``), so a replay decides exactly as the live
run did. ``IncidentLedger`` is the durable memory behind the decision: who was told which
version on which channel, kept per incident and per customer-table partition as a few
records (a head and chunks of ids), not one record per customer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from forewarn.policy import CadenceRule
from forewarn.schemas.models import Channel, Incident, Phase, Severity

SEVERITY_RANK = {Severity.P4: 1, Severity.P3: 2, Severity.P2: 3, Severity.P1: 4}
EXTENDED_FLAG = "extended_outage"


class Verdict(StrEnum):
    first = "first_notice"
    news = "news"
    promised = "promised_update"
    resolution = "resolution"
    postmortem = "postmortem"
    handled = "already_handled"
    too_soon = "within_cadence"
    capped = "cap_reached"
    no_news = "no_news"
    never_told = "never_told"

    @property
    def sends(self) -> bool:
        return self in _SENDS


_SENDS = frozenset({Verdict.first, Verdict.news, Verdict.promised, Verdict.resolution, Verdict.postmortem})
#: Severities whose post-mortem is published (and announced to the customers who were told):
#: their ledgers keep who was told past the resolution, until the post-mortem version.
POSTMORTEM_SEVERITIES = frozenset({Severity.P1, Severity.P2})
#: A post-mortem published later than this after the resolution is not announced: the told
#: set is forgotten then, so a never-published post-mortem holds no storage for ever.
POSTMORTEM_WITHIN = timedelta(days=14)


def is_postmortem(incident: Incident) -> bool:
    return incident.change == "postmortem" and incident.phase is Phase.resolved


def keeps_told(incident: Incident) -> bool:
    """Whether closing on this version keeps who was told, for a post-mortem still to come."""
    return (
        incident.phase is Phase.resolved and not is_postmortem(incident) and incident.severity in POSTMORTEM_SEVERITIES
    )


def is_extended_outage(incident: Incident) -> bool:
    """Detection's verdict, carried on the record: flagged ``extended_outage`` (open and
    customer-visible with no ETA for ``rules.extended_outage_after``, 4 h by default) and
    still without an ETA. One rule, decided once, in detection; an ETA given since ends it."""
    return incident.phase is not Phase.resolved and EXTENDED_FLAG in incident.flags and incident.eta is None


def interval(incident: Incident, rule: CadenceRule) -> timedelta:
    """The cadence for this version: extended-outage interval, else the severity's."""
    if is_extended_outage(incident):
        return timedelta(minutes=rule.extended_outage_every_minutes)
    return timedelta(minutes=rule.every_minutes.get(incident.severity, max(rule.every_minutes.values())))


def floor(rule: CadenceRule) -> timedelta:
    """No promise brings the next message closer than the policy's shortest interval."""
    return timedelta(minutes=min([*rule.every_minutes.values(), rule.extended_outage_every_minutes]))


@dataclass(frozen=True, slots=True)
class Note:
    """What one incident version told customers, as far as cadence is concerned."""

    at: datetime
    phase: Phase
    severity: Severity
    #: When the next update was promised (explicit ``next_update_at`` or at + interval).
    promised_at: datetime

    @classmethod
    def of(cls, incident: Incident, rule: CadenceRule) -> Note:
        at = incident.updated_at
        promised = incident.next_update_at or at + interval(incident, rule)
        return cls(at, incident.phase, incident.severity, max(promised, at + floor(rule)))


@dataclass(frozen=True, slots=True)
class Told:
    """The last message one customer got about one incident on one channel."""

    version: int
    note: Note
    #: Messages so far, resolution not counted.
    count: int


def decide(told: Told | None, incident: Incident, rule: CadenceRule) -> Verdict:
    if told is not None and incident.version <= told.version:
        return Verdict.handled
    if is_postmortem(incident):  # only for whoever heard of the incident on this channel
        return Verdict.never_told if told is None else Verdict.postmortem
    if incident.phase is Phase.resolved:
        if told is None:
            return Verdict.never_told
        return Verdict.handled if told.note.phase is Phase.resolved else Verdict.resolution
    if told is None:
        return Verdict.first
    if told.note.phase is Phase.resolved:
        return Verdict.news  # reopened under the same id after they heard it was resolved
    if told.count >= rule.max_per_channel:
        return Verdict.capped
    now, last = incident.updated_at, told.note
    if now < min(last.at + interval(incident, rule), last.promised_at):
        return Verdict.too_soon
    if incident.phase is not last.phase or SEVERITY_RANK[incident.severity] > SEVERITY_RANK[last.severity]:
        return Verdict.news
    if now >= last.promised_at:
        return Verdict.promised
    return Verdict.no_news


CHANNEL_ORDER: tuple[Channel, ...] = tuple(Channel)
_SLOT = {c: i for i, c in enumerate(CHANNEL_ORDER)}
_NEVER: tuple[int, ...] = (0,) * (2 * len(CHANNEL_ORDER))


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class IncidentLedger:
    """Who was told which version of one incident on which channel, in one partition.

    Per customer it keeps only (last version, count) per channel, as a tuple shared by every
    customer with the same history — at 300,000 affected customers that is one dict entry
    each. ``record`` returns the bytes to persist (one chunk per batch of sends) and ``head``
    the small record naming the notes and how many chunks there are; ``restore`` rebuilds the
    ledger from them. A chunk is only recorded after its commands were acknowledged, so a
    restart never skips a message that was not sent.
    """

    def __init__(self, incident_id: str, partition: int) -> None:
        self.incident_id = incident_id
        self.partition = partition
        self.notes: dict[int, Note] = {}
        self.told: dict[str, tuple[int, ...]] = {}
        self.chunks = 0
        self.closed: int | None = None
        #: Closed but still holding who was told (a P1/P2 awaiting its post-mortem): epoch ms
        #: after which the told set is void.
        self.kept_until: int | None = None
        self._shared: dict[tuple[int, ...], tuple[int, ...]] = {}

    @property
    def head_key(self) -> bytes:
        return f"{self.incident_id}|{self.partition}|head".encode()

    def chunk_key(self, index: int) -> bytes:
        return f"{self.incident_id}|{self.partition}|{index}".encode()

    def told_on(self, customer_id: str, channel: Channel) -> Told | None:
        state = self.told.get(customer_id)
        if state is None:
            return None
        slot = 2 * _SLOT[channel]
        version = state[slot]
        note = self.notes.get(version)
        return None if version == 0 or note is None else Told(version, note, state[slot + 1])

    def record(self, version: int, note: Note, sent: Iterable[tuple[str, Iterable[Channel]]]) -> tuple[bytes, bytes]:
        """Remember the sends of one acknowledged batch; returns the chunk's key and record to persist.

        The key comes with the record because it depends on the chunk count this call advances:
        a key computed beside the call (``chunk_key(chunks)`` on the assignment's left) is
        evaluated after it, one past the key ``restore`` reads.
        """
        self.notes[version] = note
        by_channels: dict[str, list[str]] = {}
        for customer_id, channels in sent:
            names = ",".join(sorted(c.value for c in channels))
            if names:
                by_channels.setdefault(names, []).append(customer_id)
        self._apply(version, by_channels)
        key = self.chunk_key(self.chunks)
        self.chunks += 1
        return key, json.dumps({"v": version, "sent": by_channels}, separators=(",", ":")).encode()

    def _apply(self, version: int, by_channels: dict[str, list[str]]) -> None:
        counts = self.notes[version].phase is not Phase.resolved
        for names, customers in by_channels.items():
            slots = [2 * _SLOT[Channel(n)] for n in names.split(",")]
            for customer_id in customers:
                state = list(self.told.get(customer_id, _NEVER))
                for slot in slots:
                    state[slot] = version
                    state[slot + 1] += counts
                frozen = tuple(state)
                self.told[customer_id] = self._shared.setdefault(frozen, frozen)

    def close(self, version: int, keep_until: datetime | None = None) -> list[bytes]:
        """The incident is resolved and everyone told: forget the ids; returns the keys to delete.

        With ``keep_until`` the chunks stay (on disk; the caller drops the ledger from memory) so
        the post-mortem version can still find who was told, and nothing is returned to delete.
        """
        self.closed = version
        if keep_until is not None:
            self.kept_until = _ms(keep_until)
            return []
        keys = [self.chunk_key(i) for i in range(self.chunks)]
        self.chunks, self.kept_until = 0, None
        self.notes.clear()
        self.told.clear()
        self._shared.clear()
        return keys

    def head(self) -> bytes:
        notes = {
            str(v): [_ms(n.at), n.phase.value, n.severity.value, _ms(n.promised_at)] for v, n in self.notes.items()
        }
        head: dict[str, object] = {"notes": notes, "chunks": self.chunks, "closed": self.closed}
        if self.kept_until is not None:
            head["kept_until"] = self.kept_until
        return json.dumps(head).encode()

    def expired(self, at: datetime) -> bool:
        """A kept told set past its time: the caller forgets it (``close`` without keeping)."""
        return self.kept_until is not None and _ms(at) > self.kept_until

    @classmethod
    def restore(
        cls, incident_id: str, partition: int, head: bytes | None, chunk: Callable[[bytes], bytes | None]
    ) -> IncidentLedger:
        """Rebuild from the head and its chunks (``chunk(key)`` reads one)."""
        ledger = cls(incident_id, partition)
        if head is None:
            return ledger
        data = json.loads(head)
        ledger.closed = data["closed"]
        ledger.kept_until = data.get("kept_until")
        for v, (at, phase, severity, promised) in data["notes"].items():
            ledger.notes[int(v)] = Note(_at(at), Phase(phase), Severity(severity), _at(promised))
        for index in range(data["chunks"]):
            stored = chunk(ledger.chunk_key(index))
            if stored is not None:
                record = json.loads(stored)
                ledger._apply(record["v"], record["sent"])
        ledger.chunks = data["chunks"]
        return ledger


def kept_index_key(scope: str, partition: int) -> bytes:
    """The record listing one partition's ledgers that were closed but keep who was told.

    One per agent (``scope``) and partition, so two agents never rewrite each other's list.
    """
    return f"kept|{scope}|{partition}".encode()


def update_kept(
    stored: bytes | None, now: datetime, *, add: IncidentLedger | None = None, drop: str = ""
) -> tuple[bytes, list[str]]:
    """The kept-ledger list after adding or dropping one, and the ledger ids whose time is up.

    Sweeping here, whenever a P1/P2 closes or its post-mortem is handled, bounds the kept told
    sets to the incidents of the last ``POSTMORTEM_WITHIN`` without a timer of their own.
    """
    kept: dict[str, int] = json.loads(stored) if stored else {}
    kept.pop(drop, None)
    if add is not None and add.kept_until is not None:
        kept[add.incident_id] = add.kept_until
    expired = sorted(ledger_id for ledger_id, until in kept.items() if until < _ms(now))
    for ledger_id in expired:
        del kept[ledger_id]
    return json.dumps(kept, sort_keys=True, separators=(",", ":")).encode(), expired

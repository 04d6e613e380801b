"""What detection remembers per thread group and region: one Faust table value per key.

Times inside the state are epoch milliseconds (ints), the unit the windows compute in;
the published incidents carry datetimes. The state is JSON so an operator can read a
table entry, and everything in it is bounded: windows are dropped once closed, signal ids
and tombstones are capped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from forewarn.processors.cadence import POSTMORTEM_WITHIN, keeps_told
from forewarn.schemas.models import Incident, Phase

MAX_SEEN = 512
MAX_TOMBSTONES = 256
MAX_CLOSED = 32
#: P1/P2 incidents kept past ``MAX_CLOSED`` for their post-mortem (``GroupState.owed``).
MAX_OWED = 64
MAX_PROMISES = 16


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def to_ms(at: datetime) -> int:
    return (at - EPOCH) // MILLISECOND


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * MILLISECOND


# A plain dataclass, not a model: detection sets ``max_ts`` once per sample, and a pydantic
# model's ``__setattr__`` cost more than windowing the sample. Pydantic still validates and
# serialises it inside ``GroupState``, to the same JSON.
@dataclass(slots=True)
class Series:
    """The open windows of one service's metric: samples bucketed by window step."""

    max_ts: int | None = None
    #: Start of the earliest window not yet evaluated; windows before it are closed.
    next_start: int | None = None
    #: bucket start -> {sample time -> value}; keyed by time so a duplicate sample counts once.
    buckets: dict[int, dict[int, float]] = field(default_factory=dict)


class Hysteresis(BaseModel):
    """One rule (service, symptom): breaching after N bad windows, clean after M good ones."""

    breaching: bool = False
    #: Consecutive windows against the current state (bad while clean, good while breaching).
    run: int = 0
    run_start: int | None = None
    #: Start of the breach (first bad window of the run that opened it) and its latest bad window's end.
    breach_start: int | None = None
    breach_until: int | None = None
    outage: bool = False
    sla_breach: bool = False


class Track(BaseModel):
    """One open incident and the evidence keeping it open."""

    incident: Incident
    #: Alerts firing for it: source_ref -> since (ms).
    refs: dict[str, int] = Field(default_factory=dict)
    confirmed: bool = False
    #: Evidence so far lasted from incident.first_signal_at until here (ms).
    evidence_until: int
    #: Next updates promised to customers and not yet kept (ms, ascending, at most
    #: ``MAX_PROMISES``): one per customer-visible version, dropped once a later version came.
    promises: list[int] = Field(default_factory=list)
    #: Every signal cleared at this time (ms) and the incident is watched in ``monitoring``
    #: until ``rules.monitor_for`` passes quietly; None while evidence is live.
    quiet_since: int | None = None
    #: The phase it had before signals moved it to ``monitoring``, to return to on a relapse.
    phase_before: Phase | None = None


class GroupState(BaseModel):
    """Everything detection knows about one thread group in one region."""

    region: str = ""
    series: dict[str, Series] = Field(default_factory=dict)  # "service|metric"
    rules: dict[str, Hysteresis] = Field(default_factory=dict)  # "service|symptom"
    tracks: dict[str, Track] = Field(default_factory=dict)  # dedup key
    #: The latest event time seen in any signal of the group (ms).
    clock: int | None = None
    #: Recent alert event ids, to recognise duplicate deliveries.
    seen: list[str] = Field(default_factory=list)
    #: source_ref -> when it resolved (ms): a stale firing of a closed alert opens nothing.
    tombstones: dict[str, int] = Field(default_factory=dict)
    #: The final versions of recently closed incidents, so a false alarm can still be called.
    closed: list[Incident] = Field(default_factory=list)
    #: Final versions of P1/P2 incidents pushed out of ``closed`` while their post-mortem can
    #: still be announced (``POSTMORTEM_WITHIN`` of their resolution, as targeting keeps who was
    #: told): a busy group closes more than ``MAX_CLOSED`` in the week a post-mortem is due.
    #: Usually empty; at most ``MAX_OWED``, the oldest going first.
    owed: list[Incident] = Field(default_factory=list)
    late_samples: int = 0

    def remember(self, event_id: str) -> list[str]:
        """Keep ``event_id`` among the recent ids; returns the oldest ones it pushed out."""
        seen = self.seen
        seen.append(event_id)
        if len(seen) <= MAX_SEEN:
            return []
        dropped = seen[: len(seen) - MAX_SEEN]
        del seen[: len(dropped)]
        return dropped

    def bury(self, ref: str, at: int) -> None:
        self.tombstones[ref] = max(at, self.tombstones.get(ref, at))
        if len(self.tombstones) > MAX_TOMBSTONES:
            for old in sorted(self.tombstones, key=self.tombstones.__getitem__)[
                : len(self.tombstones) - MAX_TOMBSTONES
            ]:
                del self.tombstones[old]

    def retire(self, incident: Incident) -> None:
        closed = [*(i for i in self.closed if i.incident_id != incident.incident_id), incident]
        pushed_out = closed[:-MAX_CLOSED]
        self.closed = closed[-MAX_CLOSED:]
        if pushed_out or self.owed:
            owed = [i for i in self.owed if i.incident_id != incident.incident_id]
            owed += [i for i in pushed_out if keeps_told(i)]
            horizon = incident.updated_at - POSTMORTEM_WITHIN
            self.owed = [i for i in owed if i.updated_at >= horizon][-MAX_OWED:]

    def resolved(self, incident_id: str | None, at: datetime) -> Incident | None:
        """The final version of a closed incident: a recent one, else a P1/P2 resolved no longer
        than ``POSTMORTEM_WITHIN`` before ``at`` (its post-mortem can still be announced)."""
        found = next((i for i in self.closed if i.incident_id == incident_id), None)
        if found is not None:
            return found
        return next(
            (i for i in self.owed if i.incident_id == incident_id and at - i.updated_at <= POSTMORTEM_WITHIN), None
        )

    def advance(self, at: int) -> None:
        self.clock = at if self.clock is None else max(self.clock, at)

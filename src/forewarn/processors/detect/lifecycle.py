"""The incident lifecycle shared by every input: open, version, confirm, thread, close.

Times are epoch milliseconds of event time. Each change is published as a new version at
once (``emit``); ``sweep`` then re-derives what depends on all open incidents of the group
together — cascade threads and confirmation by a second signal — and publishes what changed.

Every customer-visible version promises the next update (``cadence.Note.of``: the
severity's interval, the extended-outage one, or a sooner ETA). A promise nobody kept with a
later version by its time is kept by time alone: a ``progress`` version (no phase change)
stamped at the promised time, so targeting's cadence lets it through as the promised update.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from forewarn.policy import Policy
from forewarn.processors import cadence
from forewarn.processors.detect import cascade, rules
from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.state import MAX_PROMISES, GroupState, Track, from_ms, to_ms
from forewarn.processors.detect.versions import EXTENDED_FLAGS, dedup_key, next_version, settled
from forewarn.schemas.models import Incident, IncidentKind, Phase


@dataclass
class Outcome:
    """What one batch or command produced, in publication order, and what it ignored."""

    incidents: list[Incident] = field(default_factory=list)
    late_samples: int = 0
    invalid_samples: int = 0
    duplicates: int = 0
    suppressed: int = 0
    #: Acknowledges that found no open incident for their service and symptom (already
    #: resolved, or never opened here): nothing to identify, but counted rather than lost.
    unmatched_acks: int = 0

    def extend(self, other: Outcome) -> Outcome:
        self.incidents += other.incidents
        for name in IGNORED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


#: The counts of what an ``Outcome`` ignored, by field name (the stage keeps running totals).
IGNORED: tuple[str, ...] = tuple(f.name for f in fields(Outcome) if f.name != "incidents")


class Lifecycle:
    def __init__(self, policy: Policy, graph: ServiceGraph, state: GroupState, region: str) -> None:
        self.policy, self.rules, self.graph = policy, policy.rules, graph
        self.state, self.region = state, region
        self.outcome = Outcome()

    def open(self, track: Track, at: int) -> None:
        self.state.tracks[track.incident.dedup_key] = track
        self.sweep(at, opened=track)

    def close(self, track: Track, change: str, at: int, **updates: Any) -> None:
        updates.setdefault("resolved_at", from_ms(max(at, to_ms(track.incident.opened_at))))
        self.emit(track, change, at, phase=Phase.resolved, **updates)
        del self.state.tracks[track.incident.dedup_key]
        self.state.retire(track.incident)
        for ref in track.refs:
            self.state.bury(ref, at)
        self.sweep(at)

    def emit(self, track: Track, change: str, at: int, **updates: Any) -> None:
        parent = updates.get("parent_incident_id", track.incident.parent_incident_id)
        updates.setdefault("internal", not track.confirmed or parent is not None)
        track.incident = next_version(track.incident, self.policy, change, from_ms(at), **updates)
        if track.incident.phase is not Phase.monitoring:  # a person moved it on: they close it
            track.quiet_since = track.phase_before = None
        self.outcome.incidents.append(track.incident)
        self.promised(track)

    def track_of(self, service: str, symptom: str) -> Track | None:
        """The open incident a signal of this symptom speaks for: its own, else one of the same
        customer impact (an availability breach joins the open outage, and the other way round)."""
        for candidate in rules.same_impact(symptom):
            track = self.state.tracks.get(dedup_key(service, self.region, candidate))
            if track is not None:
                return track
        return None

    def breaching(self, service: str, symptom: str) -> bool:
        """Whether a metric rule of this symptom, or of one meaning the same impact, still breaches."""
        for candidate in rules.same_impact(symptom):
            h = self.state.rules.get(f"{service}|{candidate}")
            if h is not None and h.breaching:
                return True
        return False

    # -- signals clear: monitoring, then resolved ------------------------------------------

    def cleared(self, track: Track, at: int, rule: str) -> None:
        """Every signal of the incident cleared. Customers who were told hear ``monitoring``
        first when the policy asks for a quiet period (``rules.monitor_for``); it resolves once
        the period passed with no signal back. Internal incidents were never announced, so
        there is nothing to watch in public: they resolve at once, as with no quiet period."""
        if not self.rules.monitor_for or track.incident.internal:
            self.close(track, "resolved", at, rule=rule)
            return
        track.quiet_since = at
        if track.incident.phase is Phase.monitoring:
            return  # a person already said it is being watched; only the quiet period starts
        before = track.incident.phase
        self.emit(track, "phase", at, phase=Phase.monitoring, rule=rule)
        track.phase_before = before

    def relapsed(self, track: Track, at: int, rule: str) -> None:
        """A signal came back while the incident was watched: live again, in its phase before.
        A person's own ``monitoring`` stays theirs; only the quiet period stops."""
        if track.quiet_since is None:
            return
        before = track.phase_before
        track.quiet_since = track.phase_before = None
        if before is not None and track.incident.phase is Phase.monitoring:
            self.emit(track, "phase", at, phase=before, rule=rule)

    def quiet_until(self, track: Track) -> int | None:
        if track.quiet_since is None:
            return None
        return track.quiet_since + int(self.rules.monitor_for.total_seconds() * 1000)

    def resolve_if_quiet(self, track: Track, now: int) -> bool:
        """The quiet period passed: resolved at its end, ``resolved_at`` when the signals cleared
        (the customer impact ended then; watching it is not part of the outage)."""
        until = self.quiet_until(track)
        if until is None or now < until:
            return False
        assert track.quiet_since is not None
        self.keep_promises(track, until - 1)  # a promise due while watching went out first
        minutes = int(self.rules.monitor_for.total_seconds() // 60)
        rule = f"monitoring: no signal for {minutes} min"
        self.close(track, "resolved", until, rule=rule, resolved_at=from_ms(track.quiet_since))
        return True

    def sweep(self, at: int, opened: Track | None = None) -> None:
        """Re-derive what depends on all open incidents together: threads and confirmation."""
        tracks = sorted(self.state.tracks.values(), key=lambda t: (t.incident.opened_at, t.incident.incident_id))
        members = [
            cascade.Member(t.incident.incident_id, t.incident.service, to_ms(t.incident.opened_at)) for t in tracks
        ]
        parent_of = cascade.parents(members, self.graph)
        children: dict[str, set[str]] = {}
        for t in tracks:
            parent = parent_of[t.incident.incident_id]
            if parent is not None:
                children.setdefault(parent, set()).add(t.incident.service)
        for t in tracks:
            self.confirm_if_due(t, len(tracks) > 1)
        if opened is not None:  # a parent is announced before its children point at it
            tracks.remove(opened)
            tracks.insert(0, opened)
        for t in tracks:
            inc = t.incident
            parent = parent_of[inc.incident_id]
            affected = sorted({*inc.affected_services, inc.service, *children.get(inc.incident_id, ())})
            internal = not t.confirmed or parent is not None
            if t is opened:
                update = {"parent_incident_id": parent, "affected_services": affected, "internal": internal}
                t.incident = settled(inc.model_copy(update=update), self.policy)
                self.outcome.incidents.append(t.incident)
                self.promised(t)
            elif (parent, affected, internal) != (inc.parent_incident_id, inc.affected_services, inc.internal):
                change = "confirmed" if inc.internal and not internal else "update"
                self.emit(t, change, at, parent_incident_id=parent, affected_services=affected, internal=internal)

    def confirm_if_due(self, track: Track, corroborated: bool) -> None:
        if track.confirmed:
            return
        first = to_ms(track.incident.first_signal_at)
        lasted = track.evidence_until - first >= int(self.rules.confirm_after.total_seconds() * 1000)
        sources = len(track.refs) + self.breaching(track.incident.service, track.incident.symptom)
        track.confirmed = corroborated or lasted or sources >= 2

    def clock(self, at: int) -> None:
        """Event time moved on: alerts still firing are still evidence; long outages get flagged."""
        state = self.state
        state.advance(at)
        now = state.clock if state.clock is not None else at
        confirm_after = int(self.rules.confirm_after.total_seconds() * 1000)
        for track in list(state.tracks.values()):
            if track.refs:
                track.evidence_until = max(track.evidence_until, now)
            if not track.confirmed and track.evidence_until - to_ms(track.incident.first_signal_at) >= confirm_after:
                self.sweep(max(to_ms(track.incident.first_signal_at) + confirm_after, to_ms(track.incident.updated_at)))
            if self.resolve_if_quiet(track, now):
                continue
            self.flag_extended(track, now)
            if track.incident.dedup_key in state.tracks:
                self.keep_promises(track, now)

    def next_due(self) -> int | None:
        """The earliest event time at which time alone would change an open incident here
        (an alert-backed incident confirmed by lasting, a long outage flagged, a promised
        update due), or None."""
        confirm_after = int(self.rules.confirm_after.total_seconds() * 1000)
        extended_after = int(self.rules.extended_outage_after.total_seconds() * 1000)
        due: list[int] = []
        for track in self.state.tracks.values():
            inc = track.incident
            if not track.confirmed and track.refs:
                due.append(to_ms(inc.first_signal_at) + confirm_after)
            elif not inc.internal and inc.eta is None and EXTENDED_FLAGS[0] not in inc.flags:
                due.append(to_ms(inc.opened_at) + extended_after)
            if promising(inc):
                due += self.pending(track)[:1]
            quiet = self.quiet_until(track)
            if quiet is not None:
                due.append(quiet)
        return min(due, default=None)

    def flag_extended(self, track: Track, now: int) -> None:
        inc = track.incident
        if inc.internal or inc.eta is not None or EXTENDED_FLAGS[0] in inc.flags:
            return
        boundary = to_ms(inc.opened_at) + int(self.rules.extended_outage_after.total_seconds() * 1000)
        if now >= boundary:
            self.emit(track, "update", boundary, flags=sorted({*inc.flags, *EXTENDED_FLAGS}))

    # -- promised updates ------------------------------------------------------------------

    def promise_of(self, incident: Incident) -> int:
        """When customers told this version were promised the next update (as targeting reckons it)."""
        return to_ms(cadence.Note.of(incident, self.policy.send_policy.rule(incident.kind)).promised_at)

    def promised(self, track: Track) -> None:
        """A version went out: promises it came after are kept, and it makes one if customers see it."""
        inc = track.incident
        if not promising(inc):
            return
        at = to_ms(inc.updated_at)
        pending = sorted({*(p for p in track.promises if p > at), self.promise_of(inc)})
        while len(pending) > MAX_PROMISES:  # bounded: the two closest merge into the later one
            i = min(range(len(pending) - 1), key=lambda k: (pending[k + 1] - pending[k], k))
            del pending[i]
        track.promises = pending

    def pending(self, track: Track) -> list[int]:
        """The promises not yet kept; a track from before promises were kept owes its latest version's."""
        return track.promises or [self.promise_of(track.incident)]

    def keep_promises(self, track: Track, now: int) -> None:
        """Event time reached a promised update with no version since: publish a ``progress`` version.

        Stamped at the promise, so replays decide exactly as the live run did. When time jumped
        past several promises at once (a long silence), only the last one due is published —
        customers get one current update, not a burst of stale ones."""
        while promising(track.incident):
            pending = self.pending(track)
            if pending[0] > now:
                return
            at = pending[0]
            while (
                following := self.promise_of(next_version(track.incident, self.policy, "progress", from_ms(at)))
            ) <= now:
                at = following
            self.emit(track, "progress", at)


def promising(incident: Incident) -> bool:
    """Customers were told this version and wait for the next: open, customer-visible, not maintenance
    (announced work keeps its own schedule)."""
    return (
        not incident.internal and incident.phase is not Phase.resolved and incident.kind is not IncidentKind.maintenance
    )

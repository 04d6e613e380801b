"""PagerDuty's ``dedup_key`` back to the incident its trigger opened, for as long as it may matter.

PagerDuty names an incident by ``dedup_key`` alone, and its acknowledge and resolve usually
carry nothing else. A key following forewarn's ``service|region|symptom`` convention says where
the incident lives; PagerDuty's own keys (``srv01/mysql``) say nothing, and any guess lands on
another (service, region) detection partition than the trigger's, where the acknowledge or
resolve finds no incident and is lost. So PagerDuty events pass a stage keyed by dedup key
before detection: a trigger records its identity under its key, and a key-only acknowledge or
resolve takes the identity of the trigger that used the key. Both travel one partition of that
stage, so a trigger's record is written before its acknowledge is read, and both reach the
signals topic in that order.

An acknowledge/resolve whose key no trigger used and which does not follow the convention
cannot be placed: it is dead-lettered (with the key), never guessed.

A route is kept while its incident may still hear from PagerDuty and, once resolved, for
``rules.dedup.resolved_grace`` more (PagerDuty redelivers; a duplicate resolve must still be
placed), but not forever: one entry per key ever used would grow without end. Each use stamps
the route with the stage's wall clock, not the event's time: a key-only event carries no time
of its own (it gets its receipt time, which a replay takes from the recording), a source's
clock can be off, and what the grace measures is how long after forewarn last saw the key a
late delivery may still come. ``tidy`` is the rule; a sweep asks with it, and the stage applies
it again when the request arrives (``on_sweep``), since the key may have been used in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from forewarn.policy_rules import DedupRules
from forewarn.processors.normalize import pagerduty
from forewarn.schemas.models import DedupSweep, ObservabilityEvent, SignalStatus, UtcDatetime


class DedupRoute(BaseModel):
    """Where the incident a dedup key names lives (its trigger's service, region and symptom),
    and what says how long that is worth remembering."""

    model_config = ConfigDict(frozen=True)

    service: str
    region: str
    symptom: str
    #: The stage's wall clock when it last used the route. None: stored before routes kept it
    #: (a sweep dates it, see ``tidy``).
    used_at: UtcDatetime | None = None
    #: PagerDuty resolved the incident (a trigger for the key since opens a new one: False again).
    resolved: bool = False

    def used(self, now: datetime, status: SignalStatus) -> DedupRoute:
        """The route after an event for its key, seen at ``now``. A late acknowledge does not
        undo a resolve. Never moved back: a worker whose clock is behind the last writer's
        (after a rebalance) must not shorten the route's life."""
        used_at = now if self.used_at is None else max(self.used_at, now)
        resolved = status is SignalStatus.resolved or (self.resolved and status is not SignalStatus.firing)
        return self.model_copy(update={"used_at": used_at, "resolved": resolved})


@dataclass(frozen=True, slots=True)
class Routed:
    """What to do with one event: forward it (placed), store a route, or dead-letter it."""

    event: ObservabilityEvent | None
    record: DedupRoute | None = None
    reason: str | None = None


def keyed_by_dedup(event: ObservabilityEvent) -> bool:
    """Events whose incident only their dedup key names (``source_ref``): PagerDuty's."""
    return event.source == "pagerduty"


def route(event: ObservabilityEvent, known: DedupRoute | None, now: datetime) -> Routed:
    """Place one PagerDuty event seen at ``now``, given the route its key (``source_ref``)
    recorded so far. Every event for a key with a route uses it: the route is stored again with
    the time and, for a resolve, the fact (which starts ``resolved_grace``)."""
    if event.status is SignalStatus.firing:
        since = None if known is None else known.used_at
        here = DedupRoute(service=event.service, region=event.region, symptom=event.symptom, used_at=since)
        return Routed(event, here.used(now, event.status))
    used = None if known is None else known.used(now, event.status)
    if pagerduty.KEY_ONLY not in event.labels:
        return Routed(event, used)  # it carried its own payload: it says where it belongs
    labels = {k: v for k, v in event.labels.items() if k != pagerduty.KEY_ONLY}
    if known is not None:
        placed = {"service": known.service, "region": known.region, "symptom": known.symptom, "labels": labels}
        return Routed(event.model_copy(update=placed), used)
    if pagerduty.convention(event.source_ref) is not None:
        return Routed(event.model_copy(update={"labels": labels}))  # where the key itself says
    return Routed(
        None,
        reason=(
            f"dedup_key: {event.source_ref!r} ({event.status.value}) names no trigger seen and does not "
            "read service|region|symptom, so its incident cannot be found"
        ),
    )


class Tidy(StrEnum):
    """What the retention rule makes of one stored route."""

    keep = "keep"  # its incident may still hear from PagerDuty
    undated = "undated"  # stored before routes kept their time: to be dated, then aged
    resolved = "resolved"  # resolved and unused for resolved_grace
    idle = "idle"  # unused for idle_max


def tidy(route: DedupRoute, now: datetime, rules: DedupRules) -> Tidy:
    """The rule, for the sweep that asks and the stage that acts alike.

    A route stored before routes kept their time says neither when it was last used nor whether
    its incident resolved. Taken as used whenever it is read, it would never go (every sweep
    reads it); taken as used long ago, an incident open across the upgrade would lose its route
    and its resolve be dead-lettered. So it is dated the first time a sweep finds it and from
    then ages like an unresolved route: gone ``idle_max`` after the upgrade unless used.
    """
    if route.used_at is None:
        return Tidy.undated
    unused = now - route.used_at
    if route.resolved and unused >= rules.resolved_grace:
        return Tidy.resolved
    if unused >= rules.idle_max:
        return Tidy.idle
    return Tidy.keep


def sweep_request(key: str, route: DedupRoute, now: datetime, rules: DedupRules) -> DedupSweep | None:
    """What a sweep asks the stage about one stored route: nothing while it is kept."""
    found = tidy(route, now, rules)
    if found is Tidy.keep:
        return None
    return DedupSweep(dedup_key=key, reason=found.value, last_used_at=route.used_at, swept_at=now)


@dataclass(frozen=True, slots=True)
class Swept:
    """What the stage does with a sweep's request: forget the route, store it dated, or nothing."""

    found: Tidy | None  # None: no route (forgotten already, the sweep asked twice)
    drop: bool = False
    record: DedupRoute | None = None


def on_sweep(known: DedupRoute | None, now: datetime, rules: DedupRules) -> Swept:
    """Decide again with the stage's own clock and the route as stored now: the sweep read it a
    while ago, and an event for the key in between keeps it."""
    if known is None:
        return Swept(None)
    found = tidy(known, now, rules)
    if found is Tidy.undated:
        return Swept(found, record=known.model_copy(update={"used_at": now}))
    return Swept(found, drop=found in (Tidy.resolved, Tidy.idle))

"""PagerDuty's ``dedup_key`` back to the incident its trigger opened.

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
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from forewarn.processors.normalize import pagerduty
from forewarn.schemas.models import ObservabilityEvent, SignalStatus


class DedupRoute(BaseModel):
    """Where the incident a dedup key names lives: its trigger's service, region and symptom."""

    model_config = ConfigDict(frozen=True)

    service: str
    region: str
    symptom: str


@dataclass(frozen=True, slots=True)
class Routed:
    """What to do with one event: forward it (placed), record a route, or dead-letter it."""

    event: ObservabilityEvent | None
    record: DedupRoute | None = None
    reason: str | None = None


def keyed_by_dedup(event: ObservabilityEvent) -> bool:
    """Events whose incident only their dedup key names (``source_ref``): PagerDuty's."""
    return event.source == "pagerduty"


def route(event: ObservabilityEvent, known: DedupRoute | None) -> Routed:
    """Place one PagerDuty event, given the route its key (``source_ref``) recorded so far."""
    if event.status is SignalStatus.firing:
        here = DedupRoute(service=event.service, region=event.region, symptom=event.symptom)
        return Routed(event, None if here == known else here)
    if pagerduty.KEY_ONLY not in event.labels:
        return Routed(event)  # it carried its own payload: it says where it belongs
    labels = {k: v for k, v in event.labels.items() if k != pagerduty.KEY_ONLY}
    if known is not None:
        placed = {"service": known.service, "region": known.region, "symptom": known.symptom, "labels": labels}
        return Routed(event.model_copy(update=placed))
    if pagerduty.convention(event.source_ref) is not None:
        return Routed(event.model_copy(update={"labels": labels}))  # where the key itself says
    return Routed(
        None,
        reason=(
            f"dedup_key: {event.source_ref!r} ({event.status.value}) names no trigger seen and does not "
            "read service|region|symptom, so its incident cannot be found"
        ),
    )

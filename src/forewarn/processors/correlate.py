"""Signals to incidents: one open incident per dedup key, a new version only on a real change.

This is the skeleton correlator (explicit alerts open, acks identify, resolves close);
windowed metric rules and hysteresis plug in behind the same ``correlate`` signature.
"""

from __future__ import annotations

from dataclasses import dataclass

from forewarn.policy import Policy
from forewarn.processors.classify import classify_kind, classify_severity
from forewarn.processors.ids import incident_id
from forewarn.schemas.models import Incident, ObservabilityEvent, Phase, SignalStatus

OPENING_SEVERITIES = frozenset({"critical", "error"})
MAX_SIGNAL_IDS = 50


def dedup_key(service: str, region: str, symptom: str) -> str:
    return f"{service}|{region}|{symptom}"


@dataclass(frozen=True)
class Correlation:
    """The state to keep for the dedup key, and the incident versions to publish (0 or more)."""

    state: Incident | None
    published: tuple[Incident, ...] = ()


def _title(event: ObservabilityEvent) -> str:
    what = {
        "outage": "outage",
        "error_rate": "elevated error rates",
        "latency": "slow responses",
        "availability": "reduced availability",
    }.get(event.symptom, "degraded service")
    where = "" if event.region == "global" else f" in {event.region.upper()}"
    return f"{event.service.capitalize()} {what}{where}"


def _open(event: ObservabilityEvent, policy: Policy) -> Incident:
    key = dedup_key(event.service, event.region, event.symptom)
    share = policy.service(event.service).declared_share
    return Incident(
        incident_id=incident_id(key, event.event_id),
        version=1,
        dedup_key=key,
        title=_title(event),
        service=event.service,
        region=event.region,
        symptom=event.symptom,
        phase=Phase.investigating,
        severity=classify_severity(symptom=event.symptom, flags=event.flags, share_affected=share),
        kind=classify_kind(
            symptom=event.symptom, region=event.region, customer_id=event.customer_id, flags=event.flags
        ),
        change="opened",
        opened_at=event.occurred_at,
        updated_at=event.occurred_at,
        first_signal_at=event.occurred_at,
        summary=event.summary,
        rule=f"{event.source}:{event.source_ref}",
        signal_ids=[event.event_id],
        affected_services=[event.service],
        customer_id=event.customer_id,
        share_affected=share,
        flags=list(event.flags),
    )


def _next(current: Incident, event: ObservabilityEvent, **changes: object) -> Incident:
    signal_ids = [*current.signal_ids, event.event_id][-MAX_SIGNAL_IDS:]
    return current.model_copy(
        update={
            "version": current.version + 1,
            "updated_at": max(current.updated_at, event.occurred_at),
            "rule": f"{event.source}:{event.source_ref}",
            "signal_ids": signal_ids,
            **changes,
        }
    )


def correlate(current: Incident | None, event: ObservabilityEvent, policy: Policy) -> Correlation:
    """Apply one signal to the open incident of its dedup key (if any)."""
    if current is not None and event.event_id in current.signal_ids:
        return Correlation(current)  # a duplicate delivery changes nothing
    if current is None:
        if event.status is SignalStatus.firing and (
            event.severity in OPENING_SEVERITIES or event.symptom == "outage"
        ):
            opened = _open(event, policy)
            return Correlation(opened, (opened,))
        return Correlation(None)
    if event.status is SignalStatus.resolved:
        resolved = _next(
            current, event, phase=Phase.resolved, change="resolved", resolved_at=event.occurred_at
        )
        return Correlation(None, (resolved,))
    if event.status is SignalStatus.acknowledged and current.phase is Phase.investigating:
        identified = _next(current, event, phase=Phase.identified, change="phase")
        return Correlation(identified, (identified,))
    # A repeated firing signal: remember it, but never start a new broadcast.
    kept = current.model_copy(update={"signal_ids": [*current.signal_ids, event.event_id][-MAX_SIGNAL_IDS:]})
    return Correlation(kept)

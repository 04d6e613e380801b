"""Building incident versions: the first one, and each change after it.

Every change is a whole new ``Incident`` record with the version one higher and
``updated_at`` never earlier than before, so consumers can keep the latest by version and
replays produce byte-identical records (all times come from the signals or commands).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from forewarn.policy import Policy
from forewarn.processors import cadence
from forewarn.processors.classify import classify_kind, classify_severity
from forewarn.processors.ids import incident_id
from forewarn.schemas.models import Incident, Phase

MAX_SIGNAL_IDS = 50
EXTENDED_FLAG = cadence.EXTENDED_FLAG
#: What an extended outage asks of people: an executive note and pre-approved SLA credits.
EXTENDED_FLAGS = (EXTENDED_FLAG, "executive_note", "sla_credit")

_WHAT = {
    "outage": "outage",
    "error_rate": "elevated error rates",
    "latency": "slow responses",
    "availability": "reduced availability",
    "maintenance": "scheduled maintenance",
}


def dedup_key(service: str, region: str, symptom: str) -> str:
    return f"{service}|{region}|{symptom}"


def title(service: str, region: str, symptom: str) -> str:
    where = "" if region == "global" else f" in {region.upper()}"
    return f"{service.capitalize()} {_WHAT.get(symptom, 'degraded service')}{where}"


def first_version(
    *,
    policy: Policy,
    service: str,
    region: str,
    symptom: str,
    opened_by: str,
    at: datetime,
    first_signal_at: datetime,
    summary: str,
    rule: str,
    flags: list[str],
    customer_id: str | None = None,
    signal_ids: list[str] | None = None,
) -> Incident:
    key = dedup_key(service, region, symptom)
    share = policy.service(service).declared_share
    incident = Incident(
        incident_id=incident_id(key, opened_by),
        version=1,
        dedup_key=key,
        title=title(service, region, symptom),
        service=service,
        region=region,
        symptom=symptom,
        phase=Phase.investigating,
        severity=classify_severity(symptom=symptom, flags=flags, share_affected=share),
        kind=classify_kind(symptom=symptom, region=region, customer_id=customer_id, flags=flags),
        change="opened",
        internal=True,
        opened_at=at,
        updated_at=at,
        first_signal_at=first_signal_at,
        summary=summary,
        rule=rule,
        signal_ids=list(signal_ids or []),
        affected_services=[service],
        customer_id=customer_id,
        share_affected=share,
        flags=sorted(set(flags)),
    )
    return incident.model_copy(update={"next_update_at": next_update_at(incident, policy)})


def next_version(current: Incident, policy: Policy, change: str, at: datetime, **updates: Any) -> Incident:
    """The next version: ``updates`` applied, severity and kind re-derived, cadence hint renewed."""
    merged = current.model_copy(
        update={"version": current.version + 1, "change": change, "updated_at": max(current.updated_at, at), **updates}
    )
    merged = reclassified(merged)
    return merged.model_copy(update={"next_update_at": next_update_at(merged, policy)})


def settled(incident: Incident, policy: Policy) -> Incident:
    """Severity, kind and cadence hint brought in line with the rest of the record."""
    incident = reclassified(incident)
    return incident.model_copy(update={"next_update_at": next_update_at(incident, policy)})


def reclassified(incident: Incident) -> Incident:
    if "maintenance" in incident.flags:
        return incident
    severity = classify_severity(symptom=incident.symptom, flags=incident.flags, share_affected=incident.share_affected)
    kind = classify_kind(
        symptom=incident.symptom, region=incident.region, customer_id=incident.customer_id, flags=incident.flags
    )
    if severity is incident.severity and kind is incident.kind:
        return incident
    return incident.model_copy(update={"severity": severity, "kind": kind})


def next_update_at(incident: Incident, policy: Policy) -> datetime | None:
    """When customers should hear next: the cadence of the severity (tighter in an extended
    outage), or the ETA if that comes sooner. A hint for the cadence stage, which decides."""
    if incident.phase is Phase.resolved:
        return None
    due = incident.updated_at + cadence.interval(incident, policy.send_policy.rule(incident.kind))
    if incident.eta is not None and incident.updated_at < incident.eta < due:
        return incident.eta
    return due


def with_signal(incident: Incident, event_id: str) -> list[str]:
    return [*incident.signal_ids, event_id][-MAX_SIGNAL_IDS:]

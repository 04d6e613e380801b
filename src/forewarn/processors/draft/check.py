"""The start-up check: every template renders and validates in every language and channel.

A template that does not render, a missing translation, or a policy whose tone makes every
draft fail (a banned phrase the templates use, a channel without a template) is found when the
worker starts — with the file, block and rule named — instead of when an incident is live.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from forewarn.policy import Policy
from forewarn.processors.draft import CHANNELS, TEMPLATES, Catalogue, Drafter, DraftError
from forewarn.schemas.models import Incident, IncidentKind, Phase, Severity

_T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_M = timedelta(minutes=1)
_VERSIONS: dict[str, dict[str, Any]] = {
    "initial": {},
    "update": {"change": "phase", "phase": Phase.identified, "cause": "A configuration change overloaded the API."},
    "resolution": {
        "change": "resolved",
        "phase": Phase.resolved,
        "resolved_at": _T0 + 50 * _M,
        "flags": ["sla_breach"],
    },
    # Maintenance is scheduled ahead (opened_at) of its window (window_starts_at, eta its end), so
    # a message stating opened_at as the start shows the wrong day.
    "maintenance_scheduled": {
        "kind": IncidentKind.maintenance,
        "severity": Severity.P3,
        "symptom": "maintenance",
        "change": "scheduled",
        "window_starts_at": _T0 + 2 * 24 * 60 * _M,
        "eta": _T0 + (2 * 24 * 60 + 120) * _M,
        "next_update_at": None,
    },
    "maintenance_start": {
        "kind": IncidentKind.maintenance,
        "change": "started",
        "opened_at": _T0 - 2 * 24 * 60 * _M,
        "window_starts_at": _T0,
        "eta": _T0 + 120 * _M,
    },
    "maintenance_end": {
        "kind": IncidentKind.maintenance,
        "change": "resolved",
        "phase": Phase.resolved,
        "opened_at": _T0 - 2 * 24 * 60 * _M,
        "window_starts_at": _T0,
        "resolved_at": _T0 + 110 * _M,
    },
    "maintenance_overrun": {
        "kind": IncidentKind.maintenance,
        "change": "overrun",
        "opened_at": _T0 - 2 * 24 * 60 * _M,
        "window_starts_at": _T0,
        "eta": _T0 + 180 * _M,
    },
    "false_alarm": {"change": "false_alarm", "phase": Phase.resolved, "resolved_at": _T0 + 10 * _M},
    "executive_note": {"change": "extended", "updated_at": _T0 + 190 * _M, "eta": _T0 + 240 * _M},
    "postmortem": {
        "change": "postmortem",
        "phase": Phase.resolved,
        "resolved_at": _T0 + 50 * _M,
        "cause": "A database failover took longer than expected.",
        "postmortem_url": "https://blog.example.com/postmortems/payments-2026-01-05",
    },
    "maintenance_cancelled": {
        "kind": IncidentKind.maintenance,
        "severity": Severity.P3,
        "symptom": "maintenance",
        "change": "cancelled",
        "phase": Phase.resolved,
        "opened_at": _T0 + 2 * 24 * 60 * _M,
        "updated_at": _T0 + 2 * 24 * 60 * _M,
        "resolved_at": _T0 + 2 * 24 * 60 * _M,
        "eta": _T0 + (2 * 24 * 60 + 120) * _M,
        "next_update_at": None,
    },
    # the operator moves the end 30 minutes earlier a day before the window begins
    "maintenance_rescheduled": {
        "kind": IncidentKind.maintenance,
        "severity": Severity.P3,
        "symptom": "maintenance",
        "change": "update",
        "updated_at": _T0 + 24 * 60 * _M,
        "window_starts_at": _T0 + 2 * 24 * 60 * _M,
        "eta": _T0 + (2 * 24 * 60 + 90) * _M,
        "next_update_at": None,
    },
}


def sample_incident(template: str, *, at: datetime = _T0, service: str = "payments") -> Incident:
    """A plausible incident version that calls for ``template`` (versions differ per template)."""
    shift = at - _T0
    base = Incident(
        incident_id="inc_sample",
        version=1 + TEMPLATES.index(template),
        dedup_key=f"{service}|eu-west|outage",
        title=f"{service.capitalize()} outage in EU-WEST",
        service=service,
        region="eu-west",
        symptom="outage",
        phase=Phase.investigating,
        severity=Severity.P1,
        kind=IncidentKind.regional_outage,
        change="opened",
        opened_at=_T0,
        updated_at=_T0,
        first_signal_at=_T0,
        next_update_at=_T0 + 30 * _M,
    )
    changed = base.model_copy(update=_VERSIONS[template])
    moved = {k: v + shift for k, v in changed.model_dump().items() if isinstance(v, datetime)}
    return changed.model_copy(update=moved)


def check_templates(policy: Policy, status_url: str, catalogue: Catalogue | None = None) -> list[str]:
    """Problems that would make drafting fail at send time; empty when all is well."""
    try:
        drafter = Drafter(policy, status_url, catalogue)
    except DraftError as exc:
        return [str(exc)]
    problems = []
    for severity, channels in policy.channels.items():
        for channel in channels:
            if channel not in CHANNELS:
                problems.append(f"policy channels.{severity.value}: no template for channel {channel.value!r}")
    for language in drafter.catalogue.languages:
        for template in TEMPLATES:
            incident = sample_incident(template)
            for channel in CHANNELS:
                try:
                    skeleton = drafter.skeleton(incident, channel, language)
                except DraftError as exc:
                    problems.append(str(exc))
                    break
                for verdict in skeleton.verdicts:
                    problems.append(f"{language}/{template} on {channel.value} fails validation: {verdict}")
    return sorted(set(problems))

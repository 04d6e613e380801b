"""The public status page as data: components, incidents with their updates, maintenance, history.

Derived, with no state of its own, from the incident versions in the record (90 days of them),
so the page can never disagree with what customers were told. The shapes follow Atlassian
Statuspage's public API (``/api/v2/summary.json``) so existing widgets read forewarn's page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from forewarn.policy import Policy
from forewarn.processors.draft.facts import window_pending, window_starts
from forewarn.processors.ids import stable_id
from forewarn.schemas.models import Incident, IncidentKind, Phase, Severity

HISTORY_DAYS = 90
#: Statuspage component states, best to worst.
STATES = ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")
IMPACT = {Severity.P1: "critical", Severity.P2: "major", Severity.P3: "minor", Severity.P4: "none"}
INDICATOR_TEXT = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
    "maintenance": "Service Under Maintenance",
}


_PHASE_WORDS = {
    Phase.investigating: "We are investigating",
    Phase.identified: "We have identified the cause of",
    Phase.monitoring: "A fix is in place and we are monitoring",
    Phase.resolved: "Resolved:",
}


def update_body(incident: Incident) -> str:
    """What the public page says for one version.

    Never the incident's ``summary``: for a detected incident that is the alert's annotation or
    the metric that breached (internal hosts, thresholds), which customers must not read. Words
    come from the phase and the generated title; a maintenance window's summary is the notice
    the operator wrote for customers, so it is shown.
    """
    if incident.kind is IncidentKind.maintenance and incident.summary:
        return incident.summary
    where = (
        ""
        if incident.region == "global" or incident.region.lower() in incident.title.lower()
        else (f" in {incident.region.upper()}")
    )
    text = f"{_PHASE_WORDS[incident.phase]} {incident.title}{where}."
    if incident.eta is not None and incident.phase is not Phase.resolved:
        text += f" Expected resolution: {incident.eta.strftime('%b %d, %H:%M')} UTC."
    return text


def component_state(incident: Incident) -> str:
    if incident.kind is IncidentKind.maintenance:
        return "under_maintenance"
    if incident.severity is Severity.P1:
        return "major_outage"
    if incident.severity is Severity.P2:
        return "partial_outage"
    return "degraded_performance"


def worst(states: Iterable[str]) -> str:
    return max(states, key=STATES.index, default="operational")


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Story:
    """One incident as the page tells it: every public version, oldest first."""

    versions: list[Incident]
    postmortem_url: str | None = None

    @property
    def latest(self) -> Incident:
        return self.versions[-1]

    @property
    def services(self) -> list[str]:
        return sorted({self.latest.service, *self.latest.affected_services})

    @property
    def is_maintenance(self) -> bool:
        return self.latest.kind is IncidentKind.maintenance

    @property
    def resolved(self) -> bool:
        return self.latest.phase is Phase.resolved

    def maintenance_status(self) -> str:
        if self.resolved or self.latest.change in ("completed", "ended"):
            return "completed"
        # a new end set before the window began is still scheduled work, not work in progress
        pending = self.latest.change == "scheduled" or window_pending(self.latest)
        return "scheduled" if pending else "in_progress"

    def window_starts(self) -> datetime:
        """When the maintenance window begins, as customers were told (not when it was scheduled)."""
        return window_starts(self.latest)


@dataclass
class StatusPage:
    name: str
    url: str
    now: datetime
    components: list[str]
    stories: list[Story] = field(default_factory=list)

    def active(self) -> list[Story]:
        return [s for s in self.stories if not s.resolved and not s.is_maintenance]

    def maintenance(self) -> list[Story]:
        return [s for s in self.stories if s.is_maintenance]

    def component_states(self) -> dict[str, str]:
        states: dict[str, list[str]] = {c: [] for c in self.components}
        for story in self.stories:
            live = not story.resolved and (not story.is_maintenance or story.maintenance_status() == "in_progress")
            if live:
                for service in story.services:
                    states.setdefault(service, []).append(component_state(story.latest))
        return {c: worst(s) for c, s in states.items()}

    def indicator(self) -> str:
        active = self.active()
        if not active:
            in_maintenance = any(s.maintenance_status() == "in_progress" for s in self.maintenance())
            return "maintenance" if in_maintenance else "none"
        order = ["none", "minor", "major", "critical"]
        return max((IMPACT[s.latest.severity] for s in active), key=order.index)

    def history(self) -> dict[str, list[tuple[date, str]]]:
        """Per component, the worst state of each of the last 90 days (oldest first)."""
        today = self.now.date()
        days = [today - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1)]
        worst_by_day: dict[str, dict[date, list[str]]] = defaultdict(lambda: defaultdict(list))
        for story in self.stories:
            if story.is_maintenance:
                continue
            start = story.versions[0].first_signal_at.date()
            end = (story.latest.resolved_at or self.now).date()
            for service in story.services:
                day = max(start, days[0])
                while day <= end:
                    worst_by_day[service][day].append(component_state(story.latest))
                    day += timedelta(days=1)
        return {c: [(d, worst(worst_by_day[c][d])) for d in days] for c in self.components}


def build_page(
    versions: Sequence[Incident],
    policy: Policy,
    *,
    name: str,
    url: str,
    now: datetime,
    postmortems: Mapping[str, str] | None = None,
) -> StatusPage:
    """Public incidents only: internal ones and versions not yet told to customers stay off the page.

    ``postmortems`` (incident id -> URL, from the audit rows) is the fallback for incidents whose
    versions carry no ``postmortem_url``: those published before it existed.
    """
    by_incident: dict[str, list[Incident]] = defaultdict(list)
    for version in sorted(versions, key=lambda v: (v.incident_id, v.version)):
        if not version.internal and policy.service(version.service).customer_facing:
            by_incident[version.incident_id].append(version)
    stories = [Story(v, _postmortem_url(v) or (postmortems or {}).get(i)) for i, v in by_incident.items()]
    stories.sort(key=lambda s: s.latest.updated_at, reverse=True)
    components = sorted({*policy.services, *(svc for s in stories for svc in s.services)})
    return StatusPage(name, url, now, components, stories)


def _postmortem_url(versions: Sequence[Incident]) -> str | None:
    """The report the incident's post-mortem version names, before the publication's audit row
    (``postmortems``): that is what its customers were sent. Versions stored before the field
    have none, and the audit row is all there is. Only http(s) is linked (the page's HTML puts it
    in an href)."""
    for version in reversed(versions):
        url = version.postmortem_url
        if url and url.startswith(("https://", "http://")):
            return url
    return None


def component_id(page: StatusPage, service: str) -> str:
    return stable_id(page.url, "component", service, size=6)


def _component(page: StatusPage, service: str, state: str, position: int, policy: Policy) -> dict[str, Any]:
    return {
        "id": component_id(page, service),
        "name": policy.service(service).display_name or service.capitalize(),
        "status": state,
        "created_at": None,
        "updated_at": _iso(page.now),
        "position": position,
        "description": None,
        "showcase": True,
        "start_date": None,
        "group_id": None,
        "page_id": page_id(page),
        "group": False,
        "only_show_if_degraded": False,
    }


def page_id(page: StatusPage) -> str:
    return stable_id(page.url, size=6)


def _updates(page: StatusPage, story: Story) -> list[dict[str, Any]]:
    out = []
    for v in reversed(story.versions):  # newest first, as Statuspage lists them
        out.append(
            {
                "id": stable_id(v.incident_id, v.version, size=6),
                "status": v.phase.value,
                "body": update_body(v),
                "incident_id": v.incident_id,
                "created_at": _iso(v.updated_at),
                "updated_at": _iso(v.updated_at),
                "display_at": _iso(v.updated_at),
                "affected_components": [
                    {"code": component_id(page, s), "name": s.capitalize(), "new_status": component_state(v)}
                    for s in story.services
                ],
            }
        )
    return out


def incident_json(page: StatusPage, story: Story) -> dict[str, Any]:
    latest, first = story.latest, story.versions[0]
    monitoring = next((v.updated_at for v in story.versions if v.phase is Phase.monitoring), None)
    body: dict[str, Any] = {
        "id": latest.incident_id,
        "name": latest.title,
        "status": story.maintenance_status() if story.is_maintenance else latest.phase.value,
        "created_at": _iso(first.opened_at),
        "updated_at": _iso(latest.updated_at),
        "monitoring_at": _iso(monitoring),
        "resolved_at": _iso(latest.resolved_at),
        "impact": IMPACT[latest.severity],
        "shortlink": f"{page.url}/incidents/{latest.incident_id}",
        "started_at": _iso(first.first_signal_at),
        "page_id": page_id(page),
        "incident_updates": _updates(page, story),
        "components": [_component(page, s, component_state(latest), i, Policy()) for i, s in enumerate(story.services)],
        "postmortem_url": story.postmortem_url,
    }
    if story.is_maintenance:
        body["scheduled_for"] = _iso(story.window_starts())
        body["scheduled_until"] = _iso(latest.eta)
    return body


def summary_json(page: StatusPage, policy: Policy) -> dict[str, Any]:
    """``/api/v2/summary.json`` in Atlassian Statuspage's shape."""
    indicator = page.indicator()
    states = page.component_states()
    return {
        "page": {
            "id": page_id(page),
            "name": page.name,
            "url": page.url,
            "time_zone": "Etc/UTC",
            "updated_at": _iso(page.now),
        },
        "components": [_component(page, c, states[c], i, policy) for i, c in enumerate(page.components)],
        "incidents": [incident_json(page, s) for s in page.active()],
        "scheduled_maintenances": [
            incident_json(page, s) for s in page.maintenance() if s.maintenance_status() != "completed"
        ],
        "status": {
            "indicator": "none" if indicator == "maintenance" else indicator,
            "description": INDICATOR_TEXT[indicator],
        },
    }

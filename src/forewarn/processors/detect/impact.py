"""Summing targeting's impact reports into one share of customers affected.

Targeting answers an incident version from every customer-table partition separately; each
``ImpactReport`` says how many of that partition's active customers are affected and how many
partitions report. Once every partition has reported for a version, the sum is complete and
detection re-classifies severity by it. A tally also remembers which detection key owns the
incident (learned from the incidents topic), because reports are keyed by incident id.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from forewarn.processors.ids import stable_id
from forewarn.schemas.models import ImpactReport, Incident, OperatorCommand


class Tally(BaseModel):
    #: ``group|region`` of the detection state holding the incident; None until seen.
    route: str | None = None
    #: Event time of the newest incident version seen: what a severity change is stamped with.
    event_time: datetime | None = None
    closed: bool = False
    version: int = 0
    partitions: int = 0
    reports: dict[int, tuple[int, int]] = Field(default_factory=dict)  # partition -> (affected, active)
    forwarded_version: int = 0


def note_version(tally: Tally, incident: Incident, route: str) -> None:
    tally.route = route
    if tally.event_time is None or incident.updated_at > tally.event_time:
        tally.event_time = incident.updated_at
    tally.closed = tally.closed or incident.resolved_at is not None


def add_report(tally: Tally, report: ImpactReport) -> None:
    """Keep the newest version's reports; an older version's report is out of date."""
    if report.incident_version < tally.version:
        return
    if report.incident_version > tally.version or report.partitions != tally.partitions:
        tally.version, tally.partitions, tally.reports = report.incident_version, report.partitions, {}
    tally.reports[report.partition] = (report.affected, report.active_total)


def complete_share(tally: Tally, incident_id: str) -> OperatorCommand | None:
    """The ``impact`` command for detection, once per version, when every partition reported."""
    if tally.route is None or tally.event_time is None or tally.closed:
        return None
    if tally.partitions <= 0 or tally.forwarded_version >= tally.version or len(tally.reports) < tally.partitions:
        return None
    tally.forwarded_version = tally.version
    return OperatorCommand(
        command_id=stable_id("impact", incident_id, tally.version),
        action="impact",
        issued_at=tally.event_time,
        issued_by="targeting",
        incident_id=incident_id,
        affected=sum(a for a, _ in tally.reports.values()),
        active_total=sum(t for _, t in tally.reports.values()),
    )

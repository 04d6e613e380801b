"""Maintenance windows: announced work whose alerts are expected, not news.

A window has one *owner* (the partition of its id on the operator topic) that tells
customers when it is scheduled, when it starts, when it overruns and when it ends, as
versions of one ``kind=maintenance`` incident. Detection partitions hold a copy of every
window to suppress the affected service's alerts, and report the passing of event time to
the owner as ticks, because only signals move event time forward.

Overrun: if work is still running ``overrun_notice`` before the (revised) end, the end moves
by ``overrun_extension`` and customers hear the revised end; running ``sla_credit_after``
past the planned end flags an SLA credit. Each boundary is stamped with its own time, so the
versions are the same however coarse the ticks were.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from forewarn.policy import Policy
from forewarn.policy_rules import MaintenanceRules
from forewarn.processors.detect.state import to_ms
from forewarn.processors.detect.versions import dedup_key, next_update_at, next_version
from forewarn.processors.ids import stable_id
from forewarn.schemas.models import Incident, IncidentKind, OperatorCommand, Phase, Severity

IMPACT_SEVERITY = {"none": Severity.P4, "degraded": Severity.P3, "outage": Severity.P2}
SLA_FLAG = "sla_credit"


class MaintenanceError(ValueError):
    """A maintenance command that cannot apply (unknown window, already over, bad times)."""


class Status(StrEnum):
    scheduled = "scheduled"
    in_progress = "in_progress"
    completed = "completed"
    cancelled = "cancelled"


def maintenance_id(service: str, region: str | None, starts_at: datetime, ends_at: datetime) -> str:
    return "mnt_" + stable_id(service, region, starts_at.isoformat(), ends_at.isoformat(), size=8)


# -- what detection partitions keep ------------------------------------------------------


class Window(BaseModel):
    maintenance_id: str
    service: str
    region: str | None = None
    starts_at: int  # ms
    #: Suppression ends here: the completion, or the planned end plus ``suppress_at_most``.
    until: int  # ms
    finished: bool = False


def window_of(command: OperatorCommand) -> Window:
    """The broadcast ``maintenance_window`` command as the copy a detection partition keeps."""
    if command.maintenance_id is None or command.service is None or command.starts_at is None:
        raise MaintenanceError("maintenance_window needs maintenance_id, service and starts_at")
    until = command.completed_at or command.ends_at
    if until is None:
        raise MaintenanceError("maintenance_window needs ends_at or completed_at")
    return Window(
        maintenance_id=command.maintenance_id,
        service=command.service,
        region=command.region,
        starts_at=to_ms(command.starts_at),
        until=to_ms(until),
        finished=command.completed_at is not None or command.impact == "cancelled",
    )


def suppressed(windows: Iterable[Window], service: str, region: str, at: int) -> bool:
    return any(w.service == service and w.region in (None, region) and w.starts_at <= at < w.until for w in windows)


# -- the owner ---------------------------------------------------------------------------


class Plan(BaseModel):
    """The owner's state of one window."""

    maintenance_id: str
    service: str
    region: str | None
    impact: str
    starts_at: datetime
    planned_end: datetime
    current_end: datetime
    status: Status = Status.scheduled
    clock: datetime
    sla_credit: bool = False
    completed_at: datetime | None = None
    incident: Incident
    #: Recent command ids, so a command delivered twice is applied once.
    applied: list[str] = Field(default_factory=list)

    def remember(self, command_id: str) -> None:
        self.applied = [*self.applied, command_id][-64:]


def schedule(command: OperatorCommand, policy: Policy) -> tuple[Plan, list[Incident]]:
    service, starts, ends = command.service, command.starts_at, command.ends_at
    if service is None or starts is None or ends is None:
        raise MaintenanceError("maintenance_schedule needs service, starts_at and ends_at")
    if ends <= starts:
        raise MaintenanceError(f"ends_at {ends.isoformat()} is not after starts_at {starts.isoformat()}")
    impact = command.impact or "degraded"
    if impact not in IMPACT_SEVERITY:
        raise MaintenanceError(f"impact {impact!r} is not one of {', '.join(IMPACT_SEVERITY)}")
    mid = command.maintenance_id or maintenance_id(service, command.region, starts, ends)
    region = command.region or "global"
    at = command.issued_at
    incident = Incident(
        incident_id=mid,
        version=1,
        dedup_key=dedup_key(service, region, "maintenance"),
        title=f"Scheduled maintenance: {service.capitalize()}"
        + ("" if region == "global" else f" in {region.upper()}"),
        service=service,
        region=region,
        symptom="maintenance",
        phase=Phase.identified,
        severity=IMPACT_SEVERITY[impact],
        kind=IncidentKind.maintenance,
        change="scheduled",
        opened_at=at,
        updated_at=at,
        first_signal_at=at,
        eta=ends,
        window_starts_at=starts,
        cause="planned maintenance",
        summary=command.summary or f"Planned maintenance of {service} ({impact} impact)",
        rule=f"operator:{command.issued_by}",
        affected_services=[service],
        flags=["maintenance"],
    )
    incident = incident.model_copy(update={"next_update_at": next_update_at(incident, policy)})
    plan = Plan(
        maintenance_id=mid,
        service=service,
        region=command.region,
        impact=impact,
        starts_at=starts,
        planned_end=ends,
        current_end=ends,
        clock=at,
        incident=incident,
    )
    return plan, [incident, *advance(plan, at, policy)]


def _where(region: str) -> str:
    return "" if region == "global" else f" in {region.upper()}"


def _overrun_at(plan: Plan, rules: MaintenanceRules) -> datetime:
    lead = min(rules.overrun_notice, (plan.current_end - plan.starts_at) / 2)
    return plan.current_end - lead


def _next(plan: Plan, change: str, at: datetime, policy: Policy, **updates: Any) -> Incident:
    """The window's next version, carrying the window start on every one: the incident's
    ``opened_at`` is when the work was scheduled, and a plan kept from before the field existed
    gains it on its next version."""
    return next_version(plan.incident, policy, change, at, window_starts_at=plan.starts_at, **updates)


def advance(plan: Plan, until: datetime, policy: Policy) -> list[Incident]:
    """Every boundary up to ``until``, in time order, each as the version it causes."""
    rules = policy.rules.maintenance
    plan.clock = max(plan.clock, until)
    out: list[Incident] = []
    while plan.status in (Status.scheduled, Status.in_progress):
        boundaries: list[tuple[datetime, str]] = []
        if plan.status is Status.scheduled:
            boundaries.append((plan.starts_at, "started"))
        else:
            boundaries.append((_overrun_at(plan, rules), "overrun"))
            if not plan.sla_credit:
                boundaries.append((plan.planned_end + rules.sla_credit_after, SLA_FLAG))
        at, what = min(boundaries)
        if at > plan.clock:
            break
        out.append(_cross(plan, at, what, rules, policy))
    return out


def _cross(plan: Plan, at: datetime, what: str, rules: MaintenanceRules, policy: Policy) -> Incident:
    if what == "started":
        plan.status = Status.in_progress
        plan.incident = _next(plan, "started", at, policy)
    elif what == "overrun":
        plan.current_end += rules.overrun_extension
        plan.incident = _next(plan, "overrun", at, policy, eta=plan.current_end)
    else:
        plan.sla_credit = True
        flags = sorted({*plan.incident.flags, SLA_FLAG})
        plan.incident = _next(plan, "update", at, policy, flags=flags)
    return plan.incident


def complete(plan: Plan, at: datetime, policy: Policy) -> list[Incident]:
    if plan.status in (Status.completed, Status.cancelled):
        raise MaintenanceError(f"{plan.maintenance_id} is already {plan.status.value}")
    out = advance(plan, at, policy)
    if plan.status is Status.scheduled:  # never started: nothing happened, call it off
        plan.status = Status.cancelled
        plan.incident = _next(plan, "cancelled", at, policy, phase=Phase.resolved, resolved_at=at)
        return [*out, plan.incident]
    plan.status, plan.completed_at = Status.completed, at
    flags = list(plan.incident.flags)
    if at - plan.planned_end > policy.rules.maintenance.sla_credit_after:
        flags = sorted({*flags, SLA_FLAG})
        plan.sla_credit = True
    plan.incident = _next(plan, "completed", at, policy, phase=Phase.resolved, resolved_at=at, eta=None, flags=flags)
    return [*out, plan.incident]


def cancel(plan: Plan, at: datetime, policy: Policy) -> list[Incident]:
    if plan.status is not Status.scheduled:
        raise MaintenanceError(f"{plan.maintenance_id} is {plan.status.value}; only scheduled work can be cancelled")
    plan.status = Status.cancelled
    plan.incident = _next(plan, "cancelled", at, policy, phase=Phase.resolved, resolved_at=at)
    return [plan.incident]


def extend(plan: Plan, ends_at: datetime, at: datetime, policy: Policy) -> list[Incident]:
    """The operator's own revised end (instead of the automatic extension)."""
    if plan.status in (Status.completed, Status.cancelled):
        raise MaintenanceError(f"{plan.maintenance_id} is already {plan.status.value}")
    if ends_at <= plan.starts_at:
        raise MaintenanceError(f"ends_at {ends_at.isoformat()} is not after the start")
    out = advance(plan, at, policy)
    plan.current_end = ends_at
    change = "overrun" if ends_at > plan.planned_end else "update"
    plan.incident = _next(plan, change, at, policy, eta=ends_at)
    return [*out, plan.incident]


def broadcast(plan: Plan, policy: Policy) -> OperatorCommand:
    """The window as every detection partition should know it now."""
    finished = plan.status in (Status.completed, Status.cancelled)
    until = plan.completed_at if plan.completed_at else plan.planned_end + policy.rules.maintenance.suppress_at_most
    if plan.status is Status.cancelled:
        until = plan.starts_at
    return OperatorCommand(
        command_id=stable_id("maintenance_window", plan.maintenance_id, plan.incident.version),
        action="maintenance_window",
        issued_at=plan.clock,
        issued_by="forewarn",
        maintenance_id=plan.maintenance_id,
        service=plan.service,
        region=plan.region,
        starts_at=plan.starts_at,
        ends_at=until,
        completed_at=until if finished else None,
        impact="cancelled" if plan.status is Status.cancelled else plan.impact,
    )


def due_ticks(windows: Iterable[Window], last_tick: int | None, clock: int, every: timedelta) -> list[str]:
    """Windows whose owner should hear that event time reached ``clock`` (at most once per ``every``)."""
    step = every // timedelta(milliseconds=1)
    if last_tick is not None and clock < last_tick + step:
        return []
    return [w.maintenance_id for w in windows if not w.finished]

"""The facts a message states, derived once per incident version (never per customer).

Everything here is the same for every reader of a version; what differs per reader (their
name, their time zone) stays a ``{placeholder}`` until ``personalise`` fills it in. That is
what lets 300k customers share one rendered (or model-written) draft per channel and language.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from forewarn.policy import Policy
from forewarn.processors.draft.times import full_time, short_time
from forewarn.schemas.models import CustomerSegment, Incident, IncidentKind, Phase

TEMPLATES: tuple[str, ...] = (
    "initial",
    "update",
    "resolution",
    "maintenance_scheduled",
    "maintenance_start",
    "maintenance_end",
    "maintenance_overrun",
    "false_alarm",
    "executive_note",
    "postmortem",
    "maintenance_cancelled",
    "maintenance_rescheduled",
)
#: Time facts a message may show; each is a ``{name}`` (full) and ``{name_short}`` placeholder.
TIME_FACTS: tuple[str, ...] = ("eta", "next_update", "starts", "ends", "resolved", "opened")
PLACEHOLDERS: frozenset[str] = frozenset({"account", *TIME_FACTS, *(f"{name}_short" for name in TIME_FACTS)})
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: The facts each message must state (the validator checks them in every channel).
REQUIRED_FACTS: dict[str, tuple[str, ...]] = {
    "initial": ("service", "status", "eta", "next_update"),
    "update": ("service", "status", "eta", "next_update"),
    "executive_note": ("service", "status", "eta", "next_update"),
    "maintenance_overrun": ("service", "status", "ends", "next_update"),
    "maintenance_scheduled": ("service", "status", "starts", "ends"),
    "maintenance_start": ("service", "status", "ends", "next_update"),
    "maintenance_end": ("service", "status"),
    "resolution": ("service", "status"),
    "false_alarm": ("service", "status"),
    "postmortem": ("service", "status"),
    "maintenance_cancelled": ("service", "status"),
    "maintenance_rescheduled": ("service", "status", "starts", "ends"),
}
STATUS_KEYS: tuple[str, ...] = (
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "scheduled",
    "in_progress",
    "completed",
    "cancelled",
    "false_alarm",
)


def template_for(incident: Incident) -> str:
    """Which message an incident version calls for; ``change`` names what the version changed."""
    change = incident.change
    if change == "false_alarm":
        return "false_alarm"
    if change == "postmortem":
        return "postmortem"
    if change in ("extended", "executive_note"):
        return "executive_note"
    if incident.kind is IncidentKind.maintenance:
        if change == "cancelled":  # called off before it started: nothing was done
            return "maintenance_cancelled"
        if incident.phase is Phase.resolved:
            return "maintenance_end"
        if change != "scheduled" and window_pending(incident):
            return "maintenance_rescheduled"  # an operator moved the end before the work began
        if change == "overrun" or (change == "update" and "sla_credit" in incident.flags):
            return "maintenance_overrun"  # the credit boundary comes only while work runs past its end
        if change in ("started", "phase", "update"):
            # "update": an operator's revised end no later than planned, while the work runs (or
            # in a version from before window_starts_at, which cannot tell).
            return "maintenance_start"
        return "maintenance_scheduled"
    if incident.phase is Phase.resolved:
        return "resolution"
    return "initial" if change in ("opened", "confirmed") else "update"  # confirmed: first customer-visible version


def window_starts(incident: Incident) -> datetime:
    """When a maintenance window begins. Versions written before ``window_starts_at`` existed
    carry only ``opened_at``, which for them is the best there is."""
    return incident.window_starts_at or incident.opened_at


def window_pending(incident: Incident) -> bool:
    """A maintenance version from before its window began: the work is still to come, whatever
    the version changed. Unknown (False) for versions without ``window_starts_at``."""
    starts = incident.window_starts_at
    return incident.kind is IncidentKind.maintenance and starts is not None and incident.updated_at < starts


def status_key(template: str, incident: Incident) -> str:
    return {
        "maintenance_scheduled": "scheduled",
        "maintenance_rescheduled": "scheduled",
        "maintenance_start": "in_progress",
        "maintenance_overrun": "in_progress",
        "maintenance_end": "completed",
        "maintenance_cancelled": "cancelled",
        "false_alarm": "false_alarm",
        "postmortem": "resolved",
    }.get(template, incident.phase.value)


@dataclass(frozen=True)
class Facts:
    """The structured fact sheet: what templates render and what a model is given."""

    incident_id: str
    version: int
    template: str
    service: str
    region: str
    severity: str
    kind: str
    phase: str
    symptom: str
    status: str
    cause: str
    #: An SLA credit applies: an SLA breach, or a version detection flagged ``sla_credit`` (an
    #: extended outage, a maintenance overrun). The resolution and maintenance end then say so.
    sla_breached: bool
    flags: tuple[str, ...]
    times: dict[str, datetime] = field(default_factory=dict)
    ongoing: timedelta | None = None
    #: Internal facts behind the version (``internal_facts``): never rendered, and a draft that
    #: states one fails validation.
    never_say: tuple[str, ...] = ()
    #: The published post-mortem a ``postmortem`` message links ("" otherwise, and for versions
    #: written before the field, which link only the status page): a person gave it, so it is
    #: the one link besides the status page a draft may carry.
    postmortem_url: str = ""

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.incident_id, self.version, self.template)

    def required(self) -> tuple[str, ...]:
        """Required facts that apply to this version (no next update without a cadence, ...)."""
        out = []
        for fact in REQUIRED_FACTS[self.template]:
            if fact in ("next_update", "ends", "starts") and fact not in self.times:
                continue
            out.append(fact)
        return tuple(out)


def dependency_chain(service: str, policy: Policy, affected_services: Sequence[str]) -> tuple[str, ...]:
    """The service, then what it depends on (transitively, from the policy), then other affected ones."""
    chain: list[str] = []
    todo = [service]
    while todo:
        name = todo.pop(0)
        if name in chain:
            continue
        chain.append(name)
        todo.extend(policy.service(name).depends_on)
    chain.extend(s for s in affected_services if s not in chain)
    return tuple(chain)


def internal_facts(
    incident: Incident,
    policy: Policy,
    approvers: Sequence[str] | None = None,
    chain: Sequence[str] | None = None,
) -> tuple[str, ...]:
    """What must never reach a customer: the signals and rule behind a version, the services in its
    dependency chain that customers do not use, and who approves drafts (the on-call list unless
    ``approvers`` says otherwise). Terms shorter than four characters are left out (too common)."""
    if approvers is None:
        approvers = policy.gates.oncall_emails
    if chain is None:
        chain = dependency_chain(incident.service, policy, incident.affected_services)
    terms = [*incident.signal_ids, *approvers, *([incident.rule] if incident.rule else [])]
    terms += [s for s in chain if not policy.service(s).customer_facing]
    return tuple(sorted({t for t in terms if t and len(t) >= 4}))


#: Flags under which customers are owed a service credit (``sla_credit``: detection's extended
#: outage and maintenance overrun; ``sla_breach``: availability below the SLO).
SLA_CREDIT_FLAGS: frozenset[str] = frozenset({"sla_breach", "sla_credit"})


def sla_credit_applies(incident: Incident) -> bool:
    return incident.kind is IncidentKind.sla_breach or not SLA_CREDIT_FLAGS.isdisjoint(incident.flags)


def facts_for(incident: Incident, policy: Policy) -> Facts:
    template = template_for(incident)
    service = policy.service(incident.service).display_name or incident.service.capitalize()
    times: dict[str, datetime] = {"opened": incident.opened_at}
    resolved = incident.phase is Phase.resolved
    if incident.eta is not None:
        times["eta"] = incident.eta
    if incident.next_update_at is not None and not resolved and template != "postmortem":
        times["next_update"] = incident.next_update_at
    if incident.resolved_at is not None:
        times["resolved"] = incident.resolved_at
    if incident.kind is IncidentKind.maintenance:
        times["starts"] = window_starts(incident)
        if incident.eta is not None:
            times["ends"] = incident.eta
    if template == "maintenance_cancelled":  # no window to state: it will not happen
        times = {"opened": incident.opened_at}
    end = incident.resolved_at or incident.updated_at
    return Facts(
        incident_id=incident.incident_id,
        version=incident.version,
        template=template,
        service=service,
        region="" if incident.region == "global" else incident.region.upper(),
        severity=incident.severity.value,
        kind=incident.kind.value,
        phase=incident.phase.value,
        symptom=incident.symptom,
        status=status_key(template, incident),
        cause=(incident.cause or "").strip(),
        sla_breached=sla_credit_applies(incident),
        flags=tuple(incident.flags),
        times=times,
        ongoing=end - incident.opened_at if end > incident.opened_at else None,
        never_say=internal_facts(incident, policy),
        postmortem_url=report_url(incident) if template == "postmortem" else "",
    )


_WEB_URL = re.compile(r"https?://[^\s<>\"'()]+")


def report_url(incident: Incident) -> str:
    """The post-mortem's URL when it is a plain http(s) link ("" otherwise): detection and the
    CLI only let such through, and a message must never carry another scheme or markup."""
    url = (incident.postmortem_url or "").strip()
    return url if _WEB_URL.fullmatch(url) else ""


def skeleton_values(facts: Facts) -> dict[str, str]:
    """Template variables for reader-specific facts: the placeholder itself, or "" when unknown."""
    values = {"account": "{account}"}
    for name in TIME_FACTS:
        known = name in facts.times
        values[name] = f"{{{name}}}" if known else ""
        values[f"{name}_short"] = f"{{{name}_short}}" if known else ""
    return values


def persona(
    facts: Facts, segment: CustomerSegment | None, language: str, public_timezone: str = "UTC"
) -> dict[str, str]:
    """One reader's values for the placeholders: their name, every time in their zone and locale."""
    timezone = segment.timezone if segment is not None else public_timezone
    values = {"account": segment.account_name if segment is not None else ""}
    for name, at in facts.times.items():
        values[name] = full_time(at, timezone, language)
        values[f"{name}_short"] = short_time(at, timezone, language)
    return values

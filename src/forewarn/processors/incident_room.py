"""The internal side of one incident as a state machine: facts in, internal messages out.

One ``RoomState`` per incident (a Faust table row in the stream) absorbs the facts of
``forewarn.internal.facts`` — incident versions, per-partition impact breakdowns, approvals,
ticks — and answers with what the company's people must hear now:

* every incident version: a war-room update, once every partition's breakdown for it arrived
  (or ``breakdown_wait_seconds`` of event time passed), carrying the running summary;
* opening and every phase change: the support team's pack;
* P1 while open: a leadership briefing per hour of the incident, and the held executive notes
  once it runs past the extended-outage limit without an ETA;
* resolution: the closing briefing and the pointer to the post-mortem draft.

Time is the facts' event time only (a tick carries its own), so a replay of the topic makes
the same decisions, and the message ids (incident, kind, slot, audience) make the same messages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, model_validator

from forewarn.policy import Policy
from forewarn.processors.briefing import (
    briefing_slot,
    closing_briefing,
    executive_briefing,
    executive_notes,
    extended_outage_notice,
    is_extended_outage,
)
from forewarn.processors.internal import (
    WAR_ROOM,
    CustomerWords,
    FactSheet,
    InternalMessage,
    PhaseStep,
    dependency_chain,
    internal_terms,
    support_pack,
    war_room_update,
)
from forewarn.processors.summary import ModelSummary, Summary, running_summary
from forewarn.processors.validate import Verdict
from forewarn.schemas.models import Approval, ApprovalStatus, FactKind, ImpactBreakdown, Incident, InternalFact, Phase

#: Separates an incident id from the partition in a breakdown's key of the rooms table.
BREAKDOWN_SEP = b"\x1f"


def breakdown_key(incident_id: str, partition: int) -> bytes:
    return incident_id.encode() + BREAKDOWN_SEP + str(partition).encode()


class Step(BaseModel):
    version: int
    phase: str
    change: str
    severity: str
    at: datetime


class RoomState(BaseModel):
    """What the internal side remembers about one incident (stored as JSON in a table)."""

    incident_id: str
    incident: Incident | None = None
    targeted: bool = True
    steps: list[Step] = Field(default_factory=list)
    #: Per partition, the latest impact breakdown. Stored apart from the rest of the state (one
    #: table value per partition, see ``streams.internal``): a large outage lists thousands of
    #: enterprise accounts, and the room is rewritten for every fact.
    breakdowns: dict[int, ImpactBreakdown] = Field(default_factory=dict)
    #: "category / channel / language" -> drafts of this incident waiting for a person. Counts, not
    #: ids: a gated P1 to 300k customers holds 600k drafts. Which draft is pending where is kept by
    #: the stream per approval id and handed to ``apply`` as the approval's previous entry.
    held: dict[str, int] = Field(default_factory=dict)
    announced_version: int = 0
    awaiting_since: datetime | None = None
    #: "phase|customers" or "phase|internal" of the last support pack: support hears again on a phase
    #: change and when an internal incident is confirmed to customers (now with accounts and languages)
    support_phase: str | None = None
    briefed_slot: int = -1
    executive_notes_held: bool = False
    closed: bool = False
    summary: str = ""

    @model_validator(mode="before")
    @classmethod
    def _legacy_approvals(cls, data: Any) -> Any:
        """Rooms stored before held counts kept every approval id: count their pending ones once."""
        if isinstance(data, dict) and isinstance(data.get("approvals"), dict):
            data = dict(data)
            held: Counter[str] = Counter()
            for entry in data.pop("approvals").values():
                status, category, channel, language = str(entry).split("|")
                if status == ApprovalStatus.pending.value:
                    held[f"{category} / {channel} / {language}"] += 1
            data.setdefault("held", dict(held))
        return data


@dataclass
class RoomOutput:
    messages: list[InternalMessage] = field(default_factory=list)
    holds: list[Approval] = field(default_factory=list)
    summary: Summary | None = None
    summary_verdicts: list[Verdict] = field(default_factory=list)
    sheet: FactSheet | None = None


@dataclass(frozen=True)
class Room:
    """The rules every incident's room applies: policy, how customers' drafts are worded, the clock's source."""

    policy: Policy
    words: CustomerWords
    status_url: str
    targeted: bool = True
    model: ModelSummary | None = None
    dry_run: bool = False


def _latest_breakdowns(state: RoomState) -> list[ImpactBreakdown]:
    if state.incident is None:
        return []
    version = state.incident.version
    return [b for b in state.breakdowns.values() if b.incident_version == version]


def fact_sheet(state: RoomState, room: Room, now: datetime) -> FactSheet:
    assert state.incident is not None
    incident = state.incident
    reports = _latest_breakdowns(state)
    by_plan: Counter[str] = Counter()
    by_region: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    for b in reports:
        by_plan.update(b.by_plan)
        by_region.update(b.by_region)
        by_language.update(b.by_language)
    accounts = sorted((a for b in reports for a in b.accounts), key=lambda a: (not a.enterprise, a.account_name))
    held = {k: n for k, n in state.held.items() if n > 0}
    return FactSheet(
        incident=incident,
        now=now,
        history=tuple(PhaseStep(s.version, s.phase, s.change, s.severity, s.at) for s in state.steps),
        affected=sum(b.affected for b in reports),
        active_total=sum(b.active_total for b in reports),
        by_plan=dict(by_plan),
        by_region=dict(by_region),
        by_language=dict(by_language),
        enterprise=sum(b.enterprise for b in reports),
        accounts=tuple(accounts),
        accounts_omitted=sum(b.accounts_omitted for b in reports),
        partitions_reported=len(reports),
        partitions=max((b.partitions for b in reports), default=0),
        targeted=state.targeted,
        held=dict(held),
        approvers=tuple(room.policy.gates.oncall_emails),
        dependency_chain=dependency_chain(incident.service, room.policy, incident.affected_services),
        summary=state.summary,
    )


def approval_entry(approval: Approval) -> str:
    """What the room remembers of one approval: ``status|category|channel|language``."""
    return f"{approval.status.value}|{approval.category}|{approval.command.channel.value}|{approval.command.language}"


def _count(state: RoomState, entry: str | None, sign: int) -> None:
    if entry is None:
        return
    status, category, channel, language = entry.split("|")
    if status != ApprovalStatus.pending.value:
        return
    label = f"{category} / {channel} / {language}"
    count = state.held.get(label, 0) + sign
    if count > 0:
        state.held[label] = count
    else:
        state.held.pop(label, None)


def apply(
    state: RoomState | None, fact: InternalFact, room: Room, previous: str | None = None
) -> tuple[RoomState | None, RoomOutput]:
    """Absorb one fact; the new state and what to send. Ticks need an existing state.

    ``previous``: for an approval fact, the entry (``approval_entry``) last absorbed for the same
    approval id, so a redelivered or re-decided approval moves the held counts exactly once.
    """
    out = RoomOutput()
    if fact.kind is FactKind.tick:
        if state is not None and state.incident is not None and not state.closed:
            _on_time(state, room, fact.at, out)
        return state, out
    state = state or RoomState(incident_id=fact.incident_id)
    if fact.kind is FactKind.incident and fact.incident is not None:
        _on_incident(state, fact.incident, room, out)
    elif fact.kind is FactKind.breakdown and fact.breakdown is not None:
        _on_breakdown(state, fact.breakdown, room, fact.at, out)
    elif fact.kind is FactKind.approval and fact.approval is not None:
        _count(state, previous, -1)
        _count(state, approval_entry(fact.approval), +1)
    return state, out


def _on_incident(state: RoomState, incident: Incident, room: Room, out: RoomOutput) -> None:
    if state.incident is not None and incident.version <= state.incident.version:
        return  # a replay or a late copy: already absorbed
    state.incident = incident
    state.targeted = room.targeted and not incident.internal and room.policy.service(incident.service).customer_facing
    state.steps.append(
        Step(
            version=incident.version,
            phase=incident.phase.value,
            change=incident.change,
            severity=incident.severity.value,
            at=incident.updated_at,
        )
    )
    state.awaiting_since = incident.updated_at
    _on_time(state, room, incident.updated_at, out)


def _on_breakdown(state: RoomState, report: ImpactBreakdown, room: Room, at: datetime, out: RoomOutput) -> None:
    stored = state.breakdowns.get(report.partition)
    if stored is None or report.incident_version >= stored.incident_version:
        state.breakdowns[report.partition] = report
    _on_time(state, room, at, out)


def _announce_if_ready(state: RoomState, room: Room, now: datetime, out: RoomOutput) -> None:
    incident = state.incident
    if incident is None or state.announced_version >= incident.version:
        return
    sheet = fact_sheet(state, room, now)
    waited = state.awaiting_since is not None and now - state.awaiting_since >= timedelta(
        seconds=room.policy.internal.breakdown_wait_seconds
    )
    if not (sheet.impact_complete or waited):
        return
    _announce(state, room, sheet, out)


def _announce(state: RoomState, room: Room, sheet: FactSheet, out: RoomOutput) -> None:
    incident = sheet.incident
    summary, verdicts = running_summary(sheet, room.model, internal_terms(sheet, room.policy))
    state.summary = summary.text
    sheet = fact_sheet(state, room, sheet.now)
    out.summary, out.summary_verdicts, out.sheet = summary, verdicts, sheet
    state.announced_version = incident.version
    state.awaiting_since = None
    out.messages.append(war_room_update(sheet))
    support_key = f"{incident.phase.value}|{'customers' if state.targeted else 'internal'}"
    if state.support_phase != support_key:
        state.support_phase = support_key
        out.messages.append(support_pack(sheet, room.words, room.status_url))
    if incident.phase is Phase.resolved:
        state.closed = True
        if incident.severity in room.policy.internal.briefing_severities:
            out.messages.append(closing_briefing(sheet))
        out.messages.append(
            InternalMessage(
                WAR_ROOM,
                "postmortem",
                "resolved",
                f"[internal] Post-mortem draft ready: {incident.title}",
                f"Resolved. Draft the post-mortem timeline with: forewarn postmortem draft {incident.incident_id}\n",
            )
        )


def _on_time(state: RoomState, room: Room, now: datetime, out: RoomOutput) -> None:
    incident = state.incident
    if incident is None or state.closed:
        return
    _announce_if_ready(state, room, now, out)
    if state.announced_version != incident.version or state.closed:
        return  # leadership hears once this version's impact is counted (or waited for)
    policy = room.policy.internal
    slot = briefing_slot(incident, now, policy)
    if slot is not None and slot > state.briefed_slot:
        state.briefed_slot = slot
        out.messages.append(executive_briefing(fact_sheet(state, room, now), slot))
    if not state.executive_notes_held and is_extended_outage(incident, policy):
        state.executive_notes_held = True
        sheet = fact_sheet(state, room, now)
        holds = executive_notes(sheet, room.words, room.dry_run)
        out.holds.extend(holds)
        out.messages.append(extended_outage_notice(sheet, len(holds)))

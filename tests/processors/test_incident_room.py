"""The internal side of one P1, fact by fact: who hears what, when, and nothing twice."""

from __future__ import annotations

from datetime import timedelta

from factories import T0
from forewarn.processors.incident_room import Room, RoomOutput, RoomState, apply, approval_entry
from forewarn.schemas.models import (
    Approval,
    ApprovalStatus,
    FactKind,
    IncidentKind,
    InternalFact,
    Phase,
)
from internal_factories import account, breakdown, breakdown_fact, incident, incident_fact, room, tick, words

ACME = account("acme", "de", "enterprise", enterprise=True)
BISTRO = account("bistro", "fr", "starter")


def run(facts: list[InternalFact], r: Room | None = None) -> tuple[RoomState | None, list[RoomOutput]]:
    r = r or room()
    state: RoomState | None = None
    outputs = []
    pending: dict[str, str] = {}  # what the stream keeps per approval id (streams.internal)
    for fact in facts:
        previous = pending.get(fact.approval.approval_id) if fact.approval is not None else None
        state, out = apply(state, fact, r, previous)
        if fact.approval is not None:
            if fact.approval.status is ApprovalStatus.pending:
                pending[fact.approval.approval_id] = approval_entry(fact.approval)
            else:
                pending.pop(fact.approval.approval_id, None)
        if state is not None:
            state = RoomState.model_validate_json(state.model_dump_json())  # as the table stores it
        outputs.append(out)
    return state, outputs


def sent(out: RoomOutput) -> list[tuple[str, str]]:
    return [(m.audience, m.slot) for m in out.messages]


def p1_scenario() -> list[InternalFact]:
    return [
        incident_fact(incident(1, 0)),
        breakdown_fact(breakdown(0, 1, (ACME,))),
        breakdown_fact(breakdown(1, 1, (BISTRO,))),
        tick(30),
        tick(61),
        tick(61.5),
        incident_fact(incident(2, 70, phase=Phase.identified)),
        breakdown_fact(breakdown(0, 2, (ACME,)), 70),
        breakdown_fact(breakdown(1, 2, (BISTRO,)), 70),
        tick(125),
        # 4 h without an ETA: detection flags the extended outage on a new version
        incident_fact(incident(3, 241, phase=Phase.identified, change="extended", flags=["extended_outage"])),
        breakdown_fact(breakdown(0, 3, (ACME,)), 241),
        breakdown_fact(breakdown(1, 3, (BISTRO,)), 241),
        incident_fact(incident(4, 250, phase=Phase.resolved, resolved_at=T0 + timedelta(minutes=250))),
        breakdown_fact(breakdown(0, 4, (ACME,)), 250),
        breakdown_fact(breakdown(1, 4, (BISTRO,)), 250),
        tick(301),
    ]


def test_a_p1_from_opening_to_resolution() -> None:
    state, outs = run(p1_scenario())
    assert [sent(o) for o in outs] == [
        [],  # waits for every partition's impact
        [],
        [("war_room", "v1"), ("support", "investigating-v1"), ("leadership", "hour-0")],
        [],
        [("leadership", "hour-1")],
        [],  # same hour: briefed already
        [],
        [],
        [("war_room", "v2"), ("support", "identified-v2")],
        [("leadership", "hour-2")],
        [],  # the flagged version waits for its impact
        [],
        # hour 3 was never reached by a tick; the flag drafts the executive note
        [("war_room", "v3"), ("leadership", "hour-4"), ("leadership", "extended")],
        [],
        [],
        [("war_room", "v4"), ("support", "resolved-v4"), ("leadership", "resolved"), ("war_room", "resolved")],
        [],  # closed: no more briefings
    ]
    (held,) = outs[12].holds
    assert held.command.customer_id == "acme" and held.status is ApprovalStatus.pending
    assert state is not None and state.closed


def test_impact_and_summary_reach_the_first_update() -> None:
    _, outs = run(p1_scenario()[:3])
    war_room = outs[2].messages[0].text
    assert "Customers affected: 2 (10.0% of 20 active); enterprise accounts: 1" in war_room
    assert "Summary:\nKnown:" in war_room and "2 customers affected" in war_room
    assert outs[2].summary is not None and outs[2].sheet is not None
    assert "de 1, fr 1" in outs[2].messages[1].text  # canned responses in the customers' languages


def test_a_missing_partition_delays_the_update_only_until_the_wait_runs_out() -> None:
    facts = [incident_fact(incident(1, 0)), breakdown_fact(breakdown(0, 1, (ACME,))), tick(1), tick(2.5)]
    _, outs = run(facts)
    assert [sent(o) for o in outs][:3] == [[], [], []]
    assert ("war_room", "v1") in sent(outs[3])
    assert "(partial: 1 of 2 partitions reported)" in outs[3].messages[0].text


def test_an_untargeted_incident_is_announced_at_once() -> None:
    _, outs = run([incident_fact(incident(1, 0, internal=True))])
    assert sent(outs[0]) == [("war_room", "v1"), ("support", "investigating-v1"), ("leadership", "hour-0")]
    assert "none targeted" in outs[0].messages[0].text


def test_support_hears_again_once_an_internal_incident_is_confirmed_to_customers() -> None:
    opened = incident_fact(incident(1, 0, internal=True))
    confirmed = incident_fact(incident(2, 5, change="confirmed"))  # same phase, now customer-visible
    _, outs = run(
        [opened, confirmed, breakdown_fact(breakdown(0, 2, (ACME,)), 5), breakdown_fact(breakdown(1, 2, (BISTRO,)), 5)]
    )
    assert ("support", "investigating-v1") in sent(outs[0])
    assert [m for o in outs[1:] for m in sent(o) if m[0] == "support"] == [("support", "investigating-v2")]
    (pack,) = [m for m in outs[3].messages if m.audience == "support"]
    assert "acme" in pack.text and "bistro" in pack.text  # the affected accounts, known only now
    _, again = run([opened, confirmed, incident_fact(incident(3, 9, change="update"))])
    assert [m for m in sent(again[2]) if m[0] == "support"] == []  # same phase, still customer-visible


def test_held_drafts_and_their_decisions_show_in_the_next_update() -> None:
    held = Approval(
        approval_id="apr_1",
        incident_id="inc_1",
        incident_version=1,
        status=ApprovalStatus.pending,
        category="p1_p2",
        command=next(iter(run(p1_scenario()[:13])[1][12].holds)).command,
        requested_at=T0,
    )
    fact = InternalFact(fact_id="a1", kind=FactKind.approval, incident_id="inc_1", at=T0, approval=held)
    opened, updated = incident_fact(incident(1, 0, internal=True)), incident_fact(incident(2, 10, internal=True))
    _, outs = run([opened, fact, updated])
    assert "Drafts held for approval: 1 — must be approved by oncall-lead@corp.example" in outs[2].messages[0].text
    approved = held.model_copy(update={"status": ApprovalStatus.approved, "approver": "ann"})
    decided = InternalFact(fact_id="a2", kind=FactKind.approval, incident_id="inc_1", at=T0, approval=approved)
    _, outs = run([opened, fact, decided, updated])
    assert "Drafts held for approval: none" in outs[3].messages[0].text


def test_held_counts_move_once_per_approval_however_often_its_facts_arrive() -> None:
    command = next(iter(run(p1_scenario()[:13])[1][12].holds)).command

    def approval(n: int, status: ApprovalStatus = ApprovalStatus.pending) -> InternalFact:
        a = Approval(
            approval_id=f"apr_{n}",
            incident_id="inc_1",
            incident_version=1,
            status=status,
            category="p1_p2",
            command=command,
            requested_at=T0,
        )
        return InternalFact(
            fact_id=f"a{n}{status.value}", kind=FactKind.approval, incident_id="inc_1", at=T0, approval=a
        )

    opened = incident_fact(incident(1, 0, internal=True))
    facts = [opened, approval(1), approval(1), approval(2), approval(3), approval(2, ApprovalStatus.approved)]
    label = f"p1_p2 / {command.channel.value} / {command.language}"
    state, _ = run(facts)  # apr_1 twice, apr_2 decided: apr_1 and apr_3 wait
    assert state is not None and state.held == {label: 2}
    state, _ = run([*facts, approval(2, ApprovalStatus.approved), approval(3, ApprovalStatus.rejected)])
    assert state is not None and state.held == {label: 1}  # a repeated decision does not count again
    state, _ = run([*facts, approval(1, ApprovalStatus.expired), approval(3, ApprovalStatus.rejected)])
    assert state is not None and state.held == {}
    assert "approvals" not in state.model_dump()  # the room holds counts, never one entry per draft


def test_a_room_stored_with_approval_ids_reads_as_counts() -> None:
    legacy = {
        "incident_id": "inc_1",
        "approvals": {
            "a": "pending|p1_p2|email|en",
            "b": "approved|p1_p2|email|en",
            "c": "pending|p1_p2|email|de",
            "d": "pending|p1_p2|email|en",
        },
    }
    state = RoomState.model_validate(legacy)
    assert state.held == {"p1_p2 / email / en": 2, "p1_p2 / email / de": 1}


def test_replays_and_late_copies_change_nothing() -> None:
    facts = p1_scenario()
    first = [sent(o) for o in run(facts)[1]]
    assert [sent(o) for o in run(facts)[1]] == first  # same facts, same decisions
    _, outs = run([*facts[:3], facts[0], facts[1]])
    assert sent(outs[3]) == [] and sent(outs[4]) == []


def test_a_tick_without_an_incident_does_nothing() -> None:
    state, out = apply(None, tick(5), room())
    assert state is None and out.messages == []


def test_maintenance_is_not_briefed_when_its_severity_is_not() -> None:
    i = incident(1, 0, internal=True, kind=IncidentKind.maintenance, severity="P3")
    _, outs = run([incident_fact(i), tick(61)], Room(policy=room().policy, words=words(), status_url="x"))
    assert sent(outs[0]) == [("war_room", "v1"), ("support", "investigating-v1")] and sent(outs[1]) == []

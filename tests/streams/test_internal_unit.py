"""The internal rooms' storage without a broker: a large incident's room stays small.

The room is rewritten for every fact, and a gated P1 to 300k customers sends 600k approval facts
while its breakdowns list thousands of enterprise accounts; one room value holding all of it
outgrew a Kafka record at 1M customers (bench/fanout.py crashed the worker on the changelog send).
"""

from __future__ import annotations

import json
from typing import Any

from factories import T0
from forewarn.processors.incident_room import BREAKDOWN_SEP, breakdown_key
from forewarn.schemas.codec import encode
from forewarn.schemas.models import Approval, ApprovalStatus, FactKind, InternalFact, NotificationCommand
from forewarn.streams.internal import Internal
from internal_factories import account, breakdown, breakdown_fact, incident, incident_fact, policy

from .test_delivery_unit import FakeContext


class Message:
    def __init__(self, fact: InternalFact, partition: int = 0) -> None:
        self.value = encode(fact)
        self.partition = partition
        self.key = fact.incident_id.encode()


def stage() -> tuple[Internal, dict[bytes, bytes], dict[bytes, bytes]]:
    ctx: Any = FakeContext()
    ctx.policy = policy()
    ctx.settings = ctx.settings.model_copy(update={"partitions": 2})
    rooms: dict[bytes, bytes] = {}
    pending: dict[bytes, bytes] = {}
    return Internal(ctx, rooms, None, pending=pending), rooms, pending


def approval_fact(n: int, status: ApprovalStatus = ApprovalStatus.pending) -> InternalFact:
    command = NotificationCommand.model_validate(
        {
            "notification_id": f"ntf_{n}",
            "incident_id": "inc_1",
            "incident_version": 1,
            "customer_id": f"c{n}",
            "channel": "email",
            "language": "en",
            "recipients": [f"ops@c{n}.example"],
            "text": "Payments outage",
            "severity": "P1",
            "kind": "regional_outage",
            "phase": "investigating",
            "template": "initial",
            "created_at": T0,
        }
    )
    approval = Approval(
        approval_id=f"apr_{n}",
        incident_id="inc_1",
        incident_version=1,
        status=status,
        category="regional_outage",
        command=command,
        requested_at=T0,
    )
    fact_id = f"a{n}{status.value}"
    return InternalFact(fact_id=fact_id, kind=FactKind.approval, incident_id="inc_1", at=T0, approval=approval)


async def test_breakdowns_live_beside_the_room_and_approvals_are_counts() -> None:
    internal, rooms, pending = stage()
    enterprises = tuple(account(f"e{n}", enterprise=True) for n in range(300))
    await internal.absorb(Message(incident_fact(incident())))
    await internal.absorb(Message(breakdown_fact(breakdown(0, accounts=enterprises))))
    await internal.absorb(Message(breakdown_fact(breakdown(1, accounts=(account("small"),)))))
    for n in range(50):
        await internal.absorb(Message(approval_fact(n)))
    for n in range(20):
        await internal.absorb(Message(approval_fact(n, ApprovalStatus.approved)))

    room = json.loads(rooms[b"inc_1"])
    assert "breakdowns" not in room and "approvals" not in room
    assert room["held"] == {"regional_outage / email / en": 30}
    assert len(rooms[b"inc_1"]) < 20_000  # the room itself stays small however many accounts and drafts
    assert set(rooms) == {b"inc_1", breakdown_key("inc_1", 0), breakdown_key("inc_1", 1)}
    assert sorted(pending) == sorted(f"apr_{n}".encode() for n in range(20, 50))  # decided ones forgotten

    state, versions = internal.load("inc_1", breakdowns=True)
    assert state is not None and versions == {0: 1, 1: 1}
    assert [len(state.breakdowns[p].accounts) for p in (0, 1)] == [300, 1]


async def test_a_room_stored_with_its_breakdowns_inline_moves_them_out_on_the_next_fact() -> None:
    internal, rooms, _ = stage()
    await internal.absorb(Message(incident_fact(incident())))
    legacy = json.loads(rooms[b"inc_1"])
    del legacy["held"]  # as a room was stored before held counts: approval ids instead
    legacy["breakdowns"] = {"0": breakdown(0, accounts=(account("a"), account("b"))).model_dump(mode="json")}
    legacy["approvals"] = {"apr_x": "pending|regional_outage|email|de"}
    rooms[b"inc_1"] = json.dumps(legacy).encode()

    await internal.absorb(Message(approval_fact(1)))  # even a light fact keeps what was inline

    assert breakdown_key("inc_1", 0) in rooms and BREAKDOWN_SEP not in rooms[b"inc_1"]
    state, _ = internal.load("inc_1", breakdowns=True)
    assert state is not None and [a.customer_id for a in state.breakdowns[0].accounts] == ["a", "b"]
    assert state.held == {"regional_outage / email / de": 1, "regional_outage / email / en": 1}

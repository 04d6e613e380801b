"""The announce glue without a broker: public posts reviewed like customer commands, paced by a
cadence ledger that is written only after the posts were acknowledged."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest.mock import ANY

from factories import ungated
from forewarn.policy import CadenceRule, Policy
from forewarn.processors.cadence import POSTMORTEM_WITHIN, Note, kept_index_key
from forewarn.processors.public import PUBLIC
from forewarn.schemas.codec import encode
from forewarn.schemas.models import Approval, Channel, Incident, NotificationCommand, Phase, Record
from forewarn.streams.targeting import Targeting

from ..processors.test_public import incident
from .test_delivery_unit import FakeContext


class Message:
    def __init__(self, record: Incident) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = "t.incidents", 1, 3, b"k", encode(record)


class Sends:
    """Stands in for the acknowledged producer: what was sent, and what was acknowledged when."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Record]] = []
        self.acknowledged_at: list[int] = []

    def send(self, short_topic: str, key: bytes, record: Record) -> None:
        self.sent.append((short_topic, record))

    async def acknowledged(self) -> None:
        self.acknowledged_at.append(len(self.sent))


class Cadence(dict[bytes, bytes]):
    """The cadence table; each write checks the posts it records were acknowledged first."""

    def __init__(self, sends: Sends) -> None:
        super().__init__()
        self.sends = sends

    def __setitem__(self, key: bytes, value: bytes) -> None:
        assert self.sends.acknowledged_at and self.sends.acknowledged_at[-1] == len(self.sends.sent)
        super().__setitem__(key, value)


def stage(policy: Policy) -> tuple[Targeting, Sends, FakeContext]:
    ctx = FakeContext()
    ctx.policy = policy
    sends = Sends()
    targeting = Targeting(ctx, {}, Cadence(sends))  # type: ignore[arg-type]
    targeting.public_out = sends  # type: ignore[assignment]
    return targeting, sends, ctx


async def test_ungated_posts_reach_their_topics_once_per_news() -> None:
    targeting, sends, ctx = stage(ungated())
    await targeting.announce(Message(incident(1)))
    assert [t for t, _ in sends.sent] == ["notify.statuspage", "audit", "notify.social", "audit"]
    commands = [r for _, r in sends.sent if isinstance(r, NotificationCommand)]
    assert {c.customer_id for c in commands} == {PUBLIC}
    assert all("Payments outage in EU-WEST" in c.text and ctx.settings.status_page_url in c.text for c in commands)
    assert [r.action for t, r in sends.sent if t == "audit"] == ["drafted", "drafted"]  # type: ignore[attr-defined]

    before = len(sends.sent)
    await targeting.announce(Message(incident(1)))  # a replay
    await targeting.announce(Message(incident(2, minute=5)))  # no news within the cadence
    assert len(sends.sent) == before
    await targeting.announce(Message(incident(3, minute=6, phase=Phase.resolved)))
    assert [t for t, _ in sends.sent[before:]] == ["notify.statuspage", "audit", "notify.social", "audit"]
    after = len(sends.sent)
    await targeting.announce(Message(incident(3, minute=6, phase=Phase.resolved)))
    assert len(sends.sent) == after  # the resolution is posted once


async def test_gated_posts_go_to_the_approvals_topic_only() -> None:
    targeting, sends, _ = stage(Policy.model_validate({"gates": {"categories": {"regional_outage": "always"}}}))
    await targeting.announce(Message(incident(1)))
    assert [t for t, _ in sends.sent] == ["approvals", "audit", "approvals", "audit"]
    held = [r for _, r in sends.sent if isinstance(r, Approval)]
    assert [a.command.channel.value for a in held] == ["statuspage", "social"]
    assert not any(t.startswith("notify.") for t, _ in sends.sent)


async def test_internal_incidents_announce_nothing() -> None:
    targeting, sends, _ = stage(Policy())
    await targeting.announce(Message(incident(1, internal=True)))
    assert sends.sent == [] and sends.acknowledged_at == []


def test_closing_keeps_a_p1s_told_set_on_disk_and_sweeps_ones_past_their_time() -> None:
    """The post-mortem's told set lives in the cadence table, not memory; the next P1/P2 closing
    in the partition deletes the chunks of one whose post-mortem never came in time."""
    ctx = FakeContext()
    cadence: dict[bytes, bytes] = {}
    targeting = Targeting(ctx, {}, cadence)  # type: ignore[arg-type]
    old = incident(1).model_copy(update={"incident_id": "inc-old", "phase": Phase.resolved})
    ledger = targeting.ledger("inc-old", 0)
    key, chunk = ledger.record(old.version, Note.of(old, CadenceRule()), [("c1", [Channel.email])])
    cadence[key] = chunk
    targeting.close(ledger, old, "target")
    assert key in cadence and ("inc-old", 0) not in targeting.ledgers
    assert targeting.ledger("inc-old", 0).told_on("c1", Channel.email) is not None  # restored from the table
    later = old.updated_at + POSTMORTEM_WITHIN + timedelta(hours=1)
    new = old.model_copy(update={"incident_id": "inc-new", "updated_at": later})
    targeting.close(targeting.ledger("inc-new", 0), new, "target")
    assert key not in cadence  # swept
    swept = targeting.ledger("inc-old", 0)
    assert swept.told == {} and swept.closed == old.version and swept.kept_until is None
    assert json.loads(cadence[kept_index_key("target", 0)]) == {"inc-new": ANY}

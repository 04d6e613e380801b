"""The dedup stage's glue without a broker: PagerDuty events placed through the table, the sweep
asking about stale routes on their own partition, the stage forgetting them only if still stale,
and bad records on the topic dead-lettered with a reason. The clock is the test's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.policy_rules import DedupRules, RulesPolicy
from forewarn.processors.detect.dedup import DedupRoute
from forewarn.processors.normalize import normalize
from forewarn.publish import record_key
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import DeadLetter, DedupSweep, RawSignal, Record, SignalBatch, SignalStatus
from forewarn.streams.context import StreamContext
from forewarn.streams.dedup import Dedup

KEY = "srv01/mysql"
START = datetime(2027, 2, 1, 8, 0, tzinfo=UTC)
GRACE, IDLE = timedelta(hours=1), timedelta(days=2)
PARTITION = 1


class Clock:
    def __init__(self) -> None:
        self.at = START

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


class Topic:
    def __init__(self, name: str, sent: list[tuple[str, bytes | None, bytes, int | None]]) -> None:
        self.name, self.sent = name, sent

    async def send(self, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        self.sent.append((self.name, key, value, partition))


class Topics:
    """What the context sends through, recorded in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes, int | None]] = []

    def __getitem__(self, short: str) -> Topic:
        return Topic(short, self.sent)

    def take(self, short: str) -> list[tuple[bytes | None, bytes, int | None]]:
        taken = [(k, v, p) for name, k, v, p in self.sent if name == short]
        self.sent = [s for s in self.sent if s[0] != short]
        return taken


class Message:
    _offsets = iter(range(10**6))

    def __init__(self, key: bytes | None, value: bytes, partition: int = PARTITION) -> None:
        self.topic, self.partition, self.offset = "t.dedup", partition, next(self._offsets)
        self.key, self.value = key, value


def one_partition(table: dict[bytes, bytes]) -> dict[int, Iterator[tuple[bytes, bytes]]]:
    """The partitions a worker holds, as ``partition_items`` gives them: here all on one."""
    return {PARTITION: iter(list(table.items()))}


class Stage:
    def __init__(self) -> None:
        self.clock, self.topics, self.table = Clock(), Topics(), dict[bytes, bytes]()
        policy = Policy(rules=RulesPolicy(dedup=DedupRules(resolved_grace=GRACE, idle_max=IDLE)))
        ctx = StreamContext(Settings(), policy, self.topics, self.clock)  # type: ignore[arg-type]
        self.ctx = ctx
        self.dedup = Dedup(ctx, self.table, partitions=one_partition)

    def feed(self, key: bytes | None, value: bytes) -> None:
        asyncio.run(self.dedup.on_message(Message(key, value)))

    def pagerduty(self, action: str, key: str = KEY, **payload: object) -> None:
        body: dict[str, object] = {"event_action": action, "dedup_key": key}
        if payload:
            body["payload"] = payload
        raw = RawSignal(source="pagerduty", received_at=START, body=json.dumps(body).encode())
        (event,) = normalize(raw)
        self.feed(key.encode(), encode(event))

    def trigger(self) -> None:
        self.pagerduty("trigger", summary="MySQL primary srv01 down", source="srv01", severity="critical",
                       component="billing", **{"class": "outage", "custom_details": {"region": "us-west"}})  # fmt: skip

    def sweep(self) -> list[tuple[bytes | None, bytes, int | None]]:
        asyncio.run(self.dedup.sweep())
        return self.topics.take("dedup")

    def route(self, key: str = KEY) -> DedupRoute | None:
        stored = self.table.get(key.encode())
        return None if stored is None else DedupRoute.model_validate_json(stored)

    def placed(self) -> list[tuple[str, str, SignalStatus]]:
        """Where the events forwarded since the last look went: (group|region key, service, status)."""
        out = []
        for key, value, _ in self.topics.take("signals"):
            for e in decode(value, SignalBatch).events:
                out.append(((key or b"").decode(), e.service, e.status))
        return out

    def dead_letters(self) -> list[DeadLetter]:
        return [decode(value, DeadLetter) for _, value, _ in self.topics.take("deadletter")]


def test_a_resolved_route_is_kept_through_its_grace_then_forgotten_on_its_own_partition() -> None:
    stage = Stage()
    stage.trigger()
    stage.clock.advance(timedelta(minutes=5))
    stage.pagerduty("acknowledge")
    stage.clock.advance(timedelta(minutes=25))
    stage.pagerduty("resolve")
    resolved_at = stage.clock.now()
    assert [s for _, _, s in stage.placed()] == [SignalStatus.firing, SignalStatus.acknowledged, SignalStatus.resolved]
    assert stage.route() == DedupRoute(
        service="billing", region="us-west", symptom="outage", used_at=resolved_at, resolved=True
    )

    stage.clock.advance(GRACE - timedelta(seconds=1))
    assert stage.sweep() == []  # within the grace: nothing asked
    stage.pagerduty("resolve")  # a late duplicate delivery of the resolve
    assert stage.placed() == [("billing|us-west", "billing", SignalStatus.resolved)]
    assert stage.dead_letters() == []

    stage.clock.advance(GRACE - timedelta(seconds=1))
    assert stage.sweep() == []  # the duplicate started the grace again
    stage.clock.advance(timedelta(seconds=1))
    (ask,) = stage.sweep()
    key, value, partition = ask
    assert (key, partition) == (KEY.encode(), PARTITION)  # the partition that holds the route
    assert decode(value, DedupSweep) == DedupSweep(
        dedup_key=KEY, reason="resolved", last_used_at=resolved_at + GRACE - timedelta(seconds=1),
        swept_at=stage.clock.now(),
    )  # fmt: skip
    assert (stage.dedup.held, stage.dedup.sweeps) == (1, 3)

    stage.feed(key, value)
    assert stage.route() is None
    assert stage.dedup.pruned == {"resolved": 1}
    stage.feed(key, value)  # the same request again (a redelivery, a second sweep): nothing left to do
    assert stage.dedup.pruned == {"resolved": 1}
    assert stage.dead_letters() == []

    stage.pagerduty("resolve")  # after the grace, a key-only resolve has nowhere to go
    (letter,) = stage.dead_letters()
    assert letter.stage == "dedup" and letter.reason.startswith("dedup_key: 'srv01/mysql' (resolved) names no trigger")


def test_a_route_used_between_the_sweep_and_its_request_is_kept() -> None:
    stage = Stage()
    stage.trigger()
    stage.pagerduty("resolve")
    stage.clock.advance(GRACE)
    (ask,) = stage.sweep()
    stage.pagerduty("resolve")  # read before the sweep's request: the key is in use again
    stage.feed(ask[0], ask[1])
    assert stage.route() is not None and stage.dedup.pruned == {}
    assert stage.placed()[-1] == ("billing|us-west", "billing", SignalStatus.resolved)


def test_an_open_incidents_route_is_kept_until_idle_max() -> None:
    stage = Stage()
    stage.trigger()
    stage.clock.advance(IDLE - timedelta(seconds=1))
    assert stage.sweep() == []
    stage.pagerduty("acknowledge")  # still in use: two more days
    stage.clock.advance(IDLE - timedelta(seconds=1))
    assert stage.sweep() == []
    stage.clock.advance(timedelta(seconds=1))
    (ask,) = stage.sweep()
    assert decode(ask[1], DedupSweep).reason == "idle"
    stage.feed(ask[0], ask[1])
    assert stage.route() is None and stage.dedup.pruned == {"idle": 1}


def test_routes_stored_before_the_upgrade_are_dated_by_the_first_sweep_then_age() -> None:
    stage = Stage()
    stage.table[KEY.encode()] = b'{"service":"billing","region":"us-west","symptom":"outage"}'
    (ask,) = stage.sweep()
    assert decode(ask[1], DedupSweep).reason == "undated"
    stage.clock.advance(timedelta(minutes=1))
    stage.feed(ask[0], ask[1])
    dated = stage.route()
    assert dated is not None and (dated.used_at, dated.resolved) == (stage.clock.now(), False)
    assert stage.sweep() == []  # dated once, not again
    stage.pagerduty("resolve")  # an incident open across the upgrade still resolves where it lives
    assert stage.placed() == [("billing|us-west", "billing", SignalStatus.resolved)]


def test_what_is_not_an_event_or_a_sweep_request_is_dead_lettered_with_a_reason() -> None:
    stage = Stage()
    stage.trigger()
    ask = DedupSweep(dedup_key=KEY, reason="resolved", swept_at=START)
    other: Record = RawSignal(source="pagerduty", received_at=START, body=b"{}")
    stage.feed(KEY.encode(), encode(other))
    stage.feed(KEY.encode(), b'{"dedup_key": "srv01/mysql"}')
    stage.feed(b"srv02/redis", encode(ask))  # a request on another key's record
    letters = stage.dead_letters()
    assert [(d.error_type, d.key) for d in letters] == [
        ("wrong_type", KEY.encode()),
        ("undecodable", KEY.encode()),
        ("invalid", b"srv02/redis"),
    ]
    assert letters[0].reason == (
        "schema id 1 is io.forewarn.RawSignal, expected io.forewarn.ObservabilityEvent (id 2) "
        "or io.forewarn.DedupSweep (id 26)"
    )
    assert letters[2].reason == "key b'srv02/redis' is not the sweep's dedup key b'srv01/mysql'"
    assert all(d.stage == "dedup" and d.value for d in letters)
    assert stage.route() is not None  # none of it touched the route
    assert stage.ctx.dead_letters == {("dedup", "wrong_type"): 1, ("dedup", "undecodable"): 1, ("dedup", "invalid"): 1}


def test_an_unreadable_stored_route_is_left_alone_by_the_sweep() -> None:
    stage = Stage()
    stage.table[b"broken"] = b"not json"
    stage.trigger()
    stage.pagerduty("resolve")
    stage.clock.advance(GRACE)
    asks: list[Any] = stage.sweep()
    assert [a[0] for a in asks] == [KEY.encode()]
    assert stage.dedup.held == 2


def test_records_published_with_the_documented_key_are_accepted() -> None:
    """`forewarn produce dedup` keys records with publish.record_key: the stage must take them."""
    stage = Stage()
    body = {"event_action": "trigger", "dedup_key": KEY, "payload": {"summary": "MySQL primary srv01 down",
            "source": "srv01", "severity": "critical", "component": "billing", "class": "outage"}}  # fmt: skip
    (event,) = normalize(RawSignal(source="pagerduty", received_at=START, body=json.dumps(body).encode()))
    stage.feed(record_key("dedup", event), encode(event))
    assert [s for _, _, s in stage.placed()] == [SignalStatus.firing]
    sweep = DedupSweep(dedup_key=KEY, reason="resolved", swept_at=START)
    assert record_key("dedup", sweep) == KEY.encode()
    assert stage.dead_letters() == []

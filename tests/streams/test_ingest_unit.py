"""The normalise glue without a broker: what one batch of raw messages sends, and in what order.

PagerDuty events take one hop more than the rest (through ``dedup``), so a batch must not hold
an alert back while an acknowledge that follows it is already on its way: detection would read
the acknowledge first, find no incident, and identify nothing.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from factories import alertmanager_line
from forewarn.clock import SystemClock
from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import ObservabilityEvent, RawSignal, SignalBatch, SignalStatus
from forewarn.streams.context import StreamContext
from forewarn.streams.ingest import Ingest

AT = datetime(2027, 2, 1, 8, 0, tzinfo=UTC)


class Topic:
    def __init__(self, name: str, sent: list[tuple[str, bytes | None, bytes]]) -> None:
        self.name, self.sent = name, sent

    def send_soon(self, key: bytes | None, value: bytes) -> None:
        self.sent.append((self.name, key, value))

    async def send(self, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        self.sent.append((self.name, key, value))


class Topics:
    """Every send, whichever topic, in the order the producer was handed them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    def __getitem__(self, short: str) -> Topic:
        return Topic(short, self.sent)


class Message:
    _offsets = iter(range(10**6))

    def __init__(self, raw: RawSignal) -> None:
        self.topic, self.partition, self.offset = "t.raw", 0, next(self._offsets)
        self.key, self.value = None, encode(raw)


def alertmanager(status: str = "firing") -> Message:
    line = alertmanager_line(status)  # stamped now, and normalise checks an alert against its arrival
    received = datetime.fromisoformat(str(line["received_at"]))
    return Message(RawSignal(source="alertmanager", received_at=received, body=json.dumps(line["body"]).encode()))


def pagerduty(action: str, key: str = "payments|eu-west|outage") -> Message:
    body = json.dumps({"event_action": action, "dedup_key": key}).encode()
    return Message(RawSignal(source="pagerduty", received_at=AT, body=body))


def run(*messages: Message) -> list[tuple[str, list[tuple[str, SignalStatus]]]]:
    """(topic, [(source, status) of each event sent]) per record, in send order."""
    topics = Topics()
    ctx = StreamContext(Settings(), Policy(), topics, SystemClock())  # type: ignore[arg-type]
    asyncio.run(Ingest(ctx).normalize_batch(list(messages)))
    out: list[tuple[str, list[tuple[str, SignalStatus]]]] = []
    for name, _, value in topics.sent:
        if name == "signals":
            events: Any = decode(value, SignalBatch).events
        elif name == "dedup":
            events = [decode(value, ObservabilityEvent)]
        else:
            raise AssertionError(f"unexpected send to {name}")
        out.append((name, [(e.source, e.status) for e in events]))
    return out


FIRING = ("alertmanager", SignalStatus.firing)
RESOLVED = ("alertmanager", SignalStatus.resolved)
ACK = ("pagerduty", SignalStatus.acknowledged)


def test_an_alert_before_an_acknowledge_in_one_batch_is_sent_first() -> None:
    assert run(alertmanager(), pagerduty("acknowledge"), alertmanager("resolved")) == [
        ("signals", [FIRING]),
        ("dedup", [ACK]),
        ("signals", [RESOLVED]),
    ]


def test_a_batch_without_pagerduty_sends_one_batch_per_key() -> None:
    assert run(alertmanager(), alertmanager("resolved")) == [("signals", [FIRING, RESOLVED])]


def test_pagerduty_alone_sends_no_empty_signal_batch() -> None:
    assert run(pagerduty("acknowledge"), pagerduty("resolve")) == [
        ("dedup", [ACK]),
        ("dedup", [("pagerduty", SignalStatus.resolved)]),
    ]

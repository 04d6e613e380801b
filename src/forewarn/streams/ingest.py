"""Stage glue: raw observability payloads -> signal batches, one per thread group and region.

Raw messages are taken in batches: each is checked and normalised on its own (a bad one is
dead-lettered with its reason, the rest carry on), and the events of the whole batch are
grouped per ``group|region`` key into as few ``SignalBatch`` records as fit, because at tens
of thousands of samples a second the per-record cost of Kafka and Faust is what limits
throughput. Already-normalised events published to ``events`` by other exporters join the
same path one by one. PagerDuty events take a detour through ``dedup`` (``streams.dedup``),
which places a key-only acknowledge/resolve on its trigger's incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import faust

from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.dedup import keyed_by_dedup
from forewarn.processors.detect.signals import SignalGrouper
from forewarn.processors.normalize import NormalizeError, Samples, normalize_signals
from forewarn.schemas.codec import DecodeError, decode, encode
from forewarn.schemas.models import ObservabilityEvent, RawSignal
from forewarn.streams.context import StreamContext

STAGE = "normalize"


class Rejection(NamedTuple):
    """A raw message that cannot become signals: the dead letter's type and reason."""

    error_type: str
    reason: str


#: Faust hands a busy agent ~150 messages per 50 ms; every batch sends one SignalBatch per key,
#: and each is a record detection reads through Faust again. A quarter second per batch cut
#: those records about four-fold: bench/ingest.py at 50 samples a message 117k -> 160-169k
#: events/s (at one a message unchanged), for at most 0.2 s more between a signal and its window.
BATCH, WITHIN_S = 5000, 0.25


class Ingest:
    def __init__(self, ctx: StreamContext) -> None:
        self.ctx = ctx
        self.graph = ServiceGraph(ctx.policy.services)
        self.events_seen = 0

    async def normalize_batch(self, messages: Sequence[Any]) -> None:
        grouper = SignalGrouper(self.graph)
        dedup = self.ctx.topics["dedup"]
        for message in messages:
            signals = self.signals_of(message)
            if isinstance(signals, Rejection):
                await self.ctx.reject(message, STAGE, signals.error_type, signals.reason)
                continue
            # Samples are never PagerDuty's; checking the type first keeps them cheap.
            keyed = [e for e in signals if not isinstance(e, Samples) and keyed_by_dedup(e)]
            if not keyed:
                grouper.add(signals)
                continue
            # What came before goes out first: the detour is one hop longer, but an acknowledge
            # sent ahead of its trigger's alert (held back in this batch) would reach detection
            # before the incident it acknowledges exists.
            grouper = self.flush(grouper)
            self.events_seen += len(keyed)
            for event in keyed:  # its incident is found by dedup key first (streams.dedup)
                dedup.send_soon(key=event.source_ref.encode(), value=encode(event))
            grouper.add(e for e in signals if isinstance(e, Samples) or not keyed_by_dedup(e))
        self.flush(grouper)

    def flush(self, grouper: SignalGrouper) -> SignalGrouper:
        """Send what the grouper holds and hand back an empty one."""
        self.events_seen += grouper.count
        signals_topic = self.ctx.topics["signals"]
        for key, batch in grouper.batches():
            # Buffered, not awaited one by one: the producer flushes before offsets are committed.
            signals_topic.send_soon(key=key, value=encode(batch))
        return SignalGrouper(self.graph)

    def signals_of(self, message: Any) -> Sequence[ObservabilityEvent | Samples] | Rejection:
        """The signals in one raw message, or why it must be dead-lettered.

        Not a coroutine: only a rejection needs to await (``normalize_batch`` does), so the
        usual message costs no coroutine objects (this and the context's ``decoded`` were two).
        """
        value = message.value
        if value is None:
            return Rejection("invalid", "empty record (null value)")
        limit = self.ctx.settings.max_payload_bytes
        if len(value) > limit + 1024:
            return Rejection("oversized", f"record of {len(value)} bytes exceeds {limit}")
        try:
            raw = decode(value, RawSignal)
        except DecodeError as exc:
            return Rejection(exc.error_type, exc.reason)
        try:
            return normalize_signals(raw, max_bytes=limit)
        except NormalizeError as exc:
            return Rejection(exc.error_type, f"{raw.source}: {exc.reason}")

    async def regroup(self, message: Any) -> None:
        """An event another exporter normalised itself: onto the signals topic under its group."""
        event = await self.ctx.decoded(message, ObservabilityEvent, STAGE)
        if event is None:
            return
        if keyed_by_dedup(event):
            await self.ctx.send("dedup", event.source_ref.encode(), event)
            return
        grouper = SignalGrouper(self.graph)
        grouper.add([event])
        for key, batch in grouper.batches():
            await self.ctx.send("signals", key, batch)


def register(app: faust.App, ingest: Ingest) -> None:
    @app.agent(ingest.ctx.topics["raw"], name="normalize")
    async def normalize_agent(stream: Any) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_S):
            await ingest.normalize_batch([event.message for event in events])

    @app.agent(ingest.ctx.topics["events"], name="regroup")
    async def regroup_agent(stream: Any) -> None:
        async for event in stream.events():
            await ingest.regroup(event.message)

"""Stage glue: PagerDuty events keyed by dedup key -> signals, placed on their trigger's incident.

Ingest sends every PagerDuty event here (topic ``dedup``, key = dedup key) instead of straight
to ``signals``; the ``dedup-routes`` table remembers, per key, the identity of the trigger that
used it. The decisions are ``processors.detect.dedup``; this only reads and writes the table
and forwards. Volume is a few events per incident, so one event at a time.

Routes are forgotten once stale (``rules.dedup``). A table changes only inside the stream that
owns the key's partition (the write goes to the changelog partition of the event being
processed), so the sweep, a timer on each worker, cannot delete: it reads the routes of the
partitions this worker holds and, for each stale one, sends a ``DedupSweep`` for the key to
the same partition of this topic; the stage then decides again and deletes. The sweep's view
is a moment old, and a route can be used in between: deciding twice keeps that one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import faust
from pydantic import ValidationError

from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.dedup import DedupRoute, on_sweep, route, sweep_request
from forewarn.processors.detect.signals import SignalGrouper
from forewarn.schemas.models import DedupSweep, ObservabilityEvent
from forewarn.streams.context import StreamContext
from forewarn.streams.stores import partition_items

log = logging.getLogger(__name__)
STAGE = "dedup"
#: What the dedup topic carries: PagerDuty events, and the sweep's requests.
RECORDS = (ObservabilityEvent, DedupSweep)
#: Yield to the event loop this often while sweeping, so a large table does not stall the worker.
SWEEP_YIELD_EVERY = 5000

Partitions = Callable[[Any], dict[int, Iterator[tuple[bytes, bytes]]]]


class Dedup:
    def __init__(self, ctx: StreamContext, routes: Any, partitions: Partitions = partition_items) -> None:
        self.ctx = ctx
        self.routes = routes
        self.rules = ctx.policy.rules.dedup
        self.graph = ServiceGraph(ctx.policy.services)
        self._partitions = partitions
        #: For /metrics: routes forgotten (by why), sweeps run, routes held at the last sweep.
        self.pruned: Counter[str] = Counter()
        self.sweeps = 0
        self.held = 0

    async def on_message(self, message: Any) -> None:
        record = await self.ctx.decoded_one_of(message, RECORDS, STAGE)
        if isinstance(record, DedupSweep):
            await self.on_sweep(message, record)
        elif isinstance(record, ObservabilityEvent):
            await self.on_event(message, record)

    async def on_event(self, message: Any, event: ObservabilityEvent) -> None:
        ctx = self.ctx
        key = event.source_ref.encode()
        if message.key != key:
            await ctx.reject(message, STAGE, "invalid", f"key {message.key!r} is not the event's dedup key {key!r}")
            return
        routed = route(event, self._stored(key), ctx.clock.now())
        if routed.record is not None:
            self.routes[key] = routed.record.model_dump_json().encode()
        if routed.event is None:
            await ctx.reject(message, STAGE, "invalid", routed.reason or "dedup_key: cannot be placed")
            return
        grouper = SignalGrouper(self.graph)
        grouper.add([routed.event])
        for signals_key, batch in grouper.batches():
            await ctx.send("signals", signals_key, batch)

    async def on_sweep(self, message: Any, request: DedupSweep) -> None:
        key = request.dedup_key.encode()
        if message.key != key:
            reason = f"key {message.key!r} is not the sweep's dedup key {key!r}"
            await self.ctx.reject(message, STAGE, "invalid", reason)
            return
        swept = on_sweep(self._stored(key), self.ctx.clock.now(), self.rules)
        if swept.drop:
            del self.routes[key]
            self.pruned[str(swept.found)] += 1
        elif swept.record is not None:
            self.routes[key] = swept.record.model_dump_json().encode()

    async def sweep(self) -> None:
        """Ask about every stale route of the partitions this worker holds (see the module doc)."""
        now, held = self.ctx.clock.now(), 0
        asks: list[tuple[int, DedupSweep]] = []
        for partition, items in self._partitions(self.routes).items():
            for key, value in items:
                held += 1
                if held % SWEEP_YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                try:
                    stored = DedupRoute.model_validate_json(value)
                    ask = sweep_request(key.decode(), stored, now, self.rules)
                except (ValidationError, UnicodeDecodeError) as exc:
                    log.warning("dedup: route %r in partition %d is unreadable, left alone: %s", key, partition, exc)
                    continue
                if ask is not None:
                    asks.append((partition, ask))
        for partition, ask in asks:  # to the route's own partition, whatever the partitioner
            await self.ctx.send("dedup", ask.dedup_key.encode(), ask, partition=partition)
        self.sweeps += 1
        self.held = held
        if asks:
            found = Counter(ask.reason for _, ask in asks)
            log.info(
                "dedup: asked about %d of the %d routes held here (%s)", len(asks), held, dict(sorted(found.items()))
            )

    def _stored(self, key: bytes) -> DedupRoute | None:
        stored = self.routes.get(key)
        return None if stored is None else DedupRoute.model_validate_json(stored)


def register(app: faust.App, dedup: Dedup) -> None:
    @app.agent(dedup.ctx.topics["dedup"], name="dedup")
    async def dedup_agent(stream: Any) -> None:
        async for event in stream.events():
            await dedup.on_message(event.message)

    @app.timer(interval=dedup.rules.sweep_every.total_seconds())  # type: ignore[untyped-decorator]
    async def dedup_sweep() -> None:
        await dedup.sweep()

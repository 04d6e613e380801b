"""Stage glue: PagerDuty events keyed by dedup key -> signals, placed on their trigger's incident.

Ingest sends every PagerDuty event here (topic ``dedup``, key = dedup key) instead of straight
to ``signals``; the ``dedup-routes`` table remembers, per key, the identity of the trigger that
used it. The decision is ``processors.detect.dedup.route``; this only reads and writes the table
and forwards. Volume is a few events per incident, so one event at a time.
"""

from __future__ import annotations

from typing import Any

import faust

from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.dedup import DedupRoute, route
from forewarn.processors.detect.signals import SignalGrouper
from forewarn.schemas.models import ObservabilityEvent
from forewarn.streams.context import StreamContext

STAGE = "dedup"


class Dedup:
    def __init__(self, ctx: StreamContext, routes: Any) -> None:
        self.ctx = ctx
        self.routes = routes
        self.graph = ServiceGraph(ctx.policy.services)

    async def on_event(self, message: Any) -> None:
        ctx = self.ctx
        event = await ctx.decoded(message, ObservabilityEvent, STAGE)
        if event is None:
            return
        key = event.source_ref.encode()
        if message.key != key:
            await ctx.reject(message, STAGE, "invalid", f"key {message.key!r} is not the event's dedup key {key!r}")
            return
        stored = self.routes.get(key)
        routed = route(event, None if stored is None else DedupRoute.model_validate_json(stored))
        if routed.record is not None:
            self.routes[key] = routed.record.model_dump_json().encode()
        if routed.event is None:
            await ctx.reject(message, STAGE, "invalid", routed.reason or "dedup_key: cannot be placed")
            return
        grouper = SignalGrouper(self.graph)
        grouper.add([routed.event])
        for signals_key, batch in grouper.batches():
            await ctx.send("signals", signals_key, batch)


def register(app: faust.App, dedup: Dedup) -> None:
    @app.agent(dedup.ctx.topics["dedup"], name="dedup")
    async def dedup_agent(stream: Any) -> None:
        async for event in stream.events():
            await dedup.on_event(event.message)

"""Stage glue: normalised events -> incident versions, one open incident per dedup key."""

from __future__ import annotations

from typing import Any

import faust

from forewarn.processors.correlate import correlate, dedup_key
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import Incident, ObservabilityEvent
from forewarn.streams.context import StreamContext


class Detect:
    def __init__(self, ctx: StreamContext, open_incidents: Any) -> None:
        self.ctx = ctx
        self.open_incidents = open_incidents

    async def correlate(self, message: Any) -> None:
        ctx = self.ctx
        event = await ctx.decoded(message, ObservabilityEvent, "correlate")
        if event is None:
            return
        key = dedup_key(event.service, event.region, event.symptom).encode()
        stored = self.open_incidents.get(key)
        current = decode(stored, Incident) if stored is not None else None
        result = correlate(current, event, ctx.policy)
        if result.state is None:
            if stored is not None:
                del self.open_incidents[key]
        else:
            self.open_incidents[key] = encode(result.state)
        for incident in result.published:
            await ctx.send("incidents", incident.incident_id.encode(), incident)
            await ctx.audit(ctx.trail.incident(incident, ctx.clock.now()))


def register(app: faust.App, detect: Detect) -> None:
    @app.agent(detect.ctx.topics["events"], name="correlate")
    async def correlate_agent(stream: Any) -> None:
        async for event in stream.events():
            await detect.correlate(event.message)

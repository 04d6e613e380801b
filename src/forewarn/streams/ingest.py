"""Stage glue: raw observability payloads -> normalised events."""

from __future__ import annotations

from typing import Any

import faust

from forewarn.processors.normalize import NormalizeError, normalize
from forewarn.schemas.models import RawSignal
from forewarn.streams.context import StreamContext

STAGE = "normalize"


class Ingest:
    def __init__(self, ctx: StreamContext) -> None:
        self.ctx = ctx

    async def normalize(self, message: Any) -> None:
        ctx, value = self.ctx, message.value
        if value is None:
            await ctx.reject(message, STAGE, "invalid", "empty record (null value)")
            return
        limit = ctx.settings.max_payload_bytes
        if len(value) > limit + 1024:
            await ctx.reject(message, STAGE, "oversized", f"record of {len(value)} bytes exceeds {limit}")
            return
        raw = await ctx.decoded(message, RawSignal, STAGE)
        if raw is None:
            return
        try:
            events = normalize(raw, max_bytes=limit)
        except NormalizeError as exc:
            await ctx.reject(message, STAGE, exc.error_type, f"{raw.source}: {exc.reason}")
            return
        for event in events:
            await ctx.send("events", f"{event.service}|{event.region}".encode(), event)


def register(app: faust.App, ingest: Ingest) -> None:
    @app.agent(ingest.ctx.topics["raw"], name="normalize")
    async def normalize_agent(stream: Any) -> None:
        async for event in stream.events():
            await ingest.normalize(event.message)

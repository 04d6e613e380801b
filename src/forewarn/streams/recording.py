"""Stage glue: audit records and incident versions -> ClickHouse, in batches.

Faust's ``take_events`` acks a batch when the loop body finishes, even on error, so the
body never raises: it holds the batch until the store accepts it. Offsets are therefore
committed only for rows that are stored — nothing lost, and the store dedups replays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import faust

from forewarn.schemas.models import AuditRecord, Incident
from forewarn.streams.context import StreamContext

log = logging.getLogger(__name__)
BATCH, WITHIN_S = 5000, 1.0

Write = Callable[[Sequence[AuditRecord | Incident]], object]


async def store_until_accepted(what: str, write: Write, records: Sequence[AuditRecord | Incident]) -> None:
    delay = 0.5
    while True:
        try:
            await asyncio.to_thread(write, records)
            return
        except Exception as exc:  # any store failure: keep the batch, retry, never ack unstored rows
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__  # drivers echo whole requests
            log.warning("%s of %d rows failed (%s); retrying in %.1fs", what, len(records), reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def register(app: faust.App, ctx: StreamContext, write: Write) -> None:
    @app.agent(ctx.topics["audit"], name="audit-writer")
    async def audit_writer(stream: Any) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_S):
            records = await ctx.decoded_batch(events, AuditRecord, "audit")
            await store_until_accepted("audit insert", write, records)

    @app.agent(ctx.topics["incidents"], name="incident-writer")
    async def incident_writer(stream: Any) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_S):
            records = await ctx.decoded_batch(events, Incident, "audit")
            await store_until_accepted("incident insert", write, records)

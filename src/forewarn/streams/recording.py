"""Stage glue: audit records and incident versions -> ClickHouse, in batches.

Faust's ``take_events`` acks a batch when the loop body finishes, even on error, so the
body never raises: it holds the batch until the store accepts it. Offsets are therefore
committed only for rows that are stored — nothing lost, and the store dedups replays.

Audit records reach the store still Avro-encoded (``AvroAudit``; ClickHouse decodes them);
only records that form cannot take, and a batch ClickHouse could not read, go through the
full decoder, which dead-letters what is bad.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence, Sized
from typing import Any, TypeVar

import faust

from forewarn.db.errors import WarehouseQueryError
from forewarn.schemas.codec import encode
from forewarn.schemas.models import AuditRecord, Incident
from forewarn.sinks.clickhouse import AuditStore, AvroAudit
from forewarn.streams.context import StreamContext

log = logging.getLogger(__name__)
#: A batch is what arrives within a second, up to 50,000 records: each INSERT costs ClickHouse a
#: new part (~10 ms embedded) and one claims lookup, so small batches would cap the writer well
#: below what it keeps up with after an outage (bench/deliver.py measures these batches).
BATCH, WITHIN_S = 50_000, 1.0

T = TypeVar("T", bound=Sized)


async def store_until_accepted(
    what: str,
    write: Callable[[T], object],
    records: T,
    *,
    unless: tuple[type[Exception], ...] = (),
) -> None:
    """Retry ``write`` until it succeeds; ``unless`` names failures to raise instead of retrying."""
    delay = 0.5
    while True:
        try:
            await asyncio.to_thread(write, records)
            return
        except unless:
            raise
        except Exception as exc:  # any store failure: keep the batch, retry, never ack unstored rows
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__  # drivers echo whole requests
            log.warning("%s of %d rows failed (%s); retrying in %.1fs", what, len(records), reason, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def record_audit(ctx: StreamContext, store: AuditStore, events: Sequence[Any]) -> None:
    """Store one batch of audit-topic events; returns only once every good record is stored.

    A record the wire form refuses is decoded (or dead-lettered) here and re-encoded, so the
    batch still goes in as one INSERT in event order (the first copy of an id wins). If
    ClickHouse cannot read the batch, some body is damaged: the batch is redone through the
    full decoder, which dead-letters the damaged records, and the rest are stored as models.
    """
    topic = events[0].message.topic if events else ""
    batch = AvroAudit(topic=topic)
    add = batch.add
    undecodable: set[int] = set()
    for event in events:
        message = event.message
        partition, offset = (message.partition, message.offset) if message.topic == topic else (-1, -1)
        if add(message.value, partition, offset):
            continue
        record = await ctx.decoded(message, AuditRecord, "audit")  # rare: the full decoder's verdict
        if record is None:
            undecodable.add(id(event))
        else:
            add(encode(record), partition, offset)
    kept = [event for event in events if id(event) not in undecodable] if undecodable else events
    if not batch:
        return
    try:
        await store_until_accepted("audit insert", store.write_avro, batch, unless=(WarehouseQueryError,))
    except WarehouseQueryError as exc:
        log.warning("ClickHouse could not read a batch of %d audit records (%s); decoding each", len(batch), exc)
        records = await ctx.decoded_batch(kept, AuditRecord, "audit")
        await store_until_accepted("audit insert", store.write, records)


def register(app: faust.App, ctx: StreamContext, store: AuditStore) -> None:
    @app.agent(ctx.topics["audit"], name="audit-writer")
    async def audit_writer(stream: Any) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_S):
            await record_audit(ctx, store, events)

    @app.agent(ctx.topics["incidents"], name="incident-writer")
    async def incident_writer(stream: Any) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_S):
            records = await ctx.decoded_batch(events, Incident, "audit")
            await store_until_accepted("incident insert", store.write, records)

"""Stage glue: incident versions -> per-partition targeting -> notification commands.

The customer table and its in-memory index live with the partitions of ``customers``;
an incident version is broadcast to every partition, and each answers for its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import faust
from faust.types import TP

from forewarn.processors.draft import command_for, draft
from forewarn.processors.segment_index import SegmentIndex
from forewarn.processors.target import channels_for, is_affected, plan_targeting
from forewarn.schemas.codec import decode
from forewarn.schemas.models import CustomerSegment, Incident, TargetingRequest
from forewarn.streams.context import StreamContext

log = logging.getLogger(__name__)


def partition_keys(table: Any) -> dict[int, Iterator[bytes]]:
    """Keys of each active partition of a RocksDB-backed table.

    Faust exposes no per-partition iteration, but its RocksDB store keeps one database
    per partition; this is the one place that reaches into it.
    """
    store = table.data
    actives = table.app.assignor.assigned_actives()
    topic = table.changelog_topic_name
    return {
        partition: store._visible_keys(db)
        for partition, db in list(store._dbs.items())
        if TP(topic=topic, partition=partition) in actives
    }


class Targeting:
    def __init__(self, ctx: StreamContext, customers: Any) -> None:
        self.ctx = ctx
        self.customers = customers
        self.index = SegmentIndex()

    async def plan(self, message: Any) -> None:
        ctx = self.ctx
        incident = await ctx.decoded(message, Incident, "target")
        if incident is None:
            return
        for request in plan_targeting(incident, ctx.policy, ctx.settings.partitions):
            await ctx.send("targeting", request.request_id.encode(), request, partition=request.partition)

    async def upsert_customer(self, message: Any) -> None:
        ctx, key = self.ctx, message.key
        if key is None:
            await ctx.reject(message, "customers", "invalid", "customer record without a key")
            return
        if message.value is None:  # tombstone: the customer is gone
            self.index.remove(message.partition, key.decode())
            if self.customers.get(key) is not None:
                del self.customers[key]
            return
        segment = await ctx.decoded(message, CustomerSegment, "customers")
        if segment is None:
            return
        if segment.customer_id.encode() != key:
            reason = f"key {key!r} does not match customer_id {segment.customer_id!r}"
            await ctx.reject(message, "customers", "invalid", reason)
            return
        self.customers[key] = message.value
        self.index.upsert(message.partition, segment.customer_id, segment.regions)

    def rebuild_index(self) -> None:
        """After table recovery: the index is memory only, the table is the truth."""
        for partition, keys in partition_keys(self.customers).items():
            self.index.drop_partition(partition)
            for key in keys:
                stored = self.customers.get(key)
                if stored is not None:
                    segment = decode(stored, CustomerSegment)
                    self.index.upsert(partition, segment.customer_id, segment.regions)
        log.info("segment index rebuilt: %d customers", len(self.index))

    async def target(self, message: Any) -> None:
        ctx = self.ctx
        request = await ctx.decoded(message, TargetingRequest, "target")
        if request is None:
            return
        incident, now = request.incident, ctx.clock.now()
        for customer_id in self.index.candidates(message.partition, request.regions):
            stored = self.customers.get(customer_id.encode())
            if stored is None:
                continue
            segment = decode(stored, CustomerSegment)
            if not is_affected(segment, request, incident.updated_at):
                continue
            for channel in channels_for(segment, request, ctx.policy):
                words = draft(incident, segment, channel, ctx.settings.status_page_url)
                command = command_for(incident, segment, channel, words, now=now, dry_run=ctx.settings.dry_run)
                await ctx.send(f"notify.{channel.value}", command.notification_id.encode(), command)
                await ctx.audit(ctx.trail.command(command, now))


def register(app: faust.App, targeting: Targeting) -> None:
    topics = targeting.ctx.topics

    async def rebuild_segment_index() -> None:
        targeting.rebuild_index()

    targeting.customers.on_recover(rebuild_segment_index)

    @app.agent(topics["incidents"], name="plan")
    async def plan_agent(stream: Any) -> None:
        async for event in stream.events():
            await targeting.plan(event.message)

    @app.agent(topics["customers"], name="customers")
    async def customers_agent(stream: Any) -> None:
        async for event in stream.events():
            await targeting.upsert_customer(event.message)

    @app.agent(topics["targeting"], name="target")
    async def target_agent(stream: Any) -> None:
        async for event in stream.events():
            await targeting.target(event.message)

"""Stage glue: incident versions -> per-partition targeting -> notification commands.

The customer table, its secondary indexes and the compact targeting projection live with
the partitions of ``customers``; an incident version is broadcast to every partition, and
each answers for its own customers: filters on the projection, reports the share affected,
asks the send policy per customer and channel, and only then decodes the segments of the
customers who will actually hear something.

Status page and social hear once per incident update, not per customer (``processors/public.py``):
the ``announce`` agent drafts, validates and gates each post through the same review as a
customer's command, under a cadence ledger of its own, acknowledged before it is recorded.

Fan-out goes in chunks. A chunk's commands (and their audit records) are acknowledged by
Kafka before the cadence ledger records them as sent, so a crash mid fan-out re-sends at
most the unacknowledged chunk (same notification ids; sinks dedup) and never skips anyone.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import faust
from confluent_kafka import KafkaException, Producer

from forewarn.config import Settings
from forewarn.policy import CadenceRule
from forewarn.processors.cadence import (
    POSTMORTEM_WITHIN,
    IncidentLedger,
    Note,
    decide,
    is_postmortem,
    keeps_told,
    kept_index_key,
    update_kept,
)
from forewarn.processors.deadletter import Rejected
from forewarn.processors.draft import BlankCommands, OtherAccounts
from forewarn.processors.public import PUBLIC, due_channels, ledger_id, public_channels, public_command
from forewarn.processors.segment_index import Profile, SegmentIndex
from forewarn.processors.segment_rows import RowReader
from forewarn.processors.segments import TableEntry, table_entry
from forewarn.processors.suppressed import UNREACHABLE, HeldBack, suppressed_audit, unlisted_audit
from forewarn.processors.target import (
    active_since_s,
    channels_for,
    matches,
    plan_targeting,
    row_of_fields,
    unreachable_channels,
)
from forewarn.publish import DeliveryErrors, produce_queued, reporting_producer
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import (
    Channel,
    CustomerSegment,
    ImpactReport,
    Incident,
    Phase,
    Record,
    TargetingRequest,
)
from forewarn.streams.changelog import ChangelogWrites, TableWrites
from forewarn.streams.context import StreamContext
from forewarn.streams.freshness import TableFreshness
from forewarn.streams.review import Review
from forewarn.streams.stores import partition_items
from forewarn.topics import TopicNames

log = logging.getLogger(__name__)

#: Customers per acknowledged batch: big enough to keep the producer busy, small enough that
#: a crash re-sends little.
CHUNK = 2000
#: How long the fan-out's producer lets a batch fill. A fan-out spreads ~10k records/s over every
#: partition of six topics: at the default 5 ms a batch held two records, and the broker spent
#: more CPU on batches than the worker on drafting (bench/fanout.py, 200k customers: broker
#: 8.0 s -> 1.9 s, worker 16-19 s -> 15 s). Nothing waits the extra time: each chunk ends in
#: ``acknowledged()``, whose flush sends at once whatever is lingering.
FAN_OUT_LINGER_MS = 100
#: Customer records applied per batch (one RocksDB write and one changelog flush each), and how
#: long a batch waits to fill: a customer's change reaches the index within that.
CUSTOMER_BATCH, CUSTOMER_WITHIN_S = 2000, 0.2
#: Yield to the event loop this often while rebuilding, so heartbeats keep the group alive.
REBUILD_YIELD_EVERY = 5000
#: ``settle_heap`` again once the index has grown by half (and at least this many customers).
SETTLE_GROWTH, SETTLE_MIN = 1.5, 50_000


def settle_heap(index: SegmentIndex) -> int:
    """Move what is alive now out of the garbage collector's sight; returns the index size.

    The index holds millions of long-lived objects; every full collection walked all of them,
    which measured as ~40 % of a fan-out's time with a million customers loaded. They are acyclic
    (ids, tuples, sets), so reference counting still frees them when a customer leaves. Cyclic
    garbage alive at a freeze is never collected, so this runs only as the index grows
    geometrically (a handful of times per load), never per update.
    """
    gc.freeze()
    return len(index)


def batched(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _record_time(message: Any) -> datetime:
    return datetime.fromtimestamp(message.timestamp or 0, UTC)


class AcknowledgedSends:
    """Records sent through librdkafka and acknowledged in batches, for the fan-out.

    A fan-out sends 100,000s of commands and audit records; Faust's per-record send path cost
    about a third of the fan-out (profiled), librdkafka's a few microseconds. Nothing is lost by leaving
    Faust here: ``acknowledged()`` returns only once the broker has every record sent so far,
    and the fan-out awaits it before the cadence ledger (and, after the event, the offset)
    moves on. Keys are partitioned with murmur2, like Faust's own producer.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self._producer: Producer | None = None
        self._errors = DeliveryErrors()

    def send(self, short_topic: str, key: bytes, record: Record) -> None:
        if self._producer is None:
            self._producer = reporting_producer(self.settings, self._errors, **{"linger.ms": FAN_OUT_LINGER_MS})
        value = encode(record)
        produce_queued(self._producer, self.names(short_topic), value, key)

    async def acknowledged(self, timeout_s: float = 120.0) -> None:
        if self._producer is None:
            return
        remaining = await asyncio.to_thread(self._producer.flush, timeout_s)
        errors = self._errors.take()
        if remaining or errors:
            raise KafkaException(f"{remaining} records unacknowledged after {timeout_s}s; errors: {errors[:3]}")


class Targeting:
    def __init__(
        self,
        ctx: StreamContext,
        customers: Any,
        cadence: Any,
        writes: TableWrites | None = None,
        freshness: TableFreshness | None = None,
    ) -> None:
        self.ctx = ctx
        self.customers = customers
        self.cadence = cadence
        #: Targeting waits for the table to hold what its topic held (None: unit tests, benches).
        self.freshness = freshness
        self.index = SegmentIndex()
        self.review = Review(ctx.settings, ctx.policy, ctx.trail)
        #: How customer changes reach the table: its store and changelog, in batches.
        self.writes = writes if writes is not None else ChangelogWrites(customers, ctx.settings)
        self.out = AcknowledgedSends(ctx.settings)
        self.public_out = AcknowledgedSends(ctx.settings)  # its own: one agent's flush never vouches for another's
        self.ledgers: dict[tuple[str, int], IncidentLedger] = {}
        self.settled = 0  # index size at the last settle_heap
        self.ready = False

    async def plan(self, message: Any) -> None:
        ctx = self.ctx
        incident = await ctx.decoded(message, Incident, "target")
        if incident is None:
            return
        helpdesk = bool(ctx.settings.providers.helpdesk_url)  # configured: every affected account gets a ticket
        for request in plan_targeting(incident, ctx.policy, ctx.settings.partitions, helpdesk=helpdesk):
            await ctx.send("targeting", request.request_id.encode(), request, partition=request.partition)

    async def announce(self, message: Any) -> None:
        """The status-page and social posts of one incident version: reviewed like any command, within cadence."""
        ctx = self.ctx
        incident = await ctx.decoded(message, Incident, "announce")
        if incident is None or not public_channels(incident, ctx.policy):
            return
        key = ledger_id(incident.incident_id)
        empty = IncidentLedger(key, message.partition)
        ledger = IncidentLedger.restore(key, message.partition, self.cadence.get(empty.head_key), self.cadence.get)
        channels, now = due_channels(incident, ctx.policy, ledger), ctx.clock.now()
        for channel in channels:
            command = public_command(incident, channel, now=now, dry_run=ctx.settings.dry_run)
            routed = await self.review.route_public(incident, command, now)  # channel topic, or held for approval
            self.public_out.send(routed.topic, routed.key, routed.record)
            self.public_out.send("audit", routed.audit.audit_id.encode(), routed.audit)
        if channels:
            await self.public_out.acknowledged()  # before the ledger says so: a crash re-posts (same ids), never skips
            note = Note.of(incident, ctx.policy.send_policy.rule(incident.kind))
            chunk_key, chunk_record = ledger.record(incident.version, note, [(PUBLIC, channels)])
            self.cadence[chunk_key] = chunk_record
            self.cadence[ledger.head_key] = ledger.head()
        if incident.phase is Phase.resolved and (ledger.closed is None or incident.version > ledger.closed):
            self.close(ledger, incident, "announce")

    # ---- the customer table -------------------------------------------------------------

    async def upsert_customers(self, messages: Sequence[Any]) -> None:
        """Apply records of ``customers`` (Avro, JSON row, Debezium envelope or tombstone), in order.

        Bad records are dead-lettered first; the rest change the store and the index together,
        with no await in between, so a fan-out running meanwhile never finds a customer in the
        index whose row is not stored yet. The changelog is acknowledged before this returns
        (and before the events are acked).
        """
        freshness = self.freshness
        if freshness is None:
            await self._apply_customers(messages)
            return
        freshness.busy = True
        try:
            await self._apply_customers(messages)
        finally:
            freshness.busy = False
        for message in messages:  # dead-lettered ones too: nothing is left to apply of them
            freshness.applied(message.partition, message.offset)
        await freshness.notify()

    async def _apply_customers(self, messages: Sequence[Any]) -> None:
        ctx = self.ctx
        entries: list[tuple[int, TableEntry]] = []
        for message in messages:
            if message.key is None:
                await ctx.reject(message, "customers", "invalid", "customer record without a key")
                continue
            try:
                entries.append((message.partition, table_entry(message.key, message.value, _record_time(message))))
            except Rejected as exc:
                await ctx.reject(message, "customers", exc.error_type, exc.reason)
        if not entries:
            return
        writes, index = self.writes, self.index
        for partition, entry in entries:
            key = entry.customer_id.encode()
            if entry.stored is None or entry.fields is None:
                index.remove(partition, entry.customer_id)
                writes.delete(partition, key)
            else:
                writes.put(partition, key, entry.stored)
                self.remember(partition, entry.customer_id, entry.fields)
        writes.apply()
        if len(index) >= self.settled * SETTLE_GROWTH + SETTLE_MIN:
            self.settled = settle_heap(index)
        await writes.acknowledged()

    def remember(self, partition: int, customer_id: str, fields: Mapping[str, Any]) -> None:
        profile, last_active = row_of_fields(fields)
        self.index.upsert(partition, customer_id, profile, last_active)

    async def rebuild_index(self) -> None:
        """After table recovery: the index is memory only, the table is the truth."""
        self.ready = False
        items = partition_items(self.customers)
        self.index.keep_only(items)
        self.ledgers.clear()  # a partition may have moved here with ledgers another worker advanced
        seen, self.settled = 0, 0
        started = time.monotonic()
        reader = RowReader()  # the stored bytes straight to index rows: ~3x cheaper than read_fields
        upsert = self.index.upsert
        for partition, stored in items.items():
            self.index.drop_partition(partition)
            for key, value in stored:
                profile, last_active = reader.row(value)
                upsert(partition, key.decode(), profile, last_active)
                seen += 1
                if seen % REBUILD_YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                if seen >= self.settled * SETTLE_GROWTH + SETTLE_MIN:
                    self.settled = settle_heap(self.index)
        self.settled = settle_heap(self.index)
        self.ready = True
        log.info(
            "segment index rebuilt: %d customers in partitions %s in %.1fs",
            len(self.index),
            sorted(items),
            time.monotonic() - started,
        )

    # ---- targeting ------------------------------------------------------------------------

    async def target(self, message: Any) -> None:
        ctx = self.ctx
        request = await ctx.decoded(message, TargetingRequest, "target")
        if request is None:
            return
        partition, incident = message.partition, request.incident
        await self.table_caught_up(partition, f"targeting {incident.incident_id} v{incident.version}")
        ledger = self.ledger(incident.incident_id, partition)
        if is_postmortem(incident):  # who heard of the incident, not whom today's filters find
            affected = self.told_here(partition, ledger, incident.updated_at)
        else:
            since = active_since_s(request, incident.updated_at)
            affected = self.affected(partition, request, since)
            await self.report_impact(request, partition, len(affected), self.index.active_since(partition, since))
        if ledger.closed is not None and incident.version <= ledger.closed:
            self.ledgers.pop((ledger.incident_id, partition), None)  # a kept told set stays on disk only
            return  # a replay after everyone was told it is resolved
        rule = ctx.policy.send_policy.rule(incident.kind)
        note = Note.of(incident, rule)
        started, told = time.monotonic(), 0
        held_back = HeldBack() if ctx.settings.report_suppressed else None  # a replay asks why, production never
        for chunk in batched(affected, CHUNK):
            sent = await self.fan_out(chunk, partition, request, ledger, rule, held_back)
            if sent:
                chunk_key, chunk_record = ledger.record(incident.version, note, sent)
                self.cadence[chunk_key] = chunk_record
                self.cadence[ledger.head_key] = ledger.head()
                told += sum(len(channels) for _, channels in sent)
        if held_back is not None and held_back.unlisted:
            summary = unlisted_audit(incident, partition, held_back.unlisted, ctx.clock.now())
            self.out.send("audit", summary.audit_id.encode(), summary)
            await self.out.acknowledged()
        if incident.phase is Phase.resolved:
            self.close(ledger, incident, "target")
        log.info(
            "targeted %s v%d in partition %d: %d affected, %d commands in %.1fs",
            incident.incident_id,
            incident.version,
            partition,
            len(affected),
            told,
            time.monotonic() - started,
        )

    async def table_caught_up(self, partition: int, why: str) -> None:
        """Before reading the table for a request: wait until it holds what its topic held
        (``streams/freshness.py``); the fan-out and the internal breakdown both ask."""
        if self.freshness is not None:
            await self.freshness.caught_up(partition, why)

    def affected(self, partition: int, request: TargetingRequest, since: int | None) -> list[str]:
        if request.customer_id is not None:
            candidates = [request.customer_id]
        else:
            candidates = self.index.candidates(partition, request.regions, request.features)
        found = []
        for customer_id in candidates:
            row = self.index.row(partition, customer_id)
            if row is not None and matches(customer_id, row[0], row[1], request, since):
                found.append(customer_id)
        return found

    def told_here(self, partition: int, ledger: IncidentLedger, at: datetime) -> list[str]:
        """The post-mortem's audience in this partition: the kept told set, while still in time
        and for customers still in the table (``decide`` then asks per channel)."""
        if ledger.expired(at):
            return []
        return [customer_id for customer_id in ledger.told if self.index.row(partition, customer_id) is not None]

    async def report_impact(self, request: TargetingRequest, partition: int, affected: int, active: int) -> None:
        """Feed the share of active customers affected back to severity classification."""
        incident = request.incident
        report = ImpactReport(
            incident_id=incident.incident_id,
            incident_version=incident.version,
            partition=partition,
            partitions=self.ctx.settings.partitions,
            affected=affected,
            active_total=active,
            computed_at=self.ctx.clock.now(),
        )
        await self.ctx.send("impact", incident.incident_id.encode(), report)

    async def fan_out(
        self,
        chunk: Sequence[str],
        partition: int,
        request: TargetingRequest,
        ledger: IncidentLedger,
        rule: CadenceRule,
        held_back: HeldBack | None = None,
    ) -> list[tuple[str, list[Channel]]]:
        """Commands for one chunk of affected customers, acknowledged before this returns.

        With ``held_back`` (only when ``report_suppressed`` asks) the customers and channels that
        cadence or a missing address kept out are noted there and their audit rows sent with the chunk.
        """
        incident, now = request.incident, self.ctx.clock.now()
        since = active_since_s(request, incident.updated_at)
        postmortem = is_postmortem(incident)  # its audience is who was told, whatever the filters say now
        readers: list[tuple[str, CustomerSegment, list[Channel]]] = []
        for customer_id in chunk:
            row = self.index.row(partition, customer_id)  # re-read: it may have moved or gone meanwhile
            if row is None or not (postmortem or matches(customer_id, row[0], row[1], request, since)):
                continue
            if held_back is None:
                channels = [
                    channel
                    for channel in channels_for(row[0], request, self.ctx.policy)
                    if decide(ledger.told_on(customer_id, channel), incident, rule).sends
                ]
            else:
                channels = self.choose_noting(customer_id, row[0], request, ledger, rule, held_back)
            # the store itself: one RocksDB read (the table's own get checks membership first: two)
            stored = self.customers.data.get(customer_id.encode()) if channels else None
            if stored is not None:
                readers.append((customer_id, decode(stored, CustomerSegment), channels))
        # no draft may name another customer: the chunk's other accounts are the names at hand
        others = OtherAccounts(segment.account_name for _, segment, _ in readers)
        blanks = BlankCommands(incident, now=now, dry_run=self.ctx.settings.dry_run)
        for _, segment, channels in readers:
            for channel in channels:
                await self.emit(incident, segment, channel, now, others, blanks)
        if held_back is not None:
            key = self.ctx.settings.pseudonym_key
            for customer_id, channel, verdict in held_back.take():
                audit = suppressed_audit(incident, customer_id, channel, verdict, key, now)
                self.out.send("audit", audit.audit_id.encode(), audit)
        await self.out.acknowledged()
        return [(customer_id, channels) for customer_id, _, channels in readers]

    def choose_noting(
        self,
        customer_id: str,
        profile: Profile,
        request: TargetingRequest,
        ledger: IncidentLedger,
        rule: CadenceRule,
        held_back: HeldBack,
    ) -> list[Channel]:
        """``fan_out``'s channel choice, noting every "no" and every channel without an address.

        Kept apart from the list comprehension production runs, so the hot path pays nothing.
        """
        channels: list[Channel] = []
        for channel in channels_for(profile, request, self.ctx.policy):
            verdict = decide(ledger.told_on(customer_id, channel), request.incident, rule)
            if verdict.sends:
                channels.append(channel)
            else:
                held_back.add(customer_id, channel, verdict.value)
        for channel in unreachable_channels(profile, request, self.ctx.policy):
            held_back.add(customer_id, channel, UNREACHABLE)
        return channels

    async def emit(
        self,
        incident: Incident,
        segment: CustomerSegment,
        channel: Channel,
        now: datetime,
        others: OtherAccounts,
        blanks: BlankCommands,
    ) -> None:
        """Draft, build and send one notification command: the one place a command is made.

        ``blanks``: the fan-out chunk's, so its commands are validated once per channel."""
        # Review drafts the words for the reader's language and replaces all of them, so the command
        # starts blank: a first-cut draft here cost a third of the fan-out and was always discarded.
        command = blanks(segment, channel)
        routed = await self.review.route(incident, segment, command, now, others)  # channel topic, or held
        self.out.send(routed.topic, routed.key, routed.record)
        self.out.send("audit", routed.audit.audit_id.encode(), routed.audit)

    # ---- cadence ledgers ------------------------------------------------------------------

    def ledger(self, incident_id: str, partition: int) -> IncidentLedger:
        cached = self.ledgers.get((incident_id, partition))
        if cached is None:
            empty = IncidentLedger(incident_id, partition)
            cached = IncidentLedger.restore(incident_id, partition, self.cadence.get(empty.head_key), self.cadence.get)
            self.ledgers[(incident_id, partition)] = cached
        return cached

    def close(self, ledger: IncidentLedger, incident: Incident, scope: str) -> None:
        """Resolved and told: keep only the closing version, drop the ids (memory and store).

        A P1/P2 still owes its post-mortem, which goes to whoever was told: its chunks stay in
        the table (not in memory; ``ledger`` restores them for the post-mortem version, after a
        restart too) until that version is handled or ``POSTMORTEM_WITHIN`` has passed. The
        partition's kept list is swept here, so told sets of never-published post-mortems go too.
        """
        keep_until = incident.updated_at + POSTMORTEM_WITHIN if keeps_told(incident) else None
        self.forget(ledger, incident.version, keep_until)
        index_key = kept_index_key(scope, ledger.partition)
        stored = self.cadence.get(index_key)
        kept, expired = update_kept(
            stored, incident.updated_at, add=ledger if keep_until else None, drop=ledger.incident_id
        )
        for stale_id in expired:
            head = IncidentLedger(stale_id, ledger.partition).head_key
            stale = IncidentLedger.restore(stale_id, ledger.partition, self.cadence.get(head), lambda key: None)
            self.forget(stale, stale.closed or 0, None)  # the head names the chunks; no need to read them
        if kept != (stored or b"{}"):
            self.cadence[index_key] = kept

    def forget(self, ledger: IncidentLedger, version: int, keep_until: datetime | None) -> None:
        for key in ledger.close(version, keep_until):
            if self.cadence.get(key) is not None:
                del self.cadence[key]
        self.cadence[ledger.head_key] = ledger.head()
        self.ledgers.pop((ledger.incident_id, ledger.partition), None)


def register(app: faust.App, targeting: Targeting) -> None:
    topics = targeting.ctx.topics
    targeting.customers.on_recover(targeting.rebuild_index)

    @app.agent(topics["incidents"], name="plan")
    async def plan_agent(stream: Any) -> None:
        async for event in stream.events():
            await targeting.plan(event.message)

    @app.agent(topics["incidents"], name="announce")
    async def announce_agent(stream: Any) -> None:
        async for event in stream.events():
            await targeting.announce(event.message)

    @app.agent(topics["customers"], name="customers")
    async def customers_agent(stream: Any) -> None:
        async for events in stream.take_events(CUSTOMER_BATCH, within=CUSTOMER_WITHIN_S):
            await targeting.upsert_customers([event.message for event in events])

    @app.agent(topics["targeting"], name="target")
    async def target_agent(stream: Any) -> None:
        async for event in stream.events():
            await targeting.target(event.message)

"""The glue each agent calls: decode, run a pure stage, encode, send.

No business rule lives here — every decision is a call into ``forewarn.processors``.
What this layer owns is Kafka's side: keys, partitions, tables, dead letters, counters.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from forewarn.clock import Clock
from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.processors.audit import AuditTrail
from forewarn.processors.correlate import correlate, dedup_key
from forewarn.processors.deadletter import Origin, dead_letter
from forewarn.processors.draft import command_for, draft
from forewarn.processors.normalize import NormalizeError, normalize
from forewarn.processors.segment_index import SegmentIndex
from forewarn.processors.target import channels_for, is_affected, plan_targeting
from forewarn.schemas.codec import DecodeError, decode, encode
from forewarn.schemas.models import (
    AuditRecord,
    CustomerSegment,
    Incident,
    NotificationCommand,
    ObservabilityEvent,
    RawSignal,
    Record,
    TargetingRequest,
)
from forewarn.sinks.base import Deliverer
from forewarn.streams.topics import Topics

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)


def origin_of(message: Any) -> Origin:
    return Origin(message.topic, message.partition, message.offset, message.key, message.value)


class Wiring:
    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        topics: Topics,
        *,
        clock: Clock,
        open_incidents: Any,
        customers: Any,
        deliverers: dict[str, Deliverer] | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.topics = topics
        self.clock = clock
        self.open_incidents = open_incidents
        self.customers = customers
        self.index = SegmentIndex()
        self.trail = AuditTrail(settings.pseudonym_key)
        self.deliverers = deliverers or {}
        self.dead_letters: Counter[tuple[str, str]] = Counter()

    # -- shared helpers -------------------------------------------------------------
    async def reject(self, message: Any, stage: str, error_type: str, reason: str) -> None:
        """Bad input is kept, counted and recorded — never dropped, never fatal."""
        letter = dead_letter(origin_of(message), stage, error_type, reason, self.clock.now())
        self.dead_letters[(stage, error_type)] += 1
        log.warning(
            "dead letter from %s[%d]@%d (%s): %s", letter.topic, letter.partition, letter.offset, error_type, reason
        )
        await self.topics["deadletter"].send(key=message.key, value=encode(letter))
        await self.audit(self.trail.dead_letter(letter))

    async def audit(self, record: AuditRecord) -> None:
        await self.topics["audit"].send(key=record.audit_id.encode(), value=encode(record))

    async def decoded(self, message: Any, model: type[R], stage: str) -> R | None:
        try:
            return decode(message.value, model)
        except DecodeError as exc:
            await self.reject(message, stage, exc.error_type, exc.reason)
            return None

    # -- normalize: raw -> events ---------------------------------------------------
    async def normalize(self, message: Any) -> None:
        value = message.value
        if value is None:
            await self.reject(message, "normalize", "invalid", "empty record (null value)")
            return
        if len(value) > self.settings.max_payload_bytes + 1024:
            await self.reject(
                message,
                "normalize",
                "oversized",
                f"record of {len(value)} bytes exceeds {self.settings.max_payload_bytes}",
            )
            return
        raw = await self.decoded(message, RawSignal, "normalize")
        if raw is None:
            return
        try:
            events = normalize(raw, max_bytes=self.settings.max_payload_bytes)
        except NormalizeError as exc:
            await self.reject(message, "normalize", exc.error_type, f"{raw.source}: {exc.reason}")
            return
        events_topic = self.topics["events"]
        for event in events:
            await events_topic.send(key=f"{event.service}|{event.region}".encode(), value=encode(event))

    # -- correlate: events -> incidents ---------------------------------------------
    async def correlate(self, message: Any) -> None:
        event = await self.decoded(message, ObservabilityEvent, "correlate")
        if event is None:
            return
        key = dedup_key(event.service, event.region, event.symptom).encode()
        stored = self.open_incidents.get(key)
        current = decode(stored, Incident) if stored is not None else None
        result = correlate(current, event, self.policy)
        if result.state is None:
            if stored is not None:
                del self.open_incidents[key]
        else:
            self.open_incidents[key] = encode(result.state)
        for incident in result.published:
            await self.topics["incidents"].send(key=incident.incident_id.encode(), value=encode(incident))
            await self.audit(self.trail.incident(incident, self.clock.now()))

    # -- plan: incident version -> one targeting request per customer partition -----
    async def plan(self, message: Any) -> None:
        incident = await self.decoded(message, Incident, "target")
        if incident is None:
            return
        for request in plan_targeting(incident, self.policy, self.settings.partitions):
            await self.topics["targeting"].send(
                key=request.request_id.encode(), value=encode(request), partition=request.partition
            )

    # -- customers: changelog -> table + index --------------------------------------
    async def upsert_customer(self, message: Any) -> None:
        key = message.key
        if key is None:
            await self.reject(message, "customers", "invalid", "customer record without a key")
            return
        if message.value is None:  # tombstone: the customer is gone
            self.index.remove(message.partition, key.decode())
            if self.customers.get(key) is not None:
                del self.customers[key]
            return
        segment = await self.decoded(message, CustomerSegment, "customers")
        if segment is None:
            return
        if segment.customer_id.encode() != key:
            await self.reject(
                message, "customers", "invalid", f"key {key!r} does not match customer_id {segment.customer_id!r}"
            )
            return
        self.customers[key] = message.value
        self.index.upsert(message.partition, segment.customer_id, segment.regions)

    def rebuild_index(self, partitions: dict[int, Iterator[bytes]]) -> None:
        """After table recovery: the index is memory only, the table is the truth."""
        for partition, keys in partitions.items():
            self.index.drop_partition(partition)
            for key in keys:
                stored = self.customers.get(key)
                if stored is not None:
                    segment = decode(stored, CustomerSegment)
                    self.index.upsert(partition, segment.customer_id, segment.regions)

    # -- target: one partition's customers -> notification commands -----------------
    async def target(self, message: Any) -> None:
        request = await self.decoded(message, TargetingRequest, "target")
        if request is None:
            return
        incident, now = request.incident, self.clock.now()
        for customer_id in self.index.candidates(message.partition, request.regions):
            stored = self.customers.get(customer_id.encode())
            if stored is None:
                continue
            segment = decode(stored, CustomerSegment)
            if not is_affected(segment, request, incident.updated_at):
                continue
            for channel in channels_for(segment, request, self.policy):
                words = draft(incident, segment, channel, self.settings.status_page_url)
                command = command_for(incident, segment, channel, words, now=now, dry_run=self.settings.dry_run)
                await self.topics[f"notify.{channel.value}"].send(
                    key=command.notification_id.encode(), value=encode(command)
                )
                await self.audit(self.trail.command(command, now))

    # -- deliver: channel topic -> provider -> receipt ------------------------------
    async def deliver(self, channel: str, message: Any) -> None:
        command = await self.decoded(message, NotificationCommand, "deliver")
        if command is None:
            return
        receipt = await self.deliverers[channel].deliver(command)
        await self.topics["receipts"].send(key=command.notification_id.encode(), value=encode(receipt))
        await self.audit(self.trail.receipt(receipt, self.clock.now()))


async def decode_events(wiring: Wiring, events: Sequence[Any], model: type[R], stage: str) -> list[R]:
    """Decode a batch; anything undecodable is dead-lettered like any other bad input."""
    out: list[R] = []
    for event in events:
        record = await wiring.decoded(event.message, model, stage)
        if record is not None:
            out.append(record)
    return out


async def retry_forever(what: str, call: Any, *args: Any) -> None:
    """Hold the batch (and so the offsets) until the store accepts it: nothing lost."""
    delay = 0.5
    while True:
        try:
            await asyncio.to_thread(call, *args)
            return
        except Exception as exc:  # the store is the only thing that can fail here
            log.warning("%s failed (%s); retrying in %.1fs without committing", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

"""What every stage's glue shares: settings, topics, the clock, dead-lettering and auditing."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any, TypeVar

from forewarn.clock import Clock
from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.processors.audit import AuditTrail
from forewarn.processors.deadletter import Origin, dead_letter
from forewarn.schemas.codec import DecodeError, decode, decode_one_of, encode
from forewarn.schemas.models import AuditRecord, Record
from forewarn.streams.topics import Topics

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Record)


def origin_of(message: Any) -> Origin:
    return Origin(message.topic, message.partition, message.offset, message.key, message.value)


class StreamContext:
    def __init__(self, settings: Settings, policy: Policy, topics: Topics, clock: Clock) -> None:
        self.settings = settings
        self.policy = policy
        self.topics = topics
        self.clock = clock
        self.trail = AuditTrail(settings.pseudonym_key)
        self.dead_letters: Counter[tuple[str, str]] = Counter()

    async def send(self, short_topic: str, key: bytes | None, record: Record, partition: int | None = None) -> None:
        await self.topics[short_topic].send(key=key, value=encode(record), partition=partition)

    async def reject(self, message: Any, stage: str, error_type: str, reason: str) -> None:
        """Bad input is kept, counted and recorded — never dropped, never fatal."""
        letter = dead_letter(origin_of(message), stage, error_type, reason, self.clock.now())
        self.dead_letters[(stage, error_type)] += 1
        log.warning(
            "dead letter from %s[%d]@%d (%s): %s", letter.topic, letter.partition, letter.offset, error_type, reason
        )
        await self.send("deadletter", message.key, letter)
        await self.audit(self.trail.dead_letter(letter))

    async def audit(self, record: AuditRecord) -> None:
        await self.send("audit", record.audit_id.encode(), record)

    async def decoded(self, message: Any, model: type[R], stage: str) -> R | None:
        """The record, or None after dead-lettering what could not be decoded."""
        try:
            return decode(message.value, model)
        except DecodeError as exc:
            await self.reject(message, stage, exc.error_type, exc.reason)
            return None

    async def decoded_one_of(self, message: Any, models: tuple[type[Record], ...], stage: str) -> Record | None:
        """For a topic carrying several contracts: the record, or None after dead-lettering."""
        try:
            return decode_one_of(message.value, models)
        except DecodeError as exc:
            await self.reject(message, stage, exc.error_type, exc.reason)
            return None

    async def decoded_batch(self, events: Sequence[Any], model: type[R], stage: str) -> list[R]:
        out: list[R] = []
        for event in events:
            record = await self.decoded(event.message, model, stage)
            if record is not None:
                out.append(record)
        return out

"""Dead letters: bad input kept with its reason instead of crashing a worker or vanishing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from forewarn.schemas.models import DeadLetter


class Rejected(Exception):
    """A record a stage cannot process; ``error_type`` is one of DeadLetter's documented kinds."""

    def __init__(self, reason: str, error_type: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


@dataclass(frozen=True)
class Origin:
    """Where a record came from, so a dead letter points at the exact offset."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def dead_letter(origin: Origin, stage: str, error_type: str, reason: str, now: datetime) -> DeadLetter:
    return DeadLetter(
        topic=origin.topic,
        partition=origin.partition,
        offset=origin.offset,
        key=origin.key,
        value=origin.value,
        stage=stage,
        error_type=error_type,
        reason=reason,
        failed_at=now,
    )

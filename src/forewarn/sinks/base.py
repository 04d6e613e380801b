"""The delivery base: retries, idempotency and dry-run live here once, for every channel.

A channel implements only ``send(command)``. ``Deliverer`` decides whether to send at
all (already delivered? dry run?), retries what may succeed later, and always answers
with a ``DeliveryReceipt`` so every command ends in the record.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from forewarn.schemas.models import Channel, DeliveryReceipt, DeliveryStatus, NotificationCommand


@dataclass(frozen=True)
class ProviderResult:
    """What the provider said, kept verbatim (trimmed) for the audit record."""

    response: str
    message_id: str | None = None


class SendError(Exception):
    """A failed send. ``retryable`` errors are tried again; ``retry_after`` honours the provider."""

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Sink(ABC):
    """One channel's provider. Implementations must not retry or dedup: the base does."""

    channel: Channel
    provider: str

    @abstractmethod
    async def send(self, command: NotificationCommand) -> ProviderResult: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; most sinks hold none."""


class DeliveredStore(Protocol):
    def seen(self, notification_id: str) -> bool: ...

    def mark(self, notification_id: str, response: str) -> None: ...


class SqliteDeliveredStore:
    """Durable delivered-ids, written synchronously right after a send succeeds.

    The window in which a crash can cause a second send shrinks to the instant between
    the provider accepting the message and this local commit, instead of the seconds
    between a send and the next Kafka offset commit.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS delivered (id TEXT PRIMARY KEY, response TEXT)")

    def seen(self, notification_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM delivered WHERE id = ?", (notification_id,)).fetchone()
        return row is not None

    def mark(self, notification_id: str, response: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO delivered (id, response) VALUES (?, ?)", (notification_id, response[:500])
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Outbox:
    """Dry-run destination: what would have been sent, as JSON lines a person can read."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def put(self, command: NotificationCommand) -> None:
        line = json.dumps(command.model_dump(mode="json"), ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay_s: float = 0.2
    max_delay_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full-jitter exponential backoff, never shorter than the provider asked for."""
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        jittered = rng.uniform(0, backoff)
        return max(jittered, retry_after or 0.0)


Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], datetime]


class Deliverer:
    """Runs one sink with the shared delivery semantics."""

    def __init__(
        self,
        sink: Sink,
        store: DeliveredStore,
        *,
        clock: Clock,
        outbox: Outbox | None = None,
        dry_run: bool = False,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.sink = sink
        self.store = store
        self.outbox = outbox
        self.dry_run = dry_run
        self.retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()

    def _receipt(
        self,
        command: NotificationCommand,
        status: DeliveryStatus,
        attempts: int,
        response: str,
        message_id: str | None = None,
    ) -> DeliveryReceipt:
        return DeliveryReceipt(
            notification_id=command.notification_id,
            incident_id=command.incident_id,
            incident_version=command.incident_version,
            customer_id=command.customer_id,
            channel=command.channel,
            status=status,
            attempts=attempts,
            provider=self.sink.provider,
            provider_response=response[:1000],
            provider_message_id=message_id,
            sent_at=self._clock(),
        )

    async def deliver(self, command: NotificationCommand) -> DeliveryReceipt:
        if command.dry_run or self.dry_run:
            return self._dry_run(command)
        if self.store.seen(command.notification_id):
            return self._receipt(command, DeliveryStatus.duplicate, 0, "already delivered")
        last_error = ""
        for attempt in range(1, self.retry.attempts + 1):
            try:
                result = await self.sink.send(command)
            except SendError as exc:
                last_error = str(exc)
                if not exc.retryable or attempt == self.retry.attempts:
                    return self._receipt(command, DeliveryStatus.failed, attempt, last_error)
                await self._sleep(self.retry.delay(attempt, exc.retry_after, self._rng))
                continue
            self.store.mark(command.notification_id, result.response)
            return self._receipt(command, DeliveryStatus.delivered, attempt, result.response, result.message_id)
        return self._receipt(command, DeliveryStatus.failed, self.retry.attempts, last_error)

    def _dry_run(self, command: NotificationCommand) -> DeliveryReceipt:
        if self.outbox is None:
            raise RuntimeError("a dry-run command reached a sink with no outbox configured")
        self.outbox.put(command)
        return self._receipt(command, DeliveryStatus.dry_run, 0, f"written to outbox {self.outbox.path.name}")

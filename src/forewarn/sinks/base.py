"""The delivery base: retries, rate limits, the circuit breaker, idempotency and dry-run
live here once, for every channel.

A channel implements only ``send(command)``. ``Deliverer`` decides whether to send at
all (already delivered? dry run?), waits for the provider's rate limit and breaker, retries
what may succeed later, and always answers with a ``DeliveryReceipt`` so every command ends
in the record. A ``failed`` receipt means the attempts are spent: the stream glue dead-letters
the command with the last error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from forewarn.schemas.models import Channel, DeliveryReceipt, DeliveryStatus, NotificationCommand

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderResult:
    """What the provider said, kept verbatim (trimmed) for the audit record."""

    response: str
    message_id: str | None = None


class SendError(Exception):
    """A failed send. ``retryable`` errors are tried again; ``retry_after`` honours the provider.

    ``uncertain``: the request left and no answer came back (a timeout, a dropped connection, a
    gateway timeout), so the provider may have acted on it. An idempotent sink may simply try
    again; for the others another attempt could post twice, so the deliverer stops there.
    """

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None, uncertain: bool = False
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.uncertain = uncertain


class Sink(ABC):
    """One channel's provider. Implementations must not retry or dedup: the base does.

    ``idempotent`` sinks give the provider a key derived from the notification id (or look the
    earlier write up before repeating it), so a resend after a crash or a lost answer is dropped;
    for the others a send whose outcome a crash or a lost answer hid is dead-lettered for a person
    rather than risked twice.
    """

    channel: Channel
    provider: str
    idempotent: bool = False

    @abstractmethod
    async def send(self, command: NotificationCommand) -> ProviderResult: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; most sinks hold none."""


#: Receipt text of a command not resent because an earlier attempt's outcome is unknown.
UNCERTAIN = "uncertain"

#: Metadata ``forewarn deadletter redrive`` puts on a ``delivery_uncertain`` command: what the person
#: found at the provider (``REDRIVE_NOT_DELIVERED`` or ``REDRIVE_DELIVERED``), who they are, and a
#: one-use token (the redrive's audit id). It travels in the command itself, so it reaches whichever
#: sink worker holds the partition's delivered-ids store, and it is on record in the topic.
REDRIVE_CHECKED = "redrive_checked"
REDRIVE_BY = "redrive_by"
REDRIVE_TOKEN = "redrive_token"
REDRIVE_NOT_DELIVERED = "not_delivered"
REDRIVE_DELIVERED = "delivered"


class DeliveredStore(Protocol):
    def seen(self, notification_id: str) -> bool: ...

    def mark(self, notification_id: str, response: str) -> None: ...

    def begin(self, notification_id: str) -> None: ...

    def in_flight(self, notification_id: str) -> bool: ...

    def settle(self, notification_id: str) -> None: ...

    def clear_uncertain(self, notification_id: str, token: str) -> bool: ...


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
        self._db.execute("CREATE TABLE IF NOT EXISTS sending (id TEXT PRIMARY KEY)")
        self._db.execute("CREATE TABLE IF NOT EXISTS redriven (token TEXT PRIMARY KEY, id TEXT)")

    def seen(self, notification_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM delivered WHERE id = ?", (notification_id,)).fetchone()
        return row is not None

    def mark(self, notification_id: str, response: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO delivered (id, response) VALUES (?, ?)", (notification_id, response[:500])
            )
            self._db.execute("DELETE FROM sending WHERE id = ?", (notification_id,))

    def begin(self, notification_id: str) -> None:
        """Note, durably, that a send is about to leave: if the worker dies before ``mark``, the
        next attempt knows the provider may already have the message."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO sending (id) VALUES (?)", (notification_id,))

    def in_flight(self, notification_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM sending WHERE id = ?", (notification_id,)).fetchone()
        return row is not None

    def settle(self, notification_id: str) -> None:
        """The send failed for sure: a later attempt is no longer uncertain."""
        with self._lock:
            self._db.execute("DELETE FROM sending WHERE id = ?", (notification_id,))

    def clear_uncertain(self, notification_id: str, token: str) -> bool:
        """A person checked the provider and says an uncertain send did not land: clear its in-flight
        mark, once per redrive token. A redelivered copy of the same redriven command (a crash
        during its send) finds the token used and stays refused, so one statement allows one send."""
        if not token:
            return False
        with self._lock:
            if self._db.execute("SELECT 1 FROM sending WHERE id = ?", (notification_id,)).fetchone() is None:
                return False
            used = self._db.execute(
                "INSERT OR IGNORE INTO redriven (token, id) VALUES (?, ?)", (token, notification_id)
            ).rowcount
            if used != 1:
                return False
            self._db.execute("DELETE FROM sending WHERE id = ?", (notification_id,))
        return True

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
Monotonic = Callable[[], float]


class RateLimit:
    """A token bucket per provider: ``per_second`` sustained, ``burst`` at once.

    Providers throttle per account, not per worker agent, so channels sharing a provider
    share one bucket. Waiting here is cheaper than earning a 429 and its Retry-After.
    """

    def __init__(
        self, per_second: float, burst: int = 1, *, monotonic: Monotonic = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        if per_second <= 0:
            raise ValueError(f"rate limit must be positive, got {per_second}/s")
        self.per_second = per_second
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._last = monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.per_second)
        self._last = now

    async def acquire(self) -> None:
        async with self._lock:
            self._refill()
            while self._tokens < 1 - 1e-9:  # tolerance: float refill may land a hair under a whole token
                await self._sleep((1 - self._tokens) / self.per_second)
                self._refill()
            self._tokens = max(0.0, self._tokens - 1)


class CircuitBreaker:
    """Stops hammering a provider that keeps failing: after ``failures`` retryable errors in a
    row it opens for ``cooldown_s``, then lets one probe through (half-open).

    While it is open the deliverer waits instead of sending, so the stream pauses and its
    offsets stay uncommitted: a provider outage delays messages rather than spending every
    command's attempts and dead-lettering them all.
    """

    def __init__(self, failures: int = 5, cooldown_s: float = 30.0, *, monotonic: Monotonic = time.monotonic) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._monotonic = monotonic
        self._consecutive = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self.wait_s() == 0 else "open"

    def wait_s(self) -> float:
        """Seconds until a send may go out (0 when closed or ready to probe)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown_s - self._monotonic())

    def succeeded(self) -> None:
        self._consecutive = 0
        self._opened_at = None

    def failed(self) -> None:
        self._consecutive += 1
        if self._consecutive >= self.failures:
            self._opened_at = self._monotonic()  # a failed probe re-opens for another cooldown


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
        rate_limit: RateLimit | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.sink = sink
        self.store = store
        self.outbox = outbox
        self.dry_run = dry_run
        self.retry = retry or RetryPolicy()
        self.rate_limit = rate_limit
        self.breaker = breaker or CircuitBreaker()
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
        checked = command.metadata.get(REDRIVE_CHECKED)
        if checked == REDRIVE_DELIVERED:
            return self._marked_delivered(command)
        if self.store.in_flight(command.notification_id) and not self.sink.idempotent:
            token = command.metadata.get(REDRIVE_TOKEN, "")
            if checked == REDRIVE_NOT_DELIVERED and self.store.clear_uncertain(command.notification_id, token):
                log.warning(
                    "%s: %s checked %s and found it not delivered (redrive %s): sending",
                    command.notification_id,
                    command.metadata.get(REDRIVE_BY, "?"),
                    self.sink.provider,
                    token,
                )
            else:
                why = "an earlier attempt was in flight when the worker stopped"
                if checked == REDRIVE_NOT_DELIVERED:
                    why = f"redrive {token or '(no token)'} was already used for it, and a later attempt was in flight"
                note = (
                    f"{UNCERTAIN}: {why}; {self.sink.provider} takes no idempotency key, so it is not resent "
                    "(check the provider, then replay if missing)"
                )
                return self._receipt(command, DeliveryStatus.failed, 0, note)
        self.store.begin(command.notification_id)
        last_error = ""
        for attempt in range(1, self.retry.attempts + 1):
            await self._wait_for_provider()
            try:
                result = await self.sink.send(command)
            except SendError as exc:
                last_error = str(exc)
                if exc.retryable:
                    self.breaker.failed()
                if exc.uncertain and not self.sink.idempotent:
                    # the in-flight mark stays: like a crash mid-send, this outcome is for a person to check
                    note = (
                        f"{UNCERTAIN}: {last_error}; the provider may have it and {self.sink.provider} takes no "
                        "idempotency key, so it is not resent (check the provider, then replay if missing)"
                    )
                    return self._receipt(command, DeliveryStatus.failed, attempt, note)
                if not exc.retryable or attempt == self.retry.attempts:
                    self.store.settle(command.notification_id)
                    return self._receipt(command, DeliveryStatus.failed, attempt, last_error)
                await self._sleep(self.retry.delay(attempt, exc.retry_after, self._rng))
                continue
            except Exception as exc:  # a sink bug must dead-letter its command, not kill the agent
                log.exception("%s sink raised on %s", self.sink.provider, command.notification_id)
                self.store.settle(command.notification_id)
                return self._receipt(command, DeliveryStatus.failed, attempt, f"{type(exc).__name__}: {exc}")
            self.breaker.succeeded()
            self.store.mark(command.notification_id, result.response)
            return self._receipt(command, DeliveryStatus.delivered, attempt, result.response, result.message_id)
        return self._receipt(command, DeliveryStatus.failed, self.retry.attempts, last_error)

    def _marked_delivered(self, command: NotificationCommand) -> DeliveryReceipt:
        """A person found an uncertain send at the provider: record it delivered and send nothing, so
        the record is complete and no later copy of the command goes out."""
        meta = command.metadata
        response = (
            f"marked delivered by {meta.get(REDRIVE_BY, '?')} after checking {self.sink.provider} "
            f"(redrive {meta.get(REDRIVE_TOKEN, '')}); not sent"
        )
        log.warning("%s: %s", command.notification_id, response)
        self.store.mark(command.notification_id, response)
        return self._receipt(command, DeliveryStatus.delivered, 0, response)

    async def _wait_for_provider(self) -> None:
        wait = self.breaker.wait_s()
        if wait > 0:
            log.warning("%s circuit open: waiting %.1fs before the next send", self.sink.provider, wait)
            await self._sleep(wait)
        if self.rate_limit is not None:
            await self.rate_limit.acquire()

    def _dry_run(self, command: NotificationCommand) -> DeliveryReceipt:
        if self.outbox is None:
            raise RuntimeError("a dry-run command reached a sink with no outbox configured")
        self.outbox.put(command)
        return self._receipt(command, DeliveryStatus.dry_run, 0, f"written to outbox {self.outbox.path.name}")

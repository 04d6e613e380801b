"""The delivery glue without a broker: receipts, audit, and dead-lettering after the attempts are spent."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from factories import T0, command
from forewarn.clock import Clock
from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.processors.audit import AuditTrail
from forewarn.schemas.codec import encode
from forewarn.schemas.models import (
    Channel,
    DeliveryReceipt,
    DeliveryStatus,
    NotificationCommand,
)
from forewarn.sinks.base import Deliverer, ProviderResult, RetryPolicy, SendError, Sink, SqliteDeliveredStore
from forewarn.sinks.channels import build_deliverers
from forewarn.streams.delivery import Delivery


class FixedClock:
    def now(self) -> Any:
        return T0


class Message:
    def __init__(self, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = "t.notify.email", 0, 7, b"k", value


class FakeContext:
    """Records what the glue sends, rejects and audits (the real one needs Faust topics)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []
        self.rejected: list[tuple[str, str, str]] = []
        self.audited: list[Any] = []
        self.trail = AuditTrail("k")
        self.clock: Clock = FixedClock()
        self.settings = Settings()
        self.policy = Policy()

    async def decoded(self, message: Message, model: type[Any], stage: str) -> Any:
        from forewarn.schemas.codec import decode

        return decode(message.value, model)

    async def send(self, short_topic: str, key: bytes | None, record: Any, partition: int | None = None) -> None:
        self.sent.append((short_topic, record))

    async def reject(self, message: Message, stage: str, error_type: str, reason: str) -> None:
        self.rejected.append((stage, error_type, reason))

    async def audit(self, record: Any) -> None:
        self.audited.append(record)


class Down(Sink):
    channel = Channel.email
    provider = "down"

    async def send(self, command: NotificationCommand) -> ProviderResult:
        raise SendError("503 Service Unavailable: maintenance")


class Up(Sink):
    channel = Channel.email
    provider = "up"

    async def send(self, command: NotificationCommand) -> ProviderResult:
        return ProviderResult("250 ok")


async def no_sleep(seconds: float) -> None:
    return None


def glue(sink: Sink, tmp_path: Path) -> tuple[Delivery, FakeContext]:
    ctx = FakeContext()
    deliverer = Deliverer(
        sink,
        SqliteDeliveredStore(tmp_path / "d.sqlite"),
        clock=lambda: T0,
        retry=RetryPolicy(attempts=3),
        sleep=no_sleep,
        rng=random.Random(0),
    )
    return Delivery(ctx, {"email": deliverer}), ctx  # type: ignore[arg-type]


async def test_after_n_failures_the_command_is_dead_lettered_with_the_last_error(tmp_path: Path) -> None:
    delivery, ctx = glue(Down(), tmp_path)
    await delivery.deliver("email", Message(encode(command())))
    ((stage, error_type, reason),) = ctx.rejected
    assert (stage, error_type) == ("deliver", "delivery_failed")
    assert "after 3 attempt(s)" in reason and "503 Service Unavailable: maintenance" in reason
    ((topic, receipt),) = ctx.sent
    assert topic == "receipts" and isinstance(receipt, DeliveryReceipt)
    assert receipt.status is DeliveryStatus.dead_lettered
    assert [a.action for a in ctx.audited] == ["dead_lettered"]


async def test_a_delivered_command_gets_a_receipt_and_an_audit_row(tmp_path: Path) -> None:
    delivery, ctx = glue(Up(), tmp_path)
    await delivery.deliver("email", Message(encode(command())))
    assert ctx.rejected == [] and [r.status for _, r in ctx.sent] == [DeliveryStatus.delivered]
    assert ctx.audited[0].stage == "deliver" and ctx.audited[0].provider_response == "250 ok"


def test_build_deliverers_runs_the_configured_channels_and_rejects_unknown_ones(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, channels=["email", "slack", "sms"])
    deliverers = build_deliverers(settings, FixedClock())  # type: ignore[arg-type]
    assert list(deliverers) == ["email", "slack", "sms"]  # internal only where destinations are configured
    assert deliverers["slack"].rate_limit is not None
    try:
        build_deliverers(Settings(data_dir=tmp_path, channels=["pigeon"]), FixedClock())  # type: ignore[arg-type]
    except ValueError as exc:
        assert "pigeon" in str(exc)
    else:
        raise AssertionError("an unknown channel must fail start-up")

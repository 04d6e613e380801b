import random
from pathlib import Path

import pytest

from factories import T0, command
from forewarn.schemas.models import Channel, DeliveryStatus, NotificationCommand
from forewarn.sinks.base import Deliverer, Outbox, ProviderResult, RetryPolicy, SendError, Sink, SqliteDeliveredStore


class ScriptedSink(Sink):
    channel = Channel.email
    provider = "scripted"

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[str] = []

    async def send(self, command: NotificationCommand) -> ProviderResult:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append(command.notification_id)
        return ProviderResult("250 ok", "mid-1")


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def deliverer(sink: Sink, tmp_path: Path, sleeps: Sleeps, **kw: object) -> Deliverer:
    return Deliverer(
        sink,
        SqliteDeliveredStore(tmp_path / "d.sqlite"),
        clock=lambda: T0,
        sleep=sleeps,
        rng=random.Random(1),
        retry=RetryPolicy(attempts=3),
        outbox=Outbox(tmp_path / "outbox.jsonl"),
        **kw,
    )  # type: ignore[arg-type]


async def test_delivers_once_and_recognises_the_replay(tmp_path: Path) -> None:
    sink, sleeps = ScriptedSink(), Sleeps()
    d = deliverer(sink, tmp_path, sleeps)
    first = await d.deliver(command())
    second = await d.deliver(command())
    assert (first.status, second.status) == (DeliveryStatus.delivered, DeliveryStatus.duplicate)
    assert sink.sent == ["ntf_1"]


async def test_delivered_ids_survive_a_restart(tmp_path: Path) -> None:
    await deliverer(ScriptedSink(), tmp_path, Sleeps()).deliver(command())
    again = ScriptedSink()
    receipt = await deliverer(again, tmp_path, Sleeps()).deliver(command())
    assert receipt.status is DeliveryStatus.duplicate and again.sent == []


async def test_transient_errors_are_retried_honouring_retry_after(tmp_path: Path) -> None:
    sink, sleeps = ScriptedSink(SendError("429", retry_after=7.0), SendError("503")), Sleeps()
    receipt = await deliverer(sink, tmp_path, sleeps).deliver(command())
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 3
    assert sleeps.calls[0] >= 7.0 and len(sleeps.calls) == 2


async def test_permanent_error_fails_without_retry(tmp_path: Path) -> None:
    sink, sleeps = ScriptedSink(SendError("550 no such user", retryable=False)), Sleeps()
    receipt = await deliverer(sink, tmp_path, sleeps).deliver(command())
    assert receipt.status is DeliveryStatus.failed and "550" in receipt.provider_response and sleeps.calls == []


async def test_gives_up_after_the_last_attempt(tmp_path: Path) -> None:
    sink = ScriptedSink(*(SendError("503") for _ in range(5)))
    receipt = await deliverer(sink, tmp_path, Sleeps()).deliver(command())
    assert receipt.status is DeliveryStatus.failed and receipt.attempts == 3 and sink.sent == []


@pytest.mark.parametrize("mode", ["command", "worker"])
async def test_dry_run_writes_the_outbox_and_sends_nothing(tmp_path: Path, mode: str) -> None:
    sink = ScriptedSink()
    d = deliverer(sink, tmp_path, Sleeps(), dry_run=(mode == "worker"))
    receipt = await d.deliver(command(dry_run=(mode == "command")))
    assert receipt.status is DeliveryStatus.dry_run and sink.sent == []
    assert '"notification_id": "ntf_1"' in (tmp_path / "outbox.jsonl").read_text()

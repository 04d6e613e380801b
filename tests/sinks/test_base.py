import random
from pathlib import Path

import pytest

from factories import T0, command
from forewarn.schemas.models import Channel, DeliveryStatus, NotificationCommand
from forewarn.sinks.base import (
    REDRIVE_BY,
    REDRIVE_CHECKED,
    REDRIVE_DELIVERED,
    REDRIVE_NOT_DELIVERED,
    REDRIVE_TOKEN,
    CircuitBreaker,
    Deliverer,
    Outbox,
    ProviderResult,
    RateLimit,
    RetryPolicy,
    SendError,
    Sink,
    SqliteDeliveredStore,
)


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


class FakeTime:
    """A monotonic clock the fake sleep advances, so rate limits and cooldowns run instantly."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_rate_limit_spaces_sends_after_the_burst() -> None:
    t = FakeTime()
    limit = RateLimit(per_second=10, burst=2, monotonic=t, sleep=t.sleep)
    for _ in range(5):
        await limit.acquire()
    assert t.slept == pytest.approx([0.1, 0.1, 0.1])  # two free, then one every 100 ms
    assert t.now == pytest.approx(100.3)


def test_breaker_opens_after_n_failures_and_half_opens_after_the_cooldown() -> None:
    t = FakeTime()
    breaker = CircuitBreaker(failures=3, cooldown_s=30, monotonic=t)
    for _ in range(2):
        breaker.failed()
    assert breaker.state == "closed" and breaker.wait_s() == 0
    breaker.failed()
    assert breaker.state == "open" and breaker.wait_s() == 30
    t.now += 30
    assert breaker.state == "half_open"
    breaker.failed()  # the probe failed: open again for a full cooldown
    assert breaker.wait_s() == 30
    breaker.succeeded()
    assert breaker.state == "closed"


async def test_open_breaker_makes_the_next_command_wait_instead_of_failing(tmp_path: Path) -> None:
    t = FakeTime()
    breaker = CircuitBreaker(failures=2, cooldown_s=60, monotonic=t)
    sink = ScriptedSink(*(SendError("503") for _ in range(3)))
    d = Deliverer(
        sink,
        SqliteDeliveredStore(tmp_path / "d.sqlite"),
        clock=lambda: T0,
        sleep=t.sleep,
        rng=random.Random(1),
        retry=RetryPolicy(attempts=3),
        breaker=breaker,
    )
    first = await d.deliver(command("ntf_1"))
    assert first.status is DeliveryStatus.failed and breaker.state == "open"
    t.slept.clear()
    second = await d.deliver(command("ntf_2"))
    assert second.status is DeliveryStatus.delivered and sink.sent == ["ntf_2"]
    assert t.slept[0] == pytest.approx(60)  # waited out the cooldown before probing
    assert breaker.state == "closed"


async def test_permanent_errors_do_not_trip_the_breaker(tmp_path: Path) -> None:
    breaker = CircuitBreaker(failures=1)
    sink = ScriptedSink(SendError("400 bad request", retryable=False))
    d = deliverer(sink, tmp_path, Sleeps(), breaker=breaker)
    assert (await d.deliver(command())).status is DeliveryStatus.failed
    assert breaker.state == "closed"


class BuggySink(ScriptedSink):
    async def send(self, command: NotificationCommand) -> ProviderResult:
        raise KeyError("recipients")


async def test_a_sink_bug_fails_the_command_instead_of_killing_the_agent(tmp_path: Path) -> None:
    receipt = await deliverer(BuggySink(), tmp_path, Sleeps()).deliver(command())
    assert receipt.status is DeliveryStatus.failed and "KeyError" in receipt.provider_response


async def test_a_send_a_crash_left_uncertain_is_not_risked_twice(tmp_path: Path) -> None:
    SqliteDeliveredStore(tmp_path / "d.sqlite").begin("ntf_1")  # the worker died mid-send
    sink = ScriptedSink()
    receipt = await deliverer(sink, tmp_path, Sleeps()).deliver(command())
    assert receipt.status is DeliveryStatus.failed and receipt.provider_response.startswith("uncertain")
    assert sink.sent == []


async def test_an_idempotent_provider_gets_the_uncertain_send_again(tmp_path: Path) -> None:
    SqliteDeliveredStore(tmp_path / "d.sqlite").begin("ntf_1")
    sink = ScriptedSink()
    sink.idempotent = True
    receipt = await deliverer(sink, tmp_path, Sleeps()).deliver(command())
    assert receipt.status is DeliveryStatus.delivered and sink.sent == ["ntf_1"]


async def test_a_definite_failure_is_not_uncertain_next_time(tmp_path: Path) -> None:
    await deliverer(ScriptedSink(SendError("400", retryable=False)), tmp_path, Sleeps()).deliver(command())
    receipt = await deliverer(ScriptedSink(), tmp_path, Sleeps()).deliver(command())
    assert receipt.status is DeliveryStatus.delivered


def redriven(checked: str, token: str = "tok-1", nid: str = "ntf_1") -> NotificationCommand:
    """A command as `forewarn deadletter redrive --not-delivered|--delivered --by ana` republishes it."""
    metadata = {REDRIVE_CHECKED: checked, REDRIVE_BY: "ana", REDRIVE_TOKEN: token}
    return command(nid).model_copy(update={"metadata": metadata})


async def test_a_person_checked_not_delivered_clears_the_uncertain_mark_once(tmp_path: Path) -> None:
    SqliteDeliveredStore(tmp_path / "d.sqlite").begin("ntf_1")
    sink = ScriptedSink(SendError("504 gateway timeout", uncertain=True))
    d = deliverer(sink, tmp_path, Sleeps())
    lost_again = await d.deliver(redriven(REDRIVE_NOT_DELIVERED))  # the redriven send was lost too
    assert lost_again.status is DeliveryStatus.failed and lost_again.provider_response.startswith("uncertain")
    # a redelivered copy of the same redrive finds its token used: one statement allows one send
    copy = await d.deliver(redriven(REDRIVE_NOT_DELIVERED))
    assert copy.status is DeliveryStatus.failed and "already used" in copy.provider_response and sink.sent == []
    sent = await d.deliver(redriven(REDRIVE_NOT_DELIVERED, token="tok-2"))
    assert sent.status is DeliveryStatus.delivered and sink.sent == ["ntf_1"]
    again = await d.deliver(redriven(REDRIVE_NOT_DELIVERED, token="tok-3"))
    assert again.status is DeliveryStatus.duplicate and sink.sent == ["ntf_1"]


async def test_an_uncertain_command_without_the_check_stays_refused(tmp_path: Path) -> None:
    SqliteDeliveredStore(tmp_path / "d.sqlite").begin("ntf_1")
    sink = ScriptedSink()
    plain = await deliverer(sink, tmp_path, Sleeps()).deliver(command())
    no_token = await deliverer(sink, tmp_path, Sleeps()).deliver(redriven(REDRIVE_NOT_DELIVERED, token=""))
    assert {plain.status, no_token.status} == {DeliveryStatus.failed} and sink.sent == []


async def test_a_person_checked_delivered_records_it_and_sends_nothing(tmp_path: Path) -> None:
    SqliteDeliveredStore(tmp_path / "d.sqlite").begin("ntf_1")
    sink = ScriptedSink()
    d = deliverer(sink, tmp_path, Sleeps())
    marked = await d.deliver(redriven(REDRIVE_DELIVERED))
    assert marked.status is DeliveryStatus.delivered and marked.attempts == 0
    assert "marked delivered by ana" in marked.provider_response and sink.sent == []
    later = await d.deliver(redriven(REDRIVE_NOT_DELIVERED, token="tok-2"))  # a contrary redrive later
    assert later.status is DeliveryStatus.duplicate and sink.sent == []


async def test_a_not_delivered_check_on_a_settled_command_just_sends_it(tmp_path: Path) -> None:
    sink = ScriptedSink()
    receipt = await deliverer(sink, tmp_path, Sleeps()).deliver(redriven(REDRIVE_NOT_DELIVERED))
    assert receipt.status is DeliveryStatus.delivered and sink.sent == ["ntf_1"]

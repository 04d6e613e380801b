"""Every HTTP provider but Slack/SMS (``test_http.py``) against scripted 429s, 5xx, timeouts and 4xx.

Each provider is driven through the real ``Deliverer`` with a recording sleep, so the tests
see what delivery does with the answer: how long it waited, how many attempts it took, and
what the provider ended up holding.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from factories import T0, command
from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, DeliveryReceipt, DeliveryStatus, NotificationCommand
from forewarn.sinks.base import Deliverer, RetryPolicy, SendError, Sink, SqliteDeliveredStore
from forewarn.sinks.helpdesk import HelpdeskLedger, HelpdeskSink
from forewarn.sinks.inapp import BannerBoard, InAppSink
from forewarn.sinks.social import SocialSink
from forewarn.sinks.statuspage import PageIncidents, StatuspageSink
from forewarn.sinks.teams import TeamsSink
from http_recorder import HttpRecorder, Recorded

#: Client timeout for the timeout cases, and how long the scripted stall holds the answer.
TIMEOUT_S, STALL_S = 0.5, 1.5


@dataclass(frozen=True)
class Provider:
    make: Callable[[HttpRecorder, Path, float], Sink]
    command: Callable[[HttpRecorder], NotificationCommand]
    path: str  # where the send's first request goes; faults are scripted here
    accepted: int  # requests to ``path`` a clean send leaves accepted
    method: str | None = None  # the writes among them (statuspage also reads the path before a repeat)


def _cmd(channel: Channel, recipients: list[str], **changes: object) -> NotificationCommand:
    return command("ntf_1").model_copy(update={"channel": channel, "recipients": recipients, **changes})


def _statuspage(r: HttpRecorder, tmp: Path, timeout_s: float) -> Sink:
    settings = ChannelSettings(statuspage_api_url=f"{r.url}/v1", statuspage_page_id="pg", statuspage_api_key="k")
    return StatuspageSink(settings, PageIncidents(tmp / "sp.sqlite"), timeout_s=timeout_s)


def _helpdesk(r: HttpRecorder, tmp: Path, timeout_s: float) -> Sink:
    settings = ChannelSettings(helpdesk_url=r.url, helpdesk_email="bot@x.example", helpdesk_token="tk")
    return HelpdeskSink(settings, HelpdeskLedger(tmp / "helpdesk.sqlite"), timeout_s=timeout_s)


PROVIDERS = [
    pytest.param(
        Provider(
            lambda r, tmp, t: TeamsSink(timeout_s=t),
            lambda r: _cmd(Channel.teams, [f"{r.url}/workflows/x"]),
            "/workflows/x",
            1,
        ),
        id="teams",
    ),
    pytest.param(
        Provider(
            lambda r, tmp, t: InAppSink(
                BannerBoard(tmp / "banners.sqlite"), ChannelSettings(inapp_push_url=f"{r.url}/push"), timeout_s=t
            ),
            lambda r: _cmd(Channel.inapp, ["u1"]),
            "/push",
            1,
        ),
        id="inapp-push",
    ),
    pytest.param(
        Provider(
            lambda r, tmp, t: SocialSink(ChannelSettings(social_webhook_url=f"{r.url}/social"), timeout_s=t),
            lambda r: _cmd(Channel.social, ["public"]),
            "/social",
            1,
        ),
        id="social",
    ),
    pytest.param(
        Provider(
            _statuspage,
            lambda r: _cmd(Channel.statuspage, ["public"], subject="Payments outage"),
            "/v1/pages/pg/incidents",
            1,
            "POST",
        ),
        id="statuspage",
    ),
    pytest.param(
        Provider(
            _helpdesk,
            lambda r: _cmd(Channel.helpdesk, ["c1"], subject="[P1] Payments outage"),
            "/api/v2/tickets.json",
            2,  # the incident's problem ticket and the customer's linked ticket
        ),
        id="helpdesk",
    ),
]


@dataclass
class Run:
    receipt: DeliveryReceipt
    sleeps: list[float]


async def deliver(provider: Provider, recorder: HttpRecorder, tmp: Path, *, timeout_s: float = 10.0) -> Run:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    sink = provider.make(recorder, tmp, timeout_s)
    deliverer = Deliverer(
        sink,
        SqliteDeliveredStore(tmp / "delivered.sqlite"),
        clock=lambda: T0,
        retry=RetryPolicy(attempts=4),
        sleep=sleep,
        rng=random.Random(0),
    )
    try:
        receipt = await deliverer.deliver(provider.command(recorder))
    finally:
        await sink.close()
    return Run(receipt, sleeps)


async def arrived(recorder: HttpRecorder, path: str, count: int, timeout_s: float = 10.0) -> list[Recorded]:
    """Every request to ``path`` once ``count`` have been answered (a stalled one lands late)."""
    deadline = time.monotonic() + timeout_s
    while len(got := recorder.all_requests(path)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"expected {count} answered requests to {path} in {timeout_s:.0f}s, got {len(got)}")
        await asyncio.sleep(0.05)
    return got


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_429_waits_the_retry_after_then_delivers(
    provider: Provider, recorder: HttpRecorder, tmp_path: Path
) -> None:
    recorder.fail(provider.path, 429, retry_after="7")
    run = await deliver(provider, recorder, tmp_path)
    assert run.receipt.status is DeliveryStatus.delivered and run.receipt.attempts == 2
    assert run.sleeps == [7.0]  # the backoff alone would be well under a second
    assert recorder.all_requests(provider.path)[0].status == 429
    assert len(recorder.received(provider.path, method=provider.method)) == provider.accepted


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_5xx_is_retried_until_it_succeeds(provider: Provider, recorder: HttpRecorder, tmp_path: Path) -> None:
    recorder.fail(provider.path, 500)
    recorder.fail(provider.path, 503)
    run = await deliver(provider, recorder, tmp_path)
    assert run.receipt.status is DeliveryStatus.delivered and run.receipt.attempts == 3
    assert len(run.sleeps) == 2 and all(s <= 0.4 for s in run.sleeps)  # backoff, no Retry-After given
    assert [r.status for r in recorder.all_requests(provider.path)][:2] == [500, 503]
    assert len(recorder.received(provider.path, method=provider.method)) == provider.accepted


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_timeout_is_a_retryable_send_error(provider: Provider, recorder: HttpRecorder, tmp_path: Path) -> None:
    recorder.stall(provider.path, STALL_S)
    sink = provider.make(recorder, tmp_path, TIMEOUT_S)
    try:
        with pytest.raises(SendError) as err:
            await sink.send(provider.command(recorder))
    finally:
        await sink.close()
    assert err.value.retryable and err.value.uncertain and "timed out" in str(err.value)
    await arrived(recorder, provider.path, 1)  # the provider still answers, to nobody


IDEMPOTENT = [p for p in PROVIDERS if p.id in ("inapp-push", "social", "helpdesk")]


@pytest.mark.parametrize("provider", IDEMPOTENT)
async def test_a_retry_after_a_timeout_is_dropped_by_the_idempotency_key(
    provider: Provider, recorder: HttpRecorder, tmp_path: Path
) -> None:
    """The provider acted on the request whose answer was lost; the retry carries the same key."""
    recorder.stall(provider.path, STALL_S)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:  # retry only once the stalled request was acted on
        sleeps.append(seconds)
        await arrived(recorder, provider.path, 1)

    sink = provider.make(recorder, tmp_path, TIMEOUT_S)
    deliverer = Deliverer(
        sink, SqliteDeliveredStore(tmp_path / "d.sqlite"), clock=lambda: T0, sleep=sleep, rng=random.Random(0)
    )
    try:
        receipt = await deliverer.deliver(provider.command(recorder))
    finally:
        await sink.close()
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 2 and len(sleeps) == 1
    assert len(recorder.received(provider.path, method=provider.method)) == provider.accepted
    assert [r.replay for r in recorder.all_requests(provider.path)][:2] == [False, True]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [400, 422])
async def test_a_4xx_is_not_retried(provider: Provider, status: int, recorder: HttpRecorder, tmp_path: Path) -> None:
    recorder.fail(provider.path, status)
    run = await deliver(provider, recorder, tmp_path)
    assert run.receipt.status is DeliveryStatus.failed and run.receipt.attempts == 1 and run.sleeps == []
    assert f"-> {status} " in run.receipt.provider_response
    assert [r.status for r in recorder.all_requests(provider.path)] == [status]

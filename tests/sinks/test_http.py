"""Every HTTP provider against a local recording server: what it sends, and how it reads 429/5xx/timeouts."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from factories import T0, command
from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, DeliveryStatus, NotificationCommand, Phase
from forewarn.sinks.base import Deliverer, RetryPolicy, SendError, SqliteDeliveredStore
from forewarn.sinks.http import retry_after_s
from forewarn.sinks.inapp import BannerBoard, InAppSink
from forewarn.sinks.slack import SlackSink
from forewarn.sinks.sms import SmsSink
from forewarn.sinks.social import SocialSink
from forewarn.sinks.statuspage import PageIncidents, StatuspageSink
from forewarn.sinks.teams import TeamsSink
from http_recorder import HttpRecorder


def cmd(channel: Channel, recipients: list[str], nid: str = "ntf_1", **changes: object) -> NotificationCommand:
    return command(nid).model_copy(update={"channel": channel, "recipients": recipients, **changes})


async def test_slack_posts_blocks_to_the_customers_webhook(recorder: HttpRecorder) -> None:
    hook = f"{recorder.url}/services/T1/B1/secret"
    result = await SlackSink().send(cmd(Channel.slack, [hook], text="Payments are down"))
    (req,) = recorder.received("/services/T1/B1/secret")
    assert req.json()["text"] == "Payments are down"
    assert "[P1] Investigating" in req.json()["blocks"][0]["text"]["text"]
    assert result.response.startswith("200")


async def test_teams_posts_an_adaptive_card(recorder: HttpRecorder) -> None:
    await TeamsSink().send(cmd(Channel.teams, [f"{recorder.url}/workflows/x"], text="Payments are down"))
    (req,) = recorder.received("/workflows/x")
    attachment = req.json()["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["body"][1]["text"] == "Payments are down"


async def test_a_webhook_channel_without_url_is_a_permanent_error() -> None:
    with pytest.raises(SendError) as err:
        await SlackSink().send(cmd(Channel.slack, []))
    assert not err.value.retryable


def sms_settings(recorder: HttpRecorder) -> ChannelSettings:
    return ChannelSettings(sms_url=recorder.url, sms_account_sid="AC1", sms_auth_token="tok", sms_from="+100")


async def test_sms_texts_each_phone_through_the_twilio_api(recorder: HttpRecorder, tmp_path: Path) -> None:
    sink = SmsSink(sms_settings(recorder), SqliteDeliveredStore(tmp_path / "parts.sqlite"))
    result = await sink.send(cmd(Channel.sms, ["+4911", "+4922"], text="Payments down " * 40))
    reqs = recorder.received("/2010-04-01/Accounts/AC1/Messages.json")
    assert [r.form()["To"] for r in reqs] == ["+4911", "+4922"]
    assert reqs[0].form()["From"] == "+100" and len(reqs[0].form()["Body"]) <= 306
    assert reqs[0].headers["Authorization"].startswith("Basic ")
    assert result.message_id == "SM1001,SM1002"


async def test_sms_retry_after_a_partial_failure_texts_only_the_rest(recorder: HttpRecorder, tmp_path: Path) -> None:
    path = "/2010-04-01/Accounts/AC1/Messages.json"
    sink = SmsSink(sms_settings(recorder), SqliteDeliveredStore(tmp_path / "parts.sqlite"))
    await sink.send(cmd(Channel.sms, ["+4911"]))  # the first phone got it on an earlier attempt
    recorder.fail(path, 503)
    with pytest.raises(SendError):
        await sink.send(cmd(Channel.sms, ["+4911", "+4922"]))
    await sink.send(cmd(Channel.sms, ["+4911", "+4922"]))
    assert [r.form()["To"] for r in recorder.received(path)] == ["+4911", "+4922"]


async def test_sms_without_provider_settings_is_permanent(tmp_path: Path) -> None:
    with pytest.raises(SendError) as err:
        await SmsSink(ChannelSettings(), SqliteDeliveredStore(tmp_path / "p.sqlite")).send(cmd(Channel.sms, ["+1"]))
    assert not err.value.retryable and "FOREWARN_PROVIDER_SMS_URL" in str(err.value)


async def test_social_posts_280_chars_with_an_idempotency_key(recorder: HttpRecorder) -> None:
    sink = SocialSink(ChannelSettings(social_webhook_url=f"{recorder.url}/social", social_token="t"))
    await sink.send(cmd(Channel.social, ["public"], text="x" * 400))
    await sink.send(cmd(Channel.social, ["public"], text="x" * 400))  # a resend: the provider drops it
    (req,) = recorder.received("/social")
    assert len(req.json()["text"]) == 280 and req.headers["Idempotency-Key"] == "ntf_1"
    assert req.headers["Authorization"] == "Bearer t"
    assert len(recorder.all_requests("/social")) == 2


async def test_inapp_keeps_the_latest_banner_per_incident_and_pushes(recorder: HttpRecorder, tmp_path: Path) -> None:
    board = BannerBoard(tmp_path / "banners.sqlite")
    sink = InAppSink(board, ChannelSettings(inapp_push_url=f"{recorder.url}/push"))
    await sink.send(cmd(Channel.inapp, ["u1"], "ntf_2", incident_version=2, text="v2", phase=Phase.identified))
    await sink.send(cmd(Channel.inapp, ["u1"], "ntf_1", incident_version=1, text="v1"))  # late replay of v1
    (banner,) = board.for_customer("c1", T0)
    assert (banner.incident_version, banner.text, banner.phase) == (2, "v2", "identified")
    pushed = recorder.received("/push")
    assert [r.json()["id"] for r in pushed] == ["ntf_2", "ntf_1"]
    assert pushed[0].json()["user_ids"] == ["u1"] and pushed[0].headers["Idempotency-Key"] == "ntf_2"


async def test_inapp_without_push_endpoint_only_posts_the_banner(tmp_path: Path) -> None:
    board = BannerBoard(tmp_path / "banners.sqlite")
    result = await InAppSink(board, ChannelSettings()).send(cmd(Channel.inapp, ["u1"]))
    assert result.response == "banner posted" and len(board.for_customer("c1", T0)) == 1


async def test_statuspage_mirror_creates_once_then_patches(recorder: HttpRecorder, tmp_path: Path) -> None:
    settings = ChannelSettings(statuspage_api_url=f"{recorder.url}/v1", statuspage_page_id="pg", statuspage_api_key="k")
    sink = StatuspageSink(settings, PageIncidents(tmp_path / "sp.sqlite"))
    await sink.send(cmd(Channel.statuspage, ["public"], subject="Payments outage"))
    await sink.send(cmd(Channel.statuspage, ["public"], "ntf_2", incident_version=2, phase=Phase.resolved))
    created, patched = recorder.received()
    assert (created.method, created.path) == ("POST", "/v1/pages/pg/incidents")
    assert created.json()["incident"]["impact_override"] == "critical"
    assert created.headers["Authorization"] == "OAuth k"
    assert (patched.method, patched.path) == ("PATCH", "/v1/pages/pg/incidents/sp1001")
    assert patched.json()["incident"]["status"] == "resolved"


async def test_statuspage_without_atlassian_page_is_local_only(tmp_path: Path) -> None:
    result = await StatuspageSink(ChannelSettings(), PageIncidents(tmp_path / "sp.sqlite")).send(
        cmd(Channel.statuspage, ["public"])
    )
    assert "forewarn's status page" in result.response


@pytest.mark.parametrize(
    ("status", "retry_after", "retryable", "wait"),
    [(429, "7", True, 7.0), (503, None, True, None), (500, None, True, None), (400, None, False, None)],
)
async def test_provider_answers_become_send_errors(
    recorder: HttpRecorder, status: int, retry_after: str | None, retryable: bool, wait: float | None
) -> None:
    recorder.fail("/hook", status, retry_after=retry_after)
    with pytest.raises(SendError) as err:
        await SlackSink().send(cmd(Channel.slack, [f"{recorder.url}/hook"]))
    assert err.value.retryable is retryable and err.value.retry_after == wait and str(status) in str(err.value)
    assert recorder.received("/hook") == []


async def test_a_timeout_is_retryable(recorder: HttpRecorder) -> None:
    recorder.stall("/hook", 2.0)
    with pytest.raises(SendError) as err:
        await SlackSink(timeout_s=0.3).send(cmd(Channel.slack, [f"{recorder.url}/hook"]))
    assert err.value.retryable and "timed out" in str(err.value)


async def test_connection_refused_is_retryable() -> None:
    from forewarn.demo.mailbox import free_port

    with pytest.raises(SendError) as err:
        await SlackSink().send(cmd(Channel.slack, [f"http://127.0.0.1:{free_port()}/hook"]))
    assert err.value.retryable


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_s("12") == 12.0
    assert retry_after_s("Mon, 23 Nov 2026 09:00:30 GMT", now=T0) == 30.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


async def test_deliverer_rides_out_429_and_503_honouring_retry_after(recorder: HttpRecorder, tmp_path: Path) -> None:
    recorder.fail("/hook", 429, retry_after="3")
    recorder.fail("/hook", 503)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    deliverer = Deliverer(
        SlackSink(),
        SqliteDeliveredStore(tmp_path / "d.sqlite"),
        clock=lambda: T0,
        retry=RetryPolicy(attempts=3),
        sleep=sleep,
        rng=random.Random(0),
    )
    receipt = await deliverer.deliver(cmd(Channel.slack, [f"{recorder.url}/hook"]))
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 3
    assert sleeps[0] >= 3.0 and len(recorder.received("/hook")) == 1
    assert [r.status for r in recorder.all_requests("/hook")] == [429, 503, 200]

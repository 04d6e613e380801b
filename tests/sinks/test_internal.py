"""The internal sink: mail lists over SMTP, chat webhooks over HTTP, and nowhere else."""

from __future__ import annotations

import json

import httpx
import pytest

from factories import command
from forewarn.config import SmtpSettings
from forewarn.demo.mailbox import Mailbox
from forewarn.schemas.models import Channel, NotificationCommand
from forewarn.sinks.base import SendError
from forewarn.sinks.email import EmailSink
from forewarn.sinks.internal import InternalSink

HOOK = "https://hooks.corp.example/war-room"
ALLOWED = frozenset({"support@corp.example", HOOK})


def internal(recipients: list[str]) -> NotificationCommand:
    return command().model_copy(
        update={
            "channel": Channel.internal,
            "customer_id": "internal:support",
            "recipients": recipients,
            "subject": "[support] Known issue",
            "text": "canned responses ...",
        }
    )


def sink(handler: httpx.MockTransport | None = None, mail_port: int = 1) -> InternalSink:
    mail = EmailSink(SmtpSettings(port=mail_port), unsubscribe_url="https://status.example.com/unsubscribe")
    client = httpx.AsyncClient(transport=handler or httpx.MockTransport(lambda r: httpx.Response(200, text="ok")))
    return InternalSink(ALLOWED, mail, client=client)


async def test_mail_list_gets_the_message_over_smtp() -> None:
    with Mailbox() as box:
        result = await sink(mail_port=box.port).send(internal(["Support@corp.example"]))
        (mail,) = box.snapshot()
    assert mail["Subject"] == "[support] Known issue" and mail["To"] == "Support@corp.example"
    assert "250 accepted" in result.response


async def test_webhook_gets_the_text_as_slack_and_teams_expect_it() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text="ok")

    result = await sink(httpx.MockTransport(answer)).send(internal([HOOK]))
    (request,) = seen
    assert str(request.url) == HOOK
    assert json.loads(request.content) == {"text": "*[support] Known issue*\ncanned responses ..."}
    assert result.response.startswith("200")


@pytest.mark.parametrize(
    "recipients",
    [["ops@customer.example"], ["support@corp.example", "ops@customer.example"], ["https://hooks.slack.com/T/B/x"], []],
)
async def test_anything_not_configured_is_refused_for_good(recipients: list[str]) -> None:
    with pytest.raises(SendError) as refused:
        await sink().send(internal(recipients))
    assert not refused.value.retryable


async def test_webhook_failures_are_classified() -> None:
    busy = httpx.MockTransport(lambda r: httpx.Response(429, headers={"Retry-After": "3"}, text="slow down"))
    with pytest.raises(SendError) as slow:
        await sink(busy).send(internal([HOOK]))
    assert slow.value.retryable and slow.value.retry_after == 3.0
    gone = httpx.MockTransport(lambda r: httpx.Response(404, text="no such hook"))
    with pytest.raises(SendError) as missing:
        await sink(gone).send(internal([HOOK]))
    assert not missing.value.retryable

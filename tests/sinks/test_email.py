from collections.abc import Iterator

import pytest

from factories import command
from forewarn.config import SmtpSettings
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.sinks.base import SendError
from forewarn.sinks.email import EmailSink


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


async def test_multipart_message_with_stable_message_id(mailbox: Mailbox) -> None:
    sink = EmailSink(SmtpSettings(port=mailbox.port, sender="status@x.example"), "https://status.x/unsubscribe")
    cmd = command().model_copy(update={"subject": "Payments outage", "html": "<p>hi</p>"})
    result = await sink.send(cmd)
    (msg,) = mailbox.wait_for(1, 10)
    assert msg["Message-ID"] == "<ntf_1@forewarn>" == result.message_id
    assert msg["Subject"] == "Payments outage" and msg["To"] == "ops@c1.example"
    assert msg["List-Unsubscribe"] == "<https://status.x/unsubscribe?customer=c1>"
    assert msg.get_body(("plain",)).get_content().strip() == "hi"  # type: ignore[union-attr]
    assert "<p>hi</p>" in msg.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_temporary_rejection_is_retryable(mailbox: Mailbox) -> None:
    mailbox.reject_with = "451 4.3.0 try again later"
    with pytest.raises(SendError) as err:
        await EmailSink(SmtpSettings(port=mailbox.port), "u").send(command())
    assert err.value.retryable and "451" in str(err.value)


async def test_permanent_rejection_is_not_retryable(mailbox: Mailbox) -> None:
    mailbox.reject_with = "554 5.7.1 rejected"
    with pytest.raises(SendError) as err:
        await EmailSink(SmtpSettings(port=mailbox.port), "u").send(command())
    assert not err.value.retryable


async def test_unreachable_server_is_retryable() -> None:
    with pytest.raises(SendError) as err:
        await EmailSink(SmtpSettings(port=free_port(), timeout_s=2), "u").send(command())
    assert err.value.retryable and "unreachable" in str(err.value)

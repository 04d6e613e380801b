"""The internal channel: war-room, support and leadership messages to the company's own people.

A command goes either to a mail list (over the same SMTP path as customer mail) or to a chat
webhook (Slack and Teams incoming webhooks both take ``{"text": ...}``). The sink sends only
to destinations configured in ``Settings.internal``: a command naming anything else — a
customer's address slipped in by a bug — is refused for good, so internal facts cannot leave
the company through this channel.
"""

from __future__ import annotations

import httpx

from forewarn.schemas.models import Channel, NotificationCommand
from forewarn.sinks.base import ProviderResult, SendError, Sink

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_webhook(recipient: str) -> bool:
    return recipient.startswith(("http://", "https://"))


def chat_payload(command: NotificationCommand) -> dict[str, str]:
    subject = f"*{command.subject}*\n" if command.subject else ""
    return {"text": f"{subject}{command.text}"}


class InternalSink(Sink):
    channel = Channel.internal
    provider = "internal"

    def __init__(
        self, allowed: frozenset[str], mail: Sink, *, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.allowed = allowed
        self.mail = mail
        self._client = client or httpx.AsyncClient(timeout=timeout_s)

    def _check(self, command: NotificationCommand) -> None:
        if not command.recipients:
            raise SendError(f"{command.notification_id}: no internal recipients", retryable=False)
        foreign = [r for r in command.recipients if (r if is_webhook(r) else r.lower()) not in self.allowed]
        if foreign:
            raise SendError(
                f"{command.notification_id}: refusing to send internal message to {len(foreign)} unconfigured "
                "destination(s); only Settings.internal destinations may receive it",
                retryable=False,
            )
        kinds = {is_webhook(r) for r in command.recipients}
        if len(kinds) > 1:
            raise SendError(f"{command.notification_id}: mixes mail and webhook recipients", retryable=False)

    async def send(self, command: NotificationCommand) -> ProviderResult:
        self._check(command)
        if not is_webhook(command.recipients[0]):
            return await self.mail.send(command)
        url = command.recipients[0]
        try:
            response = await self._client.post(url, json=chat_payload(command))
        except httpx.HTTPError as exc:
            raise SendError(f"internal webhook failed: {type(exc).__name__}: {exc}") from exc
        answer = f"{response.status_code} {response.reason_phrase}: {response.text[:200]}"
        if response.is_success:
            return ProviderResult(answer)
        retry_after = response.headers.get("Retry-After")
        raise SendError(
            f"internal webhook answered {answer}",
            retryable=response.status_code in RETRYABLE_STATUS,
            retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
        )

    async def close(self) -> None:
        await self._client.aclose()

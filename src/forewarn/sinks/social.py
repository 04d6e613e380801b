"""Social posts through a configurable webhook (a scheduler such as Buffer, or an in-house bridge).

Posted once per incident update (the ``public`` customer), at most 280 characters, with the
notification id as the Idempotency-Key so the receiving tool can drop a resend.
"""

from __future__ import annotations

import httpx

from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, NotificationCommand
from forewarn.sinks.base import ProviderResult, SendError
from forewarn.sinks.http import HttpSink, describe

MAX_POST_CHARS = 280


def post_text(command: NotificationCommand) -> str:
    text = " ".join(command.text.split())
    return text if len(text) <= MAX_POST_CHARS else text[: MAX_POST_CHARS - 1] + "…"


class SocialSink(HttpSink):
    channel = Channel.social
    provider = "social-webhook"
    idempotent = True  # the notification id travels as Idempotency-Key

    def __init__(
        self, providers: ChannelSettings, *, timeout_s: float = 10.0, client: httpx.AsyncClient | None = None
    ) -> None:
        super().__init__(timeout_s=timeout_s, client=client)
        self.url = providers.social_webhook_url
        self.token = providers.social_token

    async def send(self, command: NotificationCommand) -> ProviderResult:
        if not self.url:
            raise SendError("social webhook not configured (FOREWARN_PROVIDER_SOCIAL_WEBHOOK_URL)", retryable=False)
        headers = {"Idempotency-Key": command.notification_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = {
            "text": post_text(command),
            "incident_id": command.incident_id,
            "version": command.incident_version,
            "severity": command.severity.value,
            "phase": command.phase.value,
        }
        response = await self.request("POST", self.url, json=payload, headers=headers)
        return ProviderResult(describe(response))

"""SMS through a Twilio-compatible REST API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

One command may name several phones. Each accepted phone is remembered under
``<notification id>#<phone>`` in the delivered-ids store, so a retry after a partial failure
(or a crash) texts only the phones that have not had it yet.
"""

from __future__ import annotations

import httpx

from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, NotificationCommand
from forewarn.sinks.base import DeliveredStore, ProviderResult, SendError
from forewarn.sinks.http import HttpSink

#: Two GSM-7 segments; longer texts are cut rather than billed as a long concatenated SMS.
MAX_SMS_CHARS = 306


def sms_text(command: NotificationCommand) -> str:
    text = " ".join(command.text.split())
    return text if len(text) <= MAX_SMS_CHARS else text[: MAX_SMS_CHARS - 1] + "…"


class SmsSink(HttpSink):
    channel = Channel.sms
    provider = "twilio"

    def __init__(
        self,
        providers: ChannelSettings,
        parts: DeliveredStore,
        *,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, client=client)
        self.settings = providers
        self.parts = parts

    async def send(self, command: NotificationCommand) -> ProviderResult:
        s = self.settings
        if not (s.sms_url and s.sms_account_sid and s.sms_auth_token):
            raise SendError(
                "SMS provider not configured (FOREWARN_PROVIDER_SMS_URL/_ACCOUNT_SID/_AUTH_TOKEN)", retryable=False
            )
        if not command.recipients:
            raise SendError(f"{command.notification_id}: no phone numbers", retryable=False)
        url = f"{s.sms_url.rstrip('/')}/2010-04-01/Accounts/{s.sms_account_sid}/Messages.json"
        sids = []
        for phone in command.recipients:
            part = f"{command.notification_id}#{phone}"
            if self.parts.seen(part):
                continue
            response = await self.request(
                "POST",
                url,
                data={"To": phone, "From": s.sms_from, "Body": sms_text(command)},
                auth=(s.sms_account_sid, s.sms_auth_token),
            )
            sid = str(response.json().get("sid", ""))
            self.parts.mark(part, sid)
            sids.append(sid)
        return ProviderResult(f"201 queued {len(sids)} of {len(command.recipients)} SMS", ",".join(sids) or None)

"""Slack incoming webhooks: the enterprise bridge into a customer's own workspace.

The webhook URL is the customer's contact (``Contacts.slack_webhook``). Slack offers no
idempotency key for webhooks, so the delivered-ids store is what prevents a second post.
"""

from __future__ import annotations

from forewarn.schemas.models import Channel, NotificationCommand, Phase
from forewarn.sinks.base import ProviderResult, SendError
from forewarn.sinks.http import HttpSink, describe

_EMOJI = {
    Phase.investigating: ":red_circle:",
    Phase.identified: ":large_orange_circle:",
    Phase.monitoring: ":large_yellow_circle:",
    Phase.resolved: ":large_green_circle:",
}


def webhook_of(command: NotificationCommand) -> str:
    if not command.recipients or not command.recipients[0].startswith(("http://", "https://")):
        raise SendError(f"{command.notification_id}: no {command.channel.value} webhook URL", retryable=False)
    return command.recipients[0]


def slack_payload(command: NotificationCommand) -> dict[str, object]:
    headline = f"{_EMOJI[command.phase]} *[{command.severity.value}] {command.phase.value.capitalize()}*"
    return {
        "text": command.text,  # the notification fallback and what screen readers use
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
            {"type": "section", "text": {"type": "mrkdwn", "text": command.text}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"forewarn · {command.notification_id}"}],
            },
        ],
    }


class SlackSink(HttpSink):
    channel = Channel.slack
    provider = "slack"

    async def send(self, command: NotificationCommand) -> ProviderResult:
        response = await self.request("POST", webhook_of(command), json=slack_payload(command))
        return ProviderResult(describe(response))

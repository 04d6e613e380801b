"""Microsoft Teams incoming webhooks (Workflows), posting an Adaptive Card.

Like Slack's, the webhook URL is the customer's contact and carries no idempotency key.
"""

from __future__ import annotations

from forewarn.schemas.models import Channel, NotificationCommand
from forewarn.sinks.base import ProviderResult
from forewarn.sinks.http import HttpSink, describe
from forewarn.sinks.slack import webhook_of


def teams_payload(command: NotificationCommand) -> dict[str, object]:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "size": "Medium",
                "weight": "Bolder",
                "text": f"[{command.severity.value}] {command.phase.value.capitalize()}",
            },
            {"type": "TextBlock", "wrap": True, "text": command.text},
            {"type": "TextBlock", "isSubtle": True, "size": "Small", "text": f"forewarn · {command.notification_id}"},
        ],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


class TeamsSink(HttpSink):
    channel = Channel.teams
    provider = "teams"

    async def send(self, command: NotificationCommand) -> ProviderResult:
        response = await self.request("POST", webhook_of(command), json=teams_payload(command))
        return ProviderResult(describe(response))

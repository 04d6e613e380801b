"""Stage glue: a channel topic -> its sink -> a receipt and an audit record."""

from __future__ import annotations

from typing import Any

import faust

from forewarn.schemas.models import NotificationCommand
from forewarn.sinks.base import Deliverer
from forewarn.streams.context import StreamContext


class Delivery:
    def __init__(self, ctx: StreamContext, deliverers: dict[str, Deliverer]) -> None:
        self.ctx = ctx
        self.deliverers = deliverers

    async def deliver(self, channel: str, message: Any) -> None:
        ctx = self.ctx
        command = await ctx.decoded(message, NotificationCommand, "deliver")
        if command is None:
            return
        receipt = await self.deliverers[channel].deliver(command)
        await ctx.send("receipts", command.notification_id.encode(), receipt)
        await ctx.audit(ctx.trail.receipt(receipt, ctx.clock.now()))


def register(app: faust.App, delivery: Delivery) -> None:
    for channel in delivery.deliverers:
        _register_channel(app, delivery, channel)


def _register_channel(app: faust.App, delivery: Delivery, channel: str) -> None:
    @app.agent(delivery.ctx.topics[f"notify.{channel}"], name=f"deliver-{channel}")
    async def deliver_agent(stream: Any) -> None:
        async for event in stream.events():
            await delivery.deliver(channel, event.message)

"""Stage glue: a channel topic -> its sink -> a receipt and an audit record.

A command whose attempts are spent (or that can never succeed) goes to the dead-letter
topic with the provider's last answer, so it can be inspected and replayed; its receipt
says ``dead_lettered``. So does one whose earlier send a crash left uncertain, on a
provider without idempotency keys (``delivery_uncertain``): never sent twice, never lost.
Delivery sends what reaches a channel topic and decides nothing: public posts (status page,
social) are drafted, validated, gated and paced upstream like every other command
(``streams/targeting.py``, ``processors/public.py``).
"""

from __future__ import annotations

from typing import Any

import faust

from forewarn.schemas.models import DeliveryStatus, NotificationCommand
from forewarn.sinks.base import UNCERTAIN, Deliverer
from forewarn.streams.context import StreamContext


def letter_id(message: Any) -> str:
    """The dead letter's id as ``forewarn deadletter`` takes it: where the command was read."""
    return f"{message.topic}:{message.partition}:{message.offset}"


class Delivery:
    def __init__(self, ctx: StreamContext, deliverers: dict[str, Deliverer]) -> None:
        self.ctx = ctx
        self.deliverers = deliverers

    async def deliver(self, channel: str, message: Any) -> None:
        ctx = self.ctx
        command = await ctx.decoded(message, NotificationCommand, "deliver")
        if command is None:
            return
        deliverer = self.deliverers[channel]
        receipt = await deliverer.deliver(command)
        if receipt.status is DeliveryStatus.failed:
            reason = (
                f"{channel} via {deliverer.sink.provider}: gave up after {receipt.attempts} attempt(s): "
                f"{receipt.provider_response}"
            )
            uncertain = receipt.provider_response.startswith(UNCERTAIN)
            if uncertain:  # what the person who checks the provider runs next
                reason += (
                    f"; once checked: forewarn deadletter redrive {letter_id(message)} "
                    "--not-delivered|--delivered --by NAME"
                )
            await ctx.reject(message, "deliver", "delivery_uncertain" if uncertain else "delivery_failed", reason)
            receipt = receipt.model_copy(update={"status": DeliveryStatus.dead_lettered})
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

"""Stage glue: approval records -> released commands, decisions audited, on-call reminded.

The approvals topic is compacted and keyed by approval id; this agent keeps the latest
meaningful record per id in a table so a decision is acted on once and a stale 'pending'
published after it cannot undo it.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from forewarn.processors.approve import released, reminder, reminder_due, supersedes
from forewarn.processors.audit import approval_audit
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import Approval, ApprovalStatus
from forewarn.streams.context import StreamContext

log = logging.getLogger(__name__)
REMINDER_INTERVAL_S = 5.0


class Approvals:
    def __init__(self, ctx: StreamContext, state: Any) -> None:
        self.ctx = ctx
        self.state = state
        self.reminded: set[str] = set()

    async def on_record(self, message: Any) -> None:
        ctx = self.ctx
        approval = await ctx.decoded(message, Approval, "approve")
        if approval is None:
            return
        key = approval.approval_id.encode()
        stored = self.state.get(key)
        current = decode(stored, Approval) if stored is not None else None
        if not supersedes(current, approval):
            if current is not None and approval.status is ApprovalStatus.pending:
                await ctx.send("approvals", key, current)  # restore the decision a stale record shadowed
            return
        self.state[key] = encode(approval)
        now = ctx.clock.now()
        if approval.status is ApprovalStatus.approved:
            command = released(approval)
            await ctx.send(f"notify.{command.channel.value}", command.notification_id.encode(), command)
            await ctx.audit(approval_audit(approval, ctx.settings.pseudonym_key, now, "approved"))
        elif approval.status in (ApprovalStatus.rejected, ApprovalStatus.expired):
            await ctx.audit(approval_audit(approval, ctx.settings.pseudonym_key, now, approval.status.value))
        elif approval.edited:
            action = f"edited-v{approval.command.draft_version}"
            await ctx.audit(approval_audit(approval, ctx.settings.pseudonym_key, now, action))

    async def remind(self) -> None:
        """Re-alert the on-call list about P1 drafts that have waited too long (once each)."""
        ctx, now = self.ctx, self.ctx.clock.now()
        console = f"http://{ctx.settings.web_host}:{ctx.settings.web_port}"
        for value in list(self.state.values()):
            approval = decode(value, Approval)
            if approval.approval_id in self.reminded or not reminder_due(approval, ctx.policy, now):
                continue
            command = reminder(approval, ctx.policy, console, now)
            await ctx.send("notify.email", command.notification_id.encode(), command)
            await ctx.audit(approval_audit(approval, ctx.settings.pseudonym_key, now, "reminded"))
            self.reminded.add(approval.approval_id)
            log.warning("approval %s waited too long; on-call reminded", approval.approval_id)


def register(app: faust.App, approvals: Approvals) -> None:
    @app.agent(approvals.ctx.topics["approvals"], name="approvals")
    async def approvals_agent(stream: Any) -> None:
        async for event in stream.events():
            await approvals.on_record(event.message)

    @app.timer(interval=REMINDER_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def approval_reminders() -> None:
        await approvals.remind()

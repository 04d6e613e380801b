"""Batch decisions over HTTP: every held draft of one incident version (one channel, one language).

``POST /api/approval-batches/{approve|reject}`` (``forewarn approvals approve --incident ID
--version N``) and the console's per-batch forms decide a whole batch (``processors.bulk_approval``)
after one sample per batch is rechecked against the held version's expectations, exactly as a
single approval is. Each draft is published as its own decided record, in chunks, and the API
streams its progress as JSON lines so a terminal can show it for 300,000 drafts; nothing is built
per draft but the record itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote_plus

from aiohttp import web

from forewarn.processors.approve import decided, recheck
from forewarn.processors.bulk_approval import Batch, Selection, batches, decided_batch, to_decide
from forewarn.schemas.models import ApprovalStatus, Channel, DraftSource
from forewarn.web import console
from forewarn.web.console import DecisionError
from forewarn.web.server import CONTEXT, WebContext

#: Records published between two progress reports.
CHUNK = 1000
_ACTIONS = {"approve": ApprovalStatus.approved, "reject": ApprovalStatus.rejected}


@dataclass(frozen=True)
class Plan:
    """A checked batch decision: what will be published, and the batches refused with verdicts."""

    status: ApprovalStatus
    approver: str
    reason: str
    now: datetime
    chosen: list[Batch]
    refused: dict[str, list[str]]

    @property
    def total(self) -> int:
        return sum(len(to_decide(b, self.status)) for b in self.chosen)

    @property
    def left_for_review(self) -> int:
        """Pending drafts a batch approval leaves for one-by-one review (verdicts or edits)."""
        return sum(len(b.review) for b in self.chosen) if self.status is ApprovalStatus.approved else 0

    def summary(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "batches": [summary(b) for b in self.chosen],
            "refused": self.refused,
            "left_for_review": self.left_for_review,
        }


def summary(batch: Batch) -> dict[str, Any]:
    key = batch.key
    return {
        "batch": str(key),
        "incident_id": key.incident_id,
        "incident_version": key.incident_version,
        "channel": key.channel.value,
        "language": key.language,
        "template": key.template,
        "source": key.source.value,
        "ready": len(batch.ready),
        "review": len(batch.review),
        "sample": batch.sample.approval_id,
    }


def selection_of(form: Mapping[str, Any]) -> Selection:
    """The batch a request names; a DecisionError (400) says what is wrong with it."""
    incident_id = str(form.get("incident_id") or "").strip()
    try:
        version = int(str(form.get("version") or ""))
        channel = Channel(form["channel"]) if form.get("channel") else None
        source = DraftSource(form["source"]) if form.get("source") else None
    except ValueError as exc:
        raise DecisionError(400, f"bad batch: {exc}") from exc
    if not incident_id:
        raise DecisionError(400, "incident_id is required: which incident's drafts?")
    language = str(form.get("language") or "").strip() or None
    template = str(form.get("template") or "").strip() or None
    return Selection(incident_id, version, channel, language, template, source)


async def plan(ctx: WebContext, selection: Selection, action: str, form: Mapping[str, Any]) -> Plan:
    """Find the batch and check it: the approver, and for an approval each batch's sample."""
    status = _ACTIONS.get(action)
    if status is None:
        raise DecisionError(400, f"unknown action {action!r}: approve or reject")
    approver = str(form.get("approver") or "").strip()
    if not approver:
        raise DecisionError(400, "approver is required: who is deciding?")
    chosen = batches((await console.approvals(ctx)).values(), selection)
    what = f"{selection.incident_id} v{selection.incident_version}"
    if not chosen:
        raise DecisionError(404, f"no pending drafts of {what} match")
    now = ctx.stages.ctx.clock.now()
    refused: dict[str, list[str]] = {}
    if status is ApprovalStatus.approved:
        refused = await _refused(ctx, chosen, approver, now)
        chosen = [b for b in chosen if b.ready and str(b.key) not in refused]
        if not chosen:
            verdicts = [f"{batch}: {v}" for batch, found in refused.items() for v in found]
            raise DecisionError(422, f"no batch of {what} can be approved as it stands", verdicts)
    return Plan(status, approver, str(form.get("reason") or ""), now, chosen, refused)


async def _refused(ctx: WebContext, chosen: list[Batch], approver: str, now: datetime) -> dict[str, list[str]]:
    """Each batch's sample rechecked as a single approval would be; the batches whose sample fails."""
    ready = [b for b in chosen if b.ready]
    if not ready:
        return {str(b.key): ["every draft of the batch needs one-by-one review (verdicts or edits)"] for b in chosen}
    incident = await console.held_incident(ctx, ready[0].sample)
    refused: dict[str, list[str]] = {}
    for batch in ready:
        record = decided(batch.sample, ApprovalStatus.approved, approver, now)
        if incident is None:
            refused[str(batch.key)] = [
                f"facts: {record.incident_id} v{record.incident_version} is not on the incidents topic"
            ]
            continue
        verdicts = recheck(record, incident, console.drafter(ctx))
        if verdicts:
            refused[str(batch.key)] = verdicts
    return refused


async def publish(ctx: WebContext, plan: Plan) -> AsyncIterator[int]:
    """Publish one decided record per draft; yields how many are out, every ``CHUNK`` and at the end."""
    done = 0
    for batch in plan.chosen:
        for record in decided_batch(batch, plan.status, plan.approver, plan.now, plan.reason):
            await ctx.stages.ctx.send("approvals", record.approval_id.encode(), record)
            done += 1
            if done % CHUNK == 0:
                yield done
    yield done


async def api_batch(request: web.Request) -> web.StreamResponse:
    console.api_guard(request)
    ctx = request.app[CONTEXT]
    try:
        form = await request.json()
        decision = await plan(ctx, selection_of(form), request.match_info["action"], form)
    except ValueError as exc:
        status = exc.status if isinstance(exc, DecisionError) else 400
        verdicts = exc.verdicts if isinstance(exc, DecisionError) else []
        return web.json_response({"error": str(exc), "verdicts": verdicts}, status=status)
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)

    async def line(data: dict[str, Any]) -> None:
        await response.write((json.dumps(data) + "\n").encode())

    await line(decision.summary())
    async for done in publish(ctx, decision):
        await line({"decided": done, "total": decision.total})
    await line({"done": True, "decided": decision.total, "status": decision.status.value})
    await response.write_eof()
    return response


async def console_batch(request: web.Request) -> web.Response:
    console.console_guard(request)
    ctx = request.app[CONTEXT]
    form = dict(await request.post())
    try:
        decision = await plan(ctx, selection_of(form), str(form.get("action", "")), form)
    except DecisionError as exc:
        listed = "".join(f"<li>{escape(v)}</li>" for v in exc.verdicts)
        body = f"<p class='verdicts' id='error'>{escape(str(exc))}</p><ul class='verdicts'>{listed}</ul>"
        return console.page("Batch not decided", body + "<p><a href='/console/approvals'>Back</a></p>", exc.status)
    async for _ in publish(ctx, decision):
        pass
    note = f"{decision.total} drafts {decision.status.value}"
    if decision.left_for_review:
        note += f"; {decision.left_for_review} left for one-by-one review"
    raise web.HTTPSeeOther("/console/approvals?note=" + quote_plus(note))


def feature(app: web.Application, ctx: WebContext) -> None:
    app.router.add_post("/api/approval-batches/{action}", api_batch)
    app.router.add_post("/console/batches", console_batch)

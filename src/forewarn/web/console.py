"""The approvals console (HTML) and API (JSON): list, read, edit, approve or reject held drafts.

Both need ``Settings.console_token``: the API as ``Authorization: Bearer <token>``, the console
through a login form that sets a session cookie. A decision is published to the approvals topic;
the approvals agent acts on it, so the console and ``forewarn approvals`` behave the same.

An approval (edited or not) is checked with the expectations its draft was written to
(``processors.approve.recheck``): the held incident version is read back from the incidents
topic, so an edit is held to the same facts, tone guide, internal facts and language.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from html import escape
from typing import Any
from urllib.parse import quote_plus

from aiohttp import web

from forewarn.processors.approve import Edit, decided, recheck
from forewarn.processors.bulk_approval import Batch, batches
from forewarn.processors.draft import Drafter
from forewarn.processors.incident_room import BREAKDOWN_SEP, RoomState
from forewarn.publish import read_topic
from forewarn.schemas.codec import DecodeError, decode
from forewarn.schemas.models import Approval, ApprovalStatus, Incident
from forewarn.web.server import CONTEXT, WebContext

COOKIE = "forewarn_console"


def _session(token: str) -> str:
    return hashlib.sha256(f"forewarn-console:{token}".encode()).hexdigest()


def _authorised(request: web.Request) -> bool:
    token = request.app[CONTEXT].settings.console_token
    if not token:
        return False
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:], token):
        return True
    return hmac.compare_digest(request.cookies.get(COOKIE, ""), _session(token))


def _latest(ctx: WebContext) -> dict[str, Approval]:
    latest: dict[str, Approval] = {}
    for message in read_topic(ctx.settings, "approvals"):
        try:
            approval = decode(message.value(), Approval)
        except DecodeError:
            continue
        current = latest.get(approval.approval_id)
        if current is None or current.status is ApprovalStatus.pending:
            latest[approval.approval_id] = approval
    return latest


async def approvals(ctx: WebContext) -> dict[str, Approval]:
    try:
        return await asyncio.get_running_loop().run_in_executor(None, _latest, ctx)
    except TimeoutError as exc:  # a partial list would hide held drafts: say so instead
        raise web.HTTPServiceUnavailable(text=f"the approvals topic could not be read in full: {exc}") from exc


class DecisionError(ValueError):
    def __init__(self, status: int, message: str, verdicts: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.verdicts = verdicts or []


async def decide(ctx: WebContext, approval_id: str, action: str, form: dict[str, Any]) -> Approval:
    """Check and publish one decision; raises DecisionError with what is wrong."""
    found = (await approvals(ctx)).get(approval_id)
    if found is None:
        raise DecisionError(404, f"no approval {approval_id}")
    if found.status is not ApprovalStatus.pending:
        raise DecisionError(409, f"approval {approval_id} is already {found.status.value} by {found.approver}")
    approver = str(form.get("approver") or "").strip()
    if not approver:
        raise DecisionError(400, "approver is required: who is deciding?")
    now = ctx.stages.ctx.clock.now()
    if action == "reject":
        record = decided(found, ApprovalStatus.rejected, approver, now, reason=str(form.get("reason") or ""))
    elif action == "approve":
        edit = _edit(found, form)
        record = decided(found, ApprovalStatus.approved, approver, now, edit)
        verdicts = await _verdicts(record, ctx)
        if verdicts:
            raise DecisionError(422, "the draft still fails validation; edit it or reject it", verdicts)
    else:
        raise DecisionError(400, f"unknown action {action!r}: approve or reject")
    await ctx.stages.ctx.send("approvals", record.approval_id.encode(), record)
    return record


def _edit(found: Approval, form: dict[str, Any]) -> Edit | None:
    text, subject = form.get("text"), form.get("subject")
    text = str(text).replace("\r\n", "\n") if text else None
    if text is None and subject is None:
        return None
    if text == found.command.text and (subject is None or subject == found.command.subject):
        return None
    return Edit(text=text or found.command.text, subject=None if subject is None else str(subject))


def _incident_version(ctx: WebContext, incident_id: str, version: int) -> Incident | None:
    for message in read_topic(ctx.settings, "incidents"):
        try:
            incident = decode(message.value(), Incident)
        except DecodeError:
            continue
        if incident.incident_id == incident_id and incident.version == version:
            return incident
    return None


async def held_incident(ctx: WebContext, approval: Approval) -> Incident | None:
    """The incident version a held draft was written for, from the incidents topic."""
    read = asyncio.get_running_loop().run_in_executor(
        None, _incident_version, ctx, approval.incident_id, approval.incident_version
    )
    try:
        return await read
    except TimeoutError as exc:
        raise web.HTTPServiceUnavailable(text=f"the incidents topic could not be read in full: {exc}") from exc


def drafter(ctx: WebContext) -> Drafter:
    """One template drafter per web context (its skeleton cache is shared by every recheck)."""
    found = ctx.extras.get("drafter")
    if not isinstance(found, Drafter):
        found = ctx.extras["drafter"] = Drafter(ctx.stages.ctx.policy, ctx.settings.status_page_url)
    return found


async def _verdicts(record: Approval, ctx: WebContext) -> list[str]:
    incident = await held_incident(ctx, record)
    if incident is None:
        return [
            f"facts: {record.incident_id} v{record.incident_version} is not on the incidents topic, "
            "so the draft cannot be checked against its facts"
        ]
    return recheck(record, incident, drafter(ctx))


# ---- JSON API ----------------------------------------------------------------------------


def api_guard(request: web.Request) -> None:
    if not request.app[CONTEXT].settings.console_token:
        raise web.HTTPServiceUnavailable(
            text='{"error": "set FOREWARN_CONSOLE_TOKEN"}', content_type="application/json"
        )
    if not _authorised(request):
        raise web.HTTPUnauthorized(text='{"error": "bad or missing token"}', content_type="application/json")


async def api_list(request: web.Request) -> web.Response:
    api_guard(request)
    wanted = request.query.get("status")
    found = await approvals(request.app[CONTEXT])
    rows = [a.model_dump(mode="json") for a in found.values() if wanted in (None, "", a.status.value)]
    return web.json_response({"approvals": sorted(rows, key=lambda a: a["requested_at"])})


async def api_show(request: web.Request) -> web.Response:
    api_guard(request)
    found = (await approvals(request.app[CONTEXT])).get(request.match_info["approval_id"])
    if found is None:
        return web.json_response({"error": "no such approval"}, status=404)
    return web.json_response(found.model_dump(mode="json"))


async def api_decide(request: web.Request) -> web.Response:
    api_guard(request)
    try:
        body = await request.json()
        record = await decide(
            request.app[CONTEXT], request.match_info["approval_id"], request.match_info["action"], body
        )
    except ValueError as exc:
        status = exc.status if isinstance(exc, DecisionError) else 400
        verdicts = exc.verdicts if isinstance(exc, DecisionError) else []
        return web.json_response({"error": str(exc), "verdicts": verdicts}, status=status)
    return web.json_response(record.model_dump(mode="json"))


# ---- HTML console ------------------------------------------------------------------------

_STYLE = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#1f2328}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}"
    "textarea{width:100%;font-family:monospace}.verdicts{color:#a40000}.pending{color:#9a6700}"
)


def page(title: str, body: str, status: int = 200) -> web.Response:
    html = f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title><style>{_STYLE}</style>"
    html += f"</head><body><h1>{escape(title)}</h1>{body}</body></html>"
    return web.Response(text=html, content_type="text/html", status=status)


def _login_form(error: str = "") -> web.Response:
    note = f"<p class='verdicts'>{escape(error)}</p>" if error else ""
    form = "<form method='post' action='/console/login'><label>Token <input type='password' name='token' id='token'>"
    form += "</label> <button type='submit' id='login'>Sign in</button></form>"
    return page("forewarn console — sign in", note + form, 401 if error else 200)


async def console_login(request: web.Request) -> web.Response:
    token = request.app[CONTEXT].settings.console_token
    if not token:
        return page("forewarn console", "<p>The console is off: set FOREWARN_CONSOLE_TOKEN.</p>", 503)
    if request.method == "GET":
        return _login_form()
    form = await request.post()
    if not hmac.compare_digest(str(form.get("token", "")), token):
        return _login_form("Wrong token.")
    response = web.HTTPSeeOther("/console/approvals")
    response.set_cookie(COOKIE, _session(token), httponly=True, samesite="Strict")
    raise response


def console_guard(request: web.Request) -> None:
    if not _authorised(request):
        raise web.HTTPSeeOther("/console/login")


def running_summaries(ctx: WebContext, incident_id: str | None = None) -> list[RoomState]:
    """The internal side's rooms this worker holds (one, or every open one), with their running summary.

    Read from the room table itself, so the console shows what the war room was last told.
    """
    internal = ctx.stages.internal if ctx.stages is not None else None
    if internal is None:
        return []
    if incident_id is not None:
        stored = internal.rooms.get(incident_id.encode())
        return [] if stored is None else [RoomState.model_validate_json(stored)]
    rooms = [RoomState.model_validate_json(v) for k, v in internal.rooms.items() if BREAKDOWN_SEP not in k]
    shown = [(r.incident, r) for r in rooms if r.incident is not None and not r.closed and r.summary]
    return [r for i, r in sorted(shown, key=lambda pair: (pair[0].severity.value, pair[0].opened_at))]


def _summary_block(room: RoomState) -> str:
    incident = room.incident
    if incident is None or not room.summary:
        return ""
    head = f"{incident.severity.value} {escape(incident.title)} — {incident.phase.value} (v{incident.version})"
    return (
        f"<div class='summary' data-incident='{escape(incident.incident_id, quote=True)}'><h3>{head}</h3>"
        f"<pre>{escape(room.summary)}</pre></div>"
    )


#: Drafts listed one per row; the rest are reached through their batch (a P1 holds one per customer).
LISTED_MAX = 200


def _batch_row(batch: Batch) -> str:
    key, sample = batch.key, batch.sample
    fields = {
        "incident_id": key.incident_id,
        "version": str(key.incident_version),
        "channel": key.channel.value,
        "language": key.language,
        "template": key.template,
        "source": key.source.value,
    }
    hidden = "".join(f"<input type='hidden' name='{n}' value='{escape(v, quote=True)}'>" for n, v in fields.items())
    review = f" (+{len(batch.review)} to review one by one)" if batch.review else ""
    text = (f"Subject: {sample.command.subject}\n\n" if sample.command.subject else "") + sample.command.text
    return (
        f"<tr class='batch' data-batch='{escape(str(key), quote=True)}'>"
        f"<td>{escape(key.incident_id)} v{key.incident_version}</td><td>{key.channel.value}</td>"
        f"<td>{key.language}</td><td>{escape(key.template)} ({key.source.value})</td>"
        f"<td class='count'>{len(batch.ready)}{review}</td><td>{escape(sample.reason)}<details><summary>sample: "
        f"<a href='/console/approvals/{sample.approval_id}'>{sample.approval_id}</a></summary><pre class='sample'>"
        f"{escape(text)}</pre></details><form method='post' action='/console/batches'>{hidden}"
        "<input name='approver' placeholder='your name' class='approver'> <input name='reason' placeholder='reason'>"
        f" <button name='action' value='approve' class='approve-batch'>Approve all {len(batch.ready)}</button>"
        f" <button name='action' value='reject' class='reject-batch'>Reject all {batch.count}</button></form></td></tr>"
    )


async def console_list(request: web.Request) -> web.Response:
    console_guard(request)
    summaries = "".join(_summary_block(room) for room in running_summaries(request.app[CONTEXT]))
    if summaries:
        summaries = f"<h2>Open incidents: what is known</h2><section id='summaries'>{summaries}</section>"
    found = sorted((await approvals(request.app[CONTEXT])).values(), key=lambda a: a.requested_at, reverse=True)
    grouped = "".join(_batch_row(b) for b in batches(found))
    if grouped:
        head = "<tr><th>incident</th><th>channel</th><th>lang</th><th>words</th><th>pending</th><th>sample</th></tr>"
        grouped = (
            f"<h2>Batches: one sample to read, one decision for all</h2><table id='batches'>{head}{grouped}</table>"
        )
    rows = "".join(
        f"<tr class='{a.status.value}'><td><a href='/console/approvals/{a.approval_id}'>{a.approval_id}</a></td>"
        f"<td>{a.status.value}</td><td>{a.command.severity.value}</td><td>{a.command.channel.value}</td>"
        f"<td>{escape(a.command.customer_id)}</td><td>{a.command.language}</td><td>{escape(a.reason)}</td></tr>"
        for a in found[:LISTED_MAX]
    )
    more = (
        f"<p id='more'>Showing the latest {LISTED_MAX} of {len(found)} drafts.</p>" if len(found) > LISTED_MAX else ""
    )
    head = "<tr><th>id</th><th>status</th><th>sev</th><th>channel</th><th>customer</th><th>lang</th><th>why</th></tr>"
    note = f"<p id='note'>{escape(request.query.get('note', ''))}</p>" if request.query.get("note") else ""
    return page(
        "Drafts waiting for approval",
        f"{note}{summaries}{grouped}<h2>Drafts</h2>{more}<table id='approvals'>{head}{rows}</table>",
    )


def _detail(a: Approval, error: str = "", verdicts: list[str] | None = None) -> str:
    cmd = a.command
    shown = [*a.verdicts, *(verdicts or [])]
    listed = "".join(f"<li>{escape(v)}</li>" for v in shown)
    out = f"<p class='verdicts'>{escape(error)}</p>" if error else ""
    out += f"<p>Status: <b id='status'>{a.status.value}</b>. {escape(a.reason)}</p>"
    out += (
        f"<p>{cmd.severity.value} {cmd.kind.value}, {cmd.channel.value} to {escape(cmd.customer_id)} ({cmd.language})"
    )
    out += f"{' — approved by ' + escape(a.approver) if a.approver else ''}</p>"
    out += f"<ul class='verdicts'>{listed}</ul>" if listed else ""
    if a.status is not ApprovalStatus.pending:
        return out + f"<pre>{escape(cmd.text)}</pre>"
    subject = (
        f"<p><label>Subject<br><input name='subject' size='90' value='{escape(cmd.subject, quote=True)}'></label></p>"
        if cmd.subject is not None
        else ""
    )
    out += f"<form method='post' id='decide'>{subject}<p><label>Text<br><textarea name='text' id='text' rows='16'>"
    out += f"{escape(cmd.text)}</textarea></label></p><p><label>Your name <input name='approver' id='approver'></label>"
    out += " <input name='reason' placeholder='reason (if rejecting)'></p>"
    out += "<button name='action' value='approve' id='approve'>Approve and send</button> "
    out += "<button name='action' value='reject' id='reject'>Reject</button></form>"
    return out


async def console_detail(request: web.Request) -> web.Response:
    console_guard(request)
    ctx = request.app[CONTEXT]
    approval_id = request.match_info["approval_id"]
    found = (await approvals(ctx)).get(approval_id)
    if found is None:
        return page("Not found", f"<p>No approval {escape(approval_id)}.</p>", 404)
    if request.method == "GET":
        known = "".join(_summary_block(room) for room in running_summaries(ctx, found.incident_id))
        return page(f"Draft {approval_id}", _detail(found) + known)
    form = dict(await request.post())
    try:
        record = await decide(ctx, approval_id, str(form.get("action", "")), form)
    except DecisionError as exc:
        return page(f"Draft {approval_id}", _detail(found, str(exc), exc.verdicts), exc.status)
    raise web.HTTPSeeOther("/console/approvals?note=" + quote_plus(f"{record.approval_id} {record.status.value}"))


def feature(app: web.Application, ctx: WebContext) -> None:
    app.router.add_get("/api/approvals", api_list)
    app.router.add_get("/api/approvals/{approval_id}", api_show)
    app.router.add_post("/api/approvals/{approval_id}/{action}", api_decide)
    app.router.add_route("*", "/console/login", console_login)
    app.router.add_get("/console", console_list)
    app.router.add_get("/console/approvals", console_list)
    app.router.add_route("*", "/console/approvals/{approval_id}", console_detail)

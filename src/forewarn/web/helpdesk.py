"""The helpdesk's webhook: a ticket opened by a customer affected by an open incident is tagged
as a known issue, answered with the canned response and linked to the incident's problem ticket.

The canned response is drafted, not written here: the customer's own email draft of the latest
version their account heard of (``processors/internal.py`` ``canned_response``, the support pack's
definition), kept by the sink. One that failed its checks was withheld: the ticket then gets an
internal note pointing the agent at the status page instead of a public answer.

Configure a Zendesk trigger ("ticket is created") with a webhook to ``POST /api/helpdesk/webhook``,
bearer token ``FOREWARN_PROVIDER_HELPDESK_WEBHOOK_TOKEN`` and the JSON body
``{"ticket_id": "{{ticket.id}}", "customer_id": "{{ticket.organization.external_id}}"}``.
Each flagged ticket is recorded (audit stage ``helpdesk``, action ``known_issue``) and solved with
the incident's other tickets on resolution. A repeated webhook changes nothing.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from forewarn.processors.ids import pseudonymise, stable_id
from forewarn.schemas.models import AuditRecord
from forewarn.sinks.base import SendError
from forewarn.sinks.channels import helpdesk_sink
from forewarn.sinks.helpdesk import KNOWN, HelpdeskSink, Ticket
from forewarn.web.server import CONTEXT, WebContext

SINK = web.AppKey("helpdesk_sink", HelpdeskSink)

#: The agent's note when no canned reply passed its checks (internal: customers never see it).
NO_REPLY = (
    "forewarn: known issue {incident_id} ({title}). No canned reply passed its checks for this customer;"
    " answer by hand and link the status page: {status_url}"
)


def _authorised(request: web.Request, token: str | None) -> bool:
    if not token:
        return True
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given, token)


async def _payload(request: web.Request) -> tuple[int, str]:
    try:
        body: Any = await request.json()
        ticket_id, customer_id = int(body["ticket_id"]), str(body["customer_id"]).strip()
    except (ValueError, KeyError, TypeError) as exc:
        raise web.HTTPUnprocessableEntity(
            text=f"expected JSON {{'ticket_id': int, 'customer_id': str}}: {type(exc).__name__}: {exc}"
        ) from exc
    if not customer_id:
        raise web.HTTPUnprocessableEntity(text="customer_id is empty (is the organisation's external_id set?)")
    return ticket_id, customer_id


async def incoming_ticket(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CONTEXT]
    settings = ctx.settings
    if not _authorised(request, settings.providers.helpdesk_webhook_token):
        return web.json_response({"error": "bad or missing bearer token"}, status=401)
    ticket_id, customer_id = await _payload(request)
    sink = request.app[SINK]
    active = sink.ledger.active_for(customer_id)
    if not active:
        return web.json_response({"ticket_id": ticket_id, "known_issue": False})
    incident_id, title, problem = active[0]
    if sink.ledger.find(KNOWN, incident_id, customer_id) == ticket_id or ticket_id in sink.ledger.tickets_of(
        incident_id
    ):
        return web.json_response({"ticket_id": ticket_id, "known_issue": True, "incident_id": incident_id})
    reply = sink.ledger.reply_for(incident_id, customer_id)
    comment = (
        {"body": reply, "public": True}
        if reply is not None
        else {
            "body": NO_REPLY.format(incident_id=incident_id, title=title, status_url=settings.status_page_url),
            "public": False,
        }
    )
    changes = {
        "additional_tags": [settings.providers.helpdesk_known_issue_tag, incident_id],
        "comment": comment,
        "type": "incident",
        "problem_id": problem,
    }
    try:
        await sink.update_ticket(ticket_id, changes)
    except SendError as exc:  # the helpdesk retries its webhook on a 5xx
        return web.json_response({"error": str(exc)}, status=502)
    sink.ledger.add(Ticket(KNOWN, incident_id, customer_id, ticket_id))
    await _record(ctx, ticket_id, incident_id, customer_id)
    return web.json_response({"ticket_id": ticket_id, "known_issue": True, "incident_id": incident_id})


async def _record(ctx: WebContext, ticket_id: int, incident_id: str, customer_id: str) -> None:
    stream = getattr(ctx.stages, "ctx", None)
    if stream is None:
        return
    await stream.audit(
        AuditRecord(
            audit_id=stable_id("helpdesk", "known_issue", ticket_id, incident_id),
            recorded_at=stream.clock.now(),
            stage="helpdesk",
            action="known_issue",
            incident_id=incident_id,
            customer_ref=pseudonymise(customer_id, ctx.settings.pseudonym_key),
            channel="helpdesk",
            detail={"ticket_id": str(ticket_id)},
        )
    )


def helpdesk_webhook(app: web.Application, ctx: WebContext) -> None:
    app[SINK] = helpdesk_sink(ctx.settings)
    app.router.add_post("/api/helpdesk/webhook", incoming_ticket)

"""``/api/incidents`` and ``/api/maintenance``: the operator commands of the CLI, over HTTP.

Same token as the console (``Authorization: Bearer <FOREWARN_CONSOLE_TOKEN>``). Updates are
published to the operator topic like the CLI's; detection applies them, so the answer is 202
with the command id, and the new version appears on the incidents topic moments later.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime
from typing import Any

from aiohttp import web

from forewarn.operator import (
    CommandError,
    incident_update,
    maintenance_action,
    maintenance_schedule,
    parse_when,
    read_incidents,
)
from forewarn.schemas.models import Incident, OperatorCommand, Phase
from forewarn.web.server import CONTEXT, WebContext


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _refused(request: web.Request) -> web.Response | None:
    token = request.app[CONTEXT].settings.console_token
    if not token:
        return _error(503, "set FOREWARN_CONSOLE_TOKEN to accept operator commands")
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].strip(), token):
        return None
    return _error(401, "bad or missing token")


async def _incidents(request: web.Request) -> dict[str, Incident]:
    return await asyncio.to_thread(read_incidents, request.app[CONTEXT].settings)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise CommandError(f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise CommandError("body must be a JSON object")
    return body


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise CommandError(f"{key} must be a string")
    return value or None


def _when(body: dict[str, Any], key: str, now: datetime) -> datetime | None:
    text = _text(body, key)
    return None if text is None else parse_when(text, now, what=key)


async def _publish(request: web.Request, key: str, command: OperatorCommand) -> web.Response:
    await request.app[CONTEXT].stages.ctx.send("operator", key.encode(), command)
    return web.json_response({"command_id": command.command_id, "action": command.action, "key": key}, status=202)


async def list_incidents(request: web.Request) -> web.Response:
    if (refused := _refused(request)) is not None:
        return refused
    everything = request.query.get("all") in ("1", "true")
    found = sorted((await _incidents(request)).values(), key=lambda i: i.opened_at)
    rows = [i.model_dump(mode="json") for i in found if everything or i.phase is not Phase.resolved]
    return web.json_response({"incidents": rows})


async def show_incident(request: web.Request) -> web.Response:
    if (refused := _refused(request)) is not None:
        return refused
    found = (await _incidents(request)).get(request.match_info["incident_id"])
    if found is None:
        return _error(404, f"no incident {request.match_info['incident_id']}")
    return web.json_response(found.model_dump(mode="json"))


async def update_incident(request: web.Request) -> web.Response:
    """JSON: any of ``phase``, ``cause``, ``eta`` (HH:MM, +2h, RFC 3339), ``summary``, ``false_alarm``, ``by``."""
    if (refused := _refused(request)) is not None:
        return refused
    incident_id = request.match_info["incident_id"]
    stream = request.app[CONTEXT].stages.ctx
    try:
        body = await _json(request)
        now = stream.clock.now()
        phase = _text(body, "phase")
        if phase is not None and phase not in Phase.__members__:
            raise CommandError(f"phase {phase!r} is not one of {', '.join(Phase.__members__)}")
        command = incident_update(
            incident_id,
            issued_at=now,
            issued_by=_text(body, "by") or "operator",
            phase=Phase(phase) if phase else None,
            cause=_text(body, "cause"),
            eta=_when(body, "eta", now),
            summary=_text(body, "summary"),
            false_alarm=body.get("false_alarm") is True,
        )
    except CommandError as exc:
        return _error(422, str(exc))
    current = (await _incidents(request)).get(incident_id)
    if current is None:
        return _error(404, f"no incident {incident_id}")
    if current.phase is Phase.resolved and command.action != "false_alarm":
        return _error(409, f"{incident_id} is already resolved (v{current.version})")
    return await _publish(request, incident_id, command)


async def schedule_maintenance(request: web.Request) -> web.Response:
    """JSON: ``service``, ``start``, ``end``, optional ``impact``, ``region``, ``summary``, ``by``."""
    if (refused := _refused(request)) is not None:
        return refused
    now = request.app[CONTEXT].stages.ctx.clock.now()
    try:
        body = await _json(request)
        service, start = _text(body, "service"), _when(body, "start", now)
        if service is None or start is None:
            raise CommandError("service and start are required")
        end = _when(body, "end", start)
        if end is None:
            raise CommandError("end is required")
        command = maintenance_schedule(
            service=service,
            starts_at=start,
            ends_at=end,
            impact=_text(body, "impact") or "degraded",
            issued_at=now,
            issued_by=_text(body, "by") or "operator",
            region=_text(body, "region"),
            summary=_text(body, "summary"),
        )
    except CommandError as exc:
        return _error(422, str(exc))
    assert command.maintenance_id is not None
    return await _publish(request, command.maintenance_id, command)


async def maintenance_change(request: web.Request) -> web.Response:
    """``complete`` | ``cancel`` | ``extend`` (JSON ``end``) for the window in the path."""
    if (refused := _refused(request)) is not None:
        return refused
    window_id, action = request.match_info["maintenance_id"], request.match_info["action"]
    if action not in ("complete", "cancel", "extend"):
        return _error(404, f"unknown maintenance action {action!r}")
    now = request.app[CONTEXT].stages.ctx.clock.now()
    try:
        body = await _json(request) if request.can_read_body else {}
        command = maintenance_action(
            action, window_id, issued_at=now, issued_by=_text(body, "by") or "operator", ends_at=_when(body, "end", now)
        )
    except CommandError as exc:
        return _error(422, str(exc))
    return await _publish(request, window_id, command)


async def detection_counts(request: web.Request) -> web.Response:
    """What detection ignored on purpose (late or invalid samples, duplicates, suppressed signals,
    acknowledges with no open incident), so a quiet incident can be told from a lost signal."""
    stages = request.app[CONTEXT].stages
    detect, ingest = getattr(stages, "detect", None), getattr(stages, "ingest", None)
    if detect is None:
        return _error(503, "this worker does not run the pipeline role")
    events = ingest.events_seen if ingest is not None else None
    return web.json_response({"ignored": dict(detect.ignored), "events_normalised": events})


def feature(app: web.Application, ctx: WebContext) -> None:
    app.router.add_get("/api/detection", detection_counts)
    app.router.add_get("/api/incidents", list_incidents)
    app.router.add_get("/api/incidents/{incident_id}", show_incident)
    app.router.add_post("/api/incidents/{incident_id}", update_incident)
    app.router.add_post("/api/maintenance", schedule_maintenance)
    app.router.add_post("/api/maintenance/{maintenance_id}/{action}", maintenance_change)

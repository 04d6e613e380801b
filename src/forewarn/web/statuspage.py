"""The public status page forewarn serves: HTML for people, Atom for feed readers, and the
Atlassian Statuspage v2 JSON API for widgets that already read a Statuspage.

Every request reads the incident versions of the last 90 days from the warehouse (the worker's
own embedded store in the audit role, or a ClickHouse server) and derives the page from them
(``processors/status.py``), so there is no second copy of the truth to drift.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

from aiohttp import web
from jinja2.sandbox import SandboxedEnvironment

from forewarn.clock import SystemClock
from forewarn.db.client import Warehouse, open_clickhouse, parse_dsn
from forewarn.db.errors import WarehouseError
from forewarn.policy import Policy
from forewarn.processors.status import (
    HISTORY_DAYS,
    StatusPage,
    build_page,
    incident_json,
    summary_json,
    update_body,
)
from forewarn.schemas.models import Incident
from forewarn.sinks.clickhouse import INCIDENT_COLUMNS
from forewarn.web.server import CONTEXT, WebContext

_VERSIONS_SQL = (
    f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM incidents FINAL "
    "WHERE first_signal_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC') ORDER BY incident_id, version"
)
_POSTMORTEMS_SQL = (
    "SELECT assumeNotNull(incident_id), argMax(detail['url'], recorded_at) FROM audit FINAL "
    "WHERE stage = 'postmortem' AND action = 'published' AND incident_id IS NOT NULL GROUP BY incident_id"
)


def _warehouse(ctx: WebContext) -> Warehouse | None:
    """The worker's store in the audit role; otherwise a read-only session on a server DSN."""
    if ctx.warehouse is not None:
        return ctx.warehouse  # type: ignore[no-any-return]
    if parse_dsn(ctx.settings.clickhouse_dsn).kind != "server":
        return None
    if "statuspage_warehouse" not in ctx.extras:
        ctx.extras["statuspage_warehouse"] = open_clickhouse(ctx.settings.clickhouse_dsn, read_only=True)
    return ctx.extras["statuspage_warehouse"]  # type: ignore[no-any-return]


def _now(ctx: WebContext) -> datetime:
    clock = getattr(getattr(ctx.stages, "ctx", None), "clock", None) or SystemClock()
    return clock.now()


def _policy(ctx: WebContext) -> Policy:
    return getattr(getattr(ctx.stages, "ctx", None), "policy", None) or Policy()


def read_page(ctx: WebContext, warehouse: Warehouse) -> StatusPage:
    now = _now(ctx)
    since = int((now - timedelta(days=HISTORY_DAYS)).timestamp() * 1000)
    rows = warehouse.query(_VERSIONS_SQL, {"since": since})
    versions = [Incident.model_validate(dict(zip(rows.columns, row, strict=True))) for row in rows]
    postmortems = {i: url for i, url in warehouse.query(_POSTMORTEMS_SQL) if url}
    host = ctx.settings.status_page_url
    return build_page(versions, _policy(ctx), name="Service status", url=host, now=now, postmortems=postmortems)


async def _page(request: web.Request) -> StatusPage:
    ctx: WebContext = request.app[CONTEXT]
    try:
        warehouse = _warehouse(ctx)
        if warehouse is None:
            raise web.HTTPServiceUnavailable(text="the status page needs the audit role or a ClickHouse server DSN")
        return await asyncio.to_thread(read_page, ctx, warehouse)
    except WarehouseError as exc:
        raise web.HTTPServiceUnavailable(text=f"status temporarily unavailable: {exc}") from exc


async def summary(request: web.Request) -> web.Response:
    return web.json_response(summary_json(await _page(request), _policy(request.app[CONTEXT])))


async def status(request: web.Request) -> web.Response:
    body = summary_json(await _page(request), _policy(request.app[CONTEXT]))
    return web.json_response({"page": body["page"], "status": body["status"]})


async def components(request: web.Request) -> web.Response:
    body = summary_json(await _page(request), _policy(request.app[CONTEXT]))
    return web.json_response({"page": body["page"], "components": body["components"]})


async def incidents(request: web.Request) -> web.Response:
    page = await _page(request)
    body = summary_json(page, _policy(request.app[CONTEXT]))
    which = request.match_info.get("which", "")
    stories = page.active() if which == "unresolved" else [s for s in page.stories if not s.is_maintenance]
    return web.json_response({"page": body["page"], "incidents": [incident_json(page, s) for s in stories]})


async def maintenances(request: web.Request) -> web.Response:
    page = await _page(request)
    body = summary_json(page, _policy(request.app[CONTEXT]))
    return web.json_response(
        {"page": body["page"], "scheduled_maintenances": [incident_json(page, s) for s in page.maintenance()]}
    )


def atom(page: StatusPage) -> bytes:
    """One entry per incident (newest first) with its update timeline, like Statuspage's history.atom."""
    ns = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", ns)
    feed = ET.Element(f"{{{ns}}}feed", {"xml:lang": "en-US"})
    ET.SubElement(feed, f"{{{ns}}}id").text = f"{page.url}/history"
    ET.SubElement(feed, f"{{{ns}}}title").text = f"{page.name} - Incident History"
    ET.SubElement(feed, f"{{{ns}}}link", {"rel": "alternate", "type": "text/html", "href": page.url})
    ET.SubElement(
        feed, f"{{{ns}}}link", {"rel": "self", "type": "application/atom+xml", "href": f"{page.url}/history.atom"}
    )
    updated = max((s.latest.updated_at for s in page.stories), default=page.now)
    ET.SubElement(feed, f"{{{ns}}}updated").text = updated.isoformat()
    for story in page.stories:
        entry = ET.SubElement(feed, f"{{{ns}}}entry")
        ET.SubElement(entry, f"{{{ns}}}id").text = f"{page.url}/incidents/{story.latest.incident_id}"
        ET.SubElement(entry, f"{{{ns}}}published").text = story.versions[0].opened_at.isoformat()
        ET.SubElement(entry, f"{{{ns}}}updated").text = story.latest.updated_at.isoformat()
        ET.SubElement(
            entry,
            f"{{{ns}}}link",
            {"rel": "alternate", "type": "text/html", "href": f"{page.url}/incidents/{story.latest.incident_id}"},
        )
        ET.SubElement(entry, f"{{{ns}}}title").text = story.latest.title
        lines = [
            f"<p><small>{v.updated_at:%b %d, %H:%M} UTC</small><br><strong>{v.phase.value.capitalize()}</strong>"
            f" - {_escape(update_body(v))}</p>"
            for v in reversed(story.versions)
        ]
        ET.SubElement(entry, f"{{{ns}}}content", {"type": "html"}).text = "".join(lines)
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def history_atom(request: web.Request) -> web.Response:
    return web.Response(body=atom(await _page(request)), content_type="application/atom+xml")


_HTML = SandboxedEnvironment(autoescape=True).from_string(
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ page.name }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="alternate" type="application/atom+xml" href="/history.atom" title="Incident history">
<style>
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
.banner{padding:1rem;border-radius:6px;color:#fff;font-weight:600}
.none{background:#2fcc66}.minor{background:#f1c40f}.major{background:#e67e22}.critical{background:#e74c3c}
.maintenance{background:#3498db}
.component{display:flex;justify-content:space-between;padding:.5rem 0;border-bottom:1px solid #eee}
.operational{color:#2fcc66}.degraded_performance{color:#c9a100}.partial_outage{color:#e67e22}
.major_outage{color:#e74c3c}.under_maintenance{color:#3498db}
.bars{display:flex;gap:1px;height:24px;margin:.25rem 0 .75rem}.bars span{flex:1;border-radius:1px}
.b-operational{background:#2fcc66}.b-degraded_performance{background:#f1c40f}.b-partial_outage{background:#e67e22}
.b-major_outage{background:#e74c3c}.b-under_maintenance{background:#3498db}
.update{margin:.25rem 0 .5rem 1rem}.muted{color:#777;font-size:.85em}
</style></head><body>
<h1>{{ page.name }}</h1>
<div class="banner {{ indicator }}" id="status-indicator" data-indicator="{{ indicator }}">{{ description }}</div>
{% for story in page.active() %}
<section class="incident" id="incident-{{ story.latest.incident_id }}" data-incident="{{ story.latest.incident_id }}">
<h2>{{ story.latest.title }}</h2>
{% for v in story.versions|reverse %}<div class="update"><strong>{{ v.phase.value|capitalize }}</strong> -
{{ body(v) }} <span class="muted">{{ v.updated_at.strftime("%b %d, %H:%M") }} UTC</span></div>{% endfor %}
</section>
{% endfor %}
{% set upcoming = page.maintenance() %}{% if upcoming %}<h2>Scheduled maintenance</h2>
{% for story in upcoming %}<section class="maintenance-item" data-status="{{ story.maintenance_status() }}">
<h3>{{ story.latest.title }}</h3><div class="muted">{{ story.maintenance_status()|replace("_", " ") }}
· from {{ story.window_starts().strftime("%b %d, %H:%M") }} UTC
{% if story.latest.eta %}· until {{ story.latest.eta.strftime("%b %d, %H:%M") }} UTC{% endif %}</div>
</section>{% endfor %}{% endif %}
<h2>Components</h2>
{% for name in page.components %}<div class="component" data-component="{{ name }}" data-status="{{ states[name] }}">
<span>{{ name|capitalize }}</span>
<span class="{{ states[name] }}">{{ states[name]|replace("_", " ")|capitalize }}</span></div>
<div class="bars" title="90 days">{% for day, state in history[name] %}<span class="b-{{ state }}"
 title="{{ day }}: {{ state|replace('_', ' ') }}"></span>{% endfor %}</div>{% endfor %}
<h2>Past incidents</h2>
{% for story in page.stories if story.resolved and not story.is_maintenance %}
<section class="past" data-incident="{{ story.latest.incident_id }}"><h3>{{ story.latest.title }}</h3>
{% for v in story.versions|reverse %}<div class="update"><strong>{{ v.phase.value|capitalize }}</strong> -
{{ body(v) }} <span class="muted">{{ v.updated_at.strftime("%b %d, %H:%M") }} UTC</span></div>{% endfor %}
{% if story.postmortem_url and story.latest.severity.value in ("P1", "P2") %}
<div class="postmortem"><a href="{{ story.postmortem_url }}">Post-mortem</a></div>{% endif %}
</section>{% else %}<p class="muted">No incidents in the last 90 days.</p>{% endfor %}
<p class="muted"><a href="/history.atom">Atom feed</a> · <a href="/api/v2/summary.json">API</a></p>
</body></html>"""
)


async def status_html(request: web.Request) -> web.Response:
    page = await _page(request)
    body = summary_json(page, _policy(request.app[CONTEXT]))
    html = _HTML.render(
        page=page,
        indicator=page.indicator(),
        description=body["status"]["description"],
        states=page.component_states(),
        history=page.history(),
        body=update_body,
    )
    return web.Response(text=html, content_type="text/html")


def status_page(app: web.Application, ctx: WebContext) -> None:
    app.router.add_get("/status", status_html)
    app.router.add_get("/history.atom", history_atom)
    app.router.add_get("/api/v2/summary.json", summary)
    app.router.add_get("/api/v2/status.json", status)
    app.router.add_get("/api/v2/components.json", components)
    app.router.add_get("/api/v2/incidents.json", incidents)
    app.router.add_get("/api/v2/incidents/{which:unresolved}.json", incidents)
    app.router.add_get("/api/v2/scheduled-maintenances.json", maintenances)

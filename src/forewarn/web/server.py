"""The worker's HTTP server: features (ingest, console, status page, query endpoint, ...)
each register their routes from their own module; this file only hosts them.

It runs inside the worker (Faust starts it after table recovery), so features can read the
worker's tables and, in the audit role, the embedded ClickHouse it owns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import mode
from aiohttp import web

from forewarn.config import Settings

log = logging.getLogger(__name__)


@dataclass
class WebContext:
    """What a feature may use. ``stages`` is the worker's Stages; ``warehouse`` is set in the audit role."""

    settings: Settings
    stages: Any
    warehouse: Any | None = None
    extras: dict[str, Any] = field(default_factory=dict)


Feature = Callable[[web.Application, WebContext], None]
CONTEXT = web.AppKey("forewarn_context", WebContext)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format: what ops scrape to see dead letters pile up, and that the dedup
    table stays bounded (the routes this worker holds, and how many it forgot)."""
    ctx = request.app[CONTEXT]
    lines = [
        "# HELP forewarn_dead_letters_total Records sent to the dead-letter topic, by stage and reason.",
        "# TYPE forewarn_dead_letters_total counter",
    ]
    for (stage, error_type), n in sorted(ctx.stages.ctx.dead_letters.items()):
        lines.append(f'forewarn_dead_letters_total{{stage="{stage}",error_type="{error_type}"}} {n}')
    dedup = getattr(ctx.stages, "dedup", None)
    if dedup is not None:
        lines += [
            "# HELP forewarn_dedup_routes PagerDuty dedup routes in this worker's partitions at the last sweep.",
            "# TYPE forewarn_dedup_routes gauge",
            f"forewarn_dedup_routes {dedup.held}",
            "# HELP forewarn_dedup_sweeps_total Sweeps of the dedup-routes table run by this worker.",
            "# TYPE forewarn_dedup_sweeps_total counter",
            f"forewarn_dedup_sweeps_total {dedup.sweeps}",
            "# HELP forewarn_dedup_routes_pruned_total Stale dedup routes forgotten, by rule (resolved, idle).",
            "# TYPE forewarn_dedup_routes_pruned_total counter",
        ]
        for reason, n in sorted(dedup.pruned.items()):
            lines.append(f'forewarn_dedup_routes_pruned_total{{reason="{reason}"}} {n}')
    freshness = getattr(getattr(ctx.stages, "targeting", None), "freshness", None)
    if freshness is not None:
        lines += [
            "# HELP forewarn_targeting_table_waits_total Targeting requests that waited for the customer table.",
            "# TYPE forewarn_targeting_table_waits_total counter",
            f"forewarn_targeting_table_waits_total {freshness.waited}",
            "# HELP forewarn_targeting_table_stale_total Targeting requests that went on with the table still behind.",
            "# TYPE forewarn_targeting_table_stale_total counter",
            f"forewarn_targeting_table_stale_total {freshness.stale}",
        ]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def build_web_app(ctx: WebContext, features: Sequence[Feature]) -> web.Application:
    app = web.Application(client_max_size=ctx.settings.max_payload_bytes + 64 * 1024)
    app[CONTEXT] = ctx
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    for feature in features:
        feature(app, ctx)
    return app


class WebServer(mode.Service):
    """Runs the aiohttp app on settings.web_host:web_port for the worker's lifetime."""

    def __init__(self, ctx: WebContext, features: Sequence[Feature], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.features = features
        self._runner: web.AppRunner | None = None

    @property
    def web_url(self) -> str:
        return f"http://{self.ctx.settings.web_host}:{self.ctx.settings.web_port}/"

    async def on_start(self) -> None:
        self._runner = web.AppRunner(build_web_app(self.ctx, self.features), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.ctx.settings.web_host, self.ctx.settings.web_port)
        await site.start()
        log.info("web server listening on %s", self.web_url)

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

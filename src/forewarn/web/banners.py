"""``GET /api/banners?customer=ID``: the in-app banners a product shows its signed-in customer.

The in-app sink writes them (``sinks/inapp.py``, which also pushes each banner to a configured
endpoint such as Intercom); this route only reads the board, so a page load never waits on Kafka.
"""

from __future__ import annotations

from aiohttp import web

from forewarn.clock import SystemClock
from forewarn.sinks.channels import banner_board
from forewarn.sinks.inapp import BannerBoard
from forewarn.web.server import CONTEXT, WebContext

BOARD = web.AppKey("banner_board", BannerBoard)


async def banners(request: web.Request) -> web.Response:
    customer = request.query.get("customer", "").strip()
    if not customer:
        return web.json_response({"error": "query parameter 'customer' is required"}, status=400)
    ctx: WebContext = request.app[CONTEXT]
    clock = getattr(getattr(ctx.stages, "ctx", None), "clock", None) or SystemClock()
    shown = request.app[BOARD].for_customer(customer, clock.now())
    return web.json_response(
        {"customer": customer, "banners": [b.as_json() for b in shown]},
        headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"},
    )


def banner_feed(app: web.Application, ctx: WebContext) -> None:
    app[BOARD] = banner_board(ctx.settings)
    app.router.add_get("/api/banners", banners)

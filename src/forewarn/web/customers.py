"""`/customers` routes: the live customer table of this worker, for `forewarn customers show`.

Answers from the worker's own table and index (not the topic), so what it shows is exactly
what targeting uses — including whether a row was rejected (then it is simply absent) and
which region and feature keys the index files the customer under.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from forewarn.schemas.codec import decode
from forewarn.schemas.models import CustomerSegment
from forewarn.web.server import CONTEXT, WebContext


def _targeting(request: web.Request) -> Any:
    targeting = request.app[CONTEXT].stages.targeting
    if targeting is None:
        raise web.HTTPServiceUnavailable(
            text='{"error": "this worker does not run the pipeline role"}', content_type="application/json"
        )
    return targeting


async def summary(request: web.Request) -> web.Response:
    """How many customers each partition held here has, and whether the index is rebuilt."""
    targeting = _targeting(request)
    index = targeting.index
    return web.json_response(
        {
            "ready": targeting.ready,
            "customers": len(index),
            "partitions": {str(p): index.size(p) for p in index.partitions()},
        }
    )


async def show(request: web.Request) -> web.Response:
    targeting = _targeting(request)
    customer_id = request.match_info["customer_id"]
    index = targeting.index
    partition = next((p for p in index.partitions() if index.row(p, customer_id) is not None), None)
    stored = targeting.customers.get(customer_id.encode())
    if stored is None:
        where = ", ".join(str(p) for p in index.partitions()) or "none"
        return web.json_response(
            {"error": f"customer {customer_id!r} is not in the table partitions this worker holds ({where})"},
            status=404,
        )
    segment = decode(stored, CustomerSegment)
    indexed = None
    if partition is not None:
        indexed = {
            "partition": partition,
            "regions": index.regions_of(partition, customer_id),
            "features": index.features_of(partition, customer_id),
        }
    return web.json_response({"customer": segment.model_dump(mode="json"), "index": indexed})


def feature(app: web.Application, ctx: WebContext) -> None:
    app.router.add_get("/customers", summary)
    app.router.add_get("/customers/{customer_id}", show)

"""`/customers` routes: the live customer table, for `forewarn customers show`.

Answers from the workers' own tables and indexes (not the topic), so what it shows is exactly
what targeting uses — including whether a row was rejected (then it is simply absent) and
which region and feature keys the index files the customer under. With several workers each
holds some partitions; a worker asked for a customer another one holds forwards the request to
that worker (Faust's assignor knows which worker's web address owns each table partition), so
a person can ask any worker.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from forewarn.schemas.codec import decode
from forewarn.schemas.models import CustomerSegment
from forewarn.web.server import CONTEXT, WebContext

#: Set on a forwarded request, so a worker whose view of the assignment is stale cannot bounce a
#: request back and forth: the worker it reaches answers from its own table either way.
FORWARDED = "X-Forewarn-Forwarded"


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
            "workers": _workers(targeting.customers),
        }
    )


def _workers(table: Any) -> dict[str, list[int]]:
    """Which worker's web address holds which partitions of the table (empty before assignment)."""
    topic = table.changelog_topic.get_topic_name()
    out: dict[str, list[int]] = {}
    for url, topics in table.app.router.tables_metadata().items():
        if topics.get(topic):
            out[str(url)] = sorted(topics[topic])
    return out


def _owner(table: Any, customer_id: str) -> URL | None:
    """The web address of the worker holding ``customer_id``'s partition; None while unassigned."""
    try:
        return URL(str(table.app.router.key_store(table.name, customer_id.encode())))
    except (KeyError, TypeError):  # no assignment yet, or the partition's owner is not known
        return None


def _same_worker(a: URL, b: URL) -> bool:
    return (a.host, a.port) == (b.host, b.port)


async def _forward(owner: URL, customer_id: str) -> web.Response:
    address = owner.with_path(f"/customers/{customer_id}")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(address, headers={FORWARDED: "1"}) as response,
        ):
            body = await response.read()
            return web.Response(body=body, status=response.status, content_type="application/json")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return web.json_response(
            {"error": f"customer {customer_id!r} is held by the worker at {owner}, which does not answer ({exc})"},
            status=502,
        )


async def show(request: web.Request) -> web.Response:
    targeting = _targeting(request)
    customer_id = request.match_info["customer_id"]
    index = targeting.index
    partition = next((p for p in index.partitions() if index.row(p, customer_id) is not None), None)
    if FORWARDED not in request.headers:
        # Ask the owner even if this worker's store has the key: a store keeps the rows of a
        # partition that was handed to another worker, and those go stale there.
        owner = _owner(targeting.customers, customer_id)
        if owner is not None and not _same_worker(owner, URL(str(targeting.customers.app.conf.canonical_url))):
            return await _forward(owner, customer_id)
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

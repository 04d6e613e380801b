"""A read-only query endpoint that speaks ClickHouse's HTTP interface.

chdb lets one process open the embedded store, and while a worker runs the audit role that
process is the worker. Analysts' tools already speak ClickHouse over HTTP, so the worker
answers the same protocol on its web port: the query in the URL (``?query=``) and/or the
POST body (joined by a newline, as ClickHouse does) or a form body's fields, ``FORMAT`` or
``default_format``, and ``param_<name>`` for ``{name:Type}`` placeholders.
``clickhouse_connect.get_client(host=…, port=<web port>)`` and ``curl`` work unchanged;
anything but a read is refused with ClickHouse's own READONLY error code.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from forewarn.db.client import Warehouse, WireValue
from forewarn.db.errors import WarehouseError, WarehouseQueryError, WarehouseUnavailable
from forewarn.db.sql import code_only, ensure_read_only
from forewarn.web.server import CONTEXT, WebContext

_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
#: Table functions that read or reach outside the warehouse (files, URLs, other servers).
_OUTSIDE = re.compile(
    r"\b(file|url|urlCluster|s3|s3Cluster|gcs|azureBlobStorage|hdfs|remote|remoteSecure|cluster|mysql|postgresql"
    r"|mongodb|odbc|jdbc|sqlite|executable|input|deltaLake|iceberg|hudi)\s*\(",
    re.IGNORECASE,
)
READONLY_CODE = 164  # ClickHouse's READONLY
SYNTAX_CODE = 62
UNAVAILABLE_CODE = 210  # NETWORK_ERROR
VERSION = "25.8.1.1"  # what clients see as the server version; chdb's engine line


def _error(code: int, message: str, status: int) -> web.Response:
    """ClickHouse's error shape: ``Code: N. DB::Exception: …`` and the exception-code header."""
    return web.Response(
        text=f"Code: {code}. DB::Exception: {message}. (forewarn read-only endpoint)\n",
        status=status,
        headers={"X-ClickHouse-Exception-Code": str(code)},
        content_type="text/plain",
    )


async def read_query(request: web.Request) -> tuple[str, dict[str, WireValue]]:
    """The statement and its ``param_*`` values, wherever the client put them.

    Usually the query is in the URL and/or the body and the parameters in the URL; but when
    parameters outgrow a URL, clickhouse-connect sends the query and every parameter as the
    fields of a multipart form body instead (a few hundred ids in an ``IN`` list are enough),
    which ClickHouse reads the same way.
    """
    fields: dict[str, str] = dict(request.query)
    body = ""
    if request.method == "POST":
        if request.content_type == "multipart/form-data":  # curl's urlencoded default is a plain body
            form = await request.post()
            fields.update({name: value for name, value in form.items() if isinstance(value, str)})
        else:
            body = await request.text()
    statement = "\n".join(part for part in (fields.get("query", ""), body) if part.strip())
    params = {name[len("param_") :]: WireValue(value) for name, value in fields.items() if name.startswith("param_")}
    return statement, params


def split_format(sql: str, default: str) -> tuple[str, str]:
    """The statement without its trailing ``FORMAT x`` clause, and the format to answer in."""
    code = code_only(sql)
    match = _FORMAT.search(code)
    if match is None:
        return sql.strip().rstrip(";"), default
    return sql[: match.start()].strip(), match.group(1)


async def query(request: web.Request) -> web.Response:
    ctx: WebContext = request.app[CONTEXT]
    warehouse: Warehouse | None = ctx.warehouse
    if warehouse is None:
        return _error(UNAVAILABLE_CODE, "this worker does not run the audit role, so it holds no store", 503)
    statement, params = await read_query(request)
    if not statement:
        return _error(SYNTAX_CODE, "Empty query", 400)
    sql, fmt = split_format(statement, request.query.get("default_format", "TabSeparated"))
    try:
        sql = ensure_read_only(sql)
    except WarehouseError as exc:
        return _error(READONLY_CODE, f"{exc}", 403)
    if _OUTSIDE.search(code_only(sql)):
        return _error(READONLY_CODE, "table functions that read outside the warehouse are not allowed", 403)
    try:
        body = await asyncio.to_thread(warehouse.raw, sql, params or None, fmt)
    except WarehouseUnavailable as exc:
        return _error(UNAVAILABLE_CODE, str(exc), 503)
    except WarehouseQueryError as exc:
        code = re.search(r"Code: (\d+)", str(exc))
        return _error(int(code.group(1)) if code else SYNTAX_CODE, str(exc), 400)
    return web.Response(
        body=body,
        headers={
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Server-Display-Name": "forewarn",
            "X-ClickHouse-Timezone": "UTC",
        },
        content_type="application/octet-stream" if fmt in ("Native", "RowBinary", "Parquet", "Arrow") else "text/plain",
    )


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="Ok.\n")


def query_endpoint(app: web.Application, ctx: WebContext) -> None:
    """``/`` and ``/query`` answer queries; ``/ping`` and ``/replicas_status`` answer health checks."""
    for path in ("/", "/query"):
        app.router.add_route("GET", path, query)
        app.router.add_route("POST", path, query)
    app.router.add_get("/ping", ping)
    app.router.add_get("/replicas_status", ping)

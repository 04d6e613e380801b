"""A stand-in ClickHouse server for outage tests: ClickHouse's HTTP interface over an embedded store.

No ClickHouse server package is available here, so this process opens a chdb data dir and
answers the HTTP protocol clickhouse-connect speaks (queries with ``param_*``, in the URL or as
a form body when the parameters outgrow a URL, DDL, INSERTs
whose first body line is the statement followed by Native data, and ``INSERT … SELECT … FROM
input(…) FORMAT …`` with the data as the body). A test points a worker's
``FOREWARN_CLICKHOUSE`` at it, SIGKILLs it to take "ClickHouse" down, and starts it again on
the same port and data dir to bring it back.

    python tests/clickhouse_standin.py PORT DATA_DIR
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiohttp import web

from forewarn.db.client import Warehouse, WireValue, open_clickhouse
from forewarn.db.errors import WarehouseError
from forewarn.web.query import read_query, split_format

WAREHOUSE = web.AppKey("warehouse", Warehouse)
_INPUT = re.compile(r"\binput\(('(?:[^'\\]|\\.)*')\)")
_INSERT = re.compile(rb"^\s*INSERT\s+INTO\s+(.+?)\s+FORMAT\s+(\w+)\s*$", re.IGNORECASE | re.DOTALL)


def _insert(warehouse: Warehouse, statement: bytes, data: bytes) -> None:
    match = _INSERT.match(statement)
    if match is None:
        raise WarehouseError(f"unsupported insert {statement[:80]!r}")
    with tempfile.NamedTemporaryFile(suffix=".native", delete=False) as f:
        f.write(data)
    try:
        target, fmt = match.group(1).decode(), match.group(2).decode()
        if _INPUT.search(target):  # INSERT … SELECT … FROM input('structure'): the body is input()'s
            source = _INPUT.sub(lambda m: f"file('{f.name}', '{fmt}', {m.group(1)})", target, count=1)
            warehouse.command(f"INSERT INTO {source}")
            return
        warehouse.command(f"INSERT INTO {target} FROM INFILE '{f.name}' FORMAT {fmt}")
    finally:
        os.unlink(f.name)


async def handle(request: web.Request) -> web.Response:
    warehouse = request.app[WAREHOUSE]
    if request.content_type != "multipart/form-data":  # a form body is a query with its parameters
        query = request.query.get("query", "").encode()
        body = await request.read()
        try:
            if not query and body.lstrip()[:6].upper() == b"INSERT":
                statement, _, data = body.partition(b"\n")
                await asyncio.to_thread(_insert, warehouse, statement, data)
                return web.Response(text="")
            if query.lstrip()[:6].upper() == b"INSERT" and body:
                await asyncio.to_thread(_insert, warehouse, query, body)
                return web.Response(text="")
        except WarehouseError as exc:
            return failed(exc)
    return await answer(warehouse, request, *await read_query(request))


async def answer(warehouse: Warehouse, request: web.Request, sql: str, params: dict[str, WireValue]) -> web.Response:
    sql, fmt = split_format(sql, request.query.get("default_format", "TabSeparated"))
    try:
        out = await asyncio.to_thread(warehouse.raw, sql, params or None, fmt)
    except WarehouseError as exc:
        return failed(exc)
    return web.Response(body=out, headers={"X-ClickHouse-Format": fmt, "X-ClickHouse-Timezone": "UTC"})


def failed(exc: WarehouseError) -> web.Response:
    code = re.search(r"Code: (\d+)", str(exc))
    return web.Response(
        text=f"Code: {code.group(1) if code else 1}. DB::Exception: {exc}\n",
        status=500,
        headers={"X-ClickHouse-Exception-Code": code.group(1) if code else "1"},
    )


async def ping(request: web.Request) -> web.Response:
    return web.Response(text="Ok.\n")


def serve(port: int, data_dir: str) -> None:
    warehouse = open_clickhouse(f"chdb://{data_dir}")
    app = web.Application(client_max_size=1024**3)
    app[WAREHOUSE] = warehouse
    app.router.add_get("/ping", ping)
    app.router.add_route("*", "/", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class StandIn:
    """The stand-in as a child process the test can kill and restart."""

    def __init__(self, port: int, data_dir: Path, log: Path) -> None:
        self.port, self.data_dir, self.log = port, data_dir, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"http://127.0.0.1:{self.port}/?compress=false"

    def start(self) -> StandIn:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, __file__, str(self.port), str(self.data_dir)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/ping", timeout=2).text == "Ok.\n":
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ClickHouse stand-in did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])

"""A local HTTP server that records every request and answers like the providers forewarn uses.

It runs an aiohttp app on a free loopback port in its own thread, so both async unit tests
and end-to-end tests with worker processes can point sinks at it. Tests script failures
(``fail(path, 429, retry_after=…)``, ``fail(path, 503)``, ``stall(path, seconds)``, ``recover(path)``) and read
back what arrived. Like Zendesk and payment-style APIs, a repeated ``Idempotency-Key`` gets
the first answer again and is recorded as a replay, not as a new request. Atlassian Statuspage
incidents are kept (``page_incidents``): created by POST, changed by PATCH (each one an incident
update), listed and read back by GET, ``q`` matching the name, as the real API does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from forewarn.demo.mailbox import free_port


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int = 200
    replay: bool = False  # a repeated Idempotency-Key, answered from the first request

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.body.decode()))


@dataclass
class Fault:
    status: int = 503
    retry_after: str | None = None
    stall_s: float = 0.0
    times: int = 1


@dataclass
class HttpRecorder:
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    #: Seconds every answer waits; slows delivery down so a test can crash a worker mid-way.
    latency_s: float = 0.0
    organisations: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}
        self._answers: dict[str, tuple[int, bytes]] = {}
        self._ids = itertools.count(1001)
        #: Statuspage incidents by id, as the page holds them.
        self.page_incidents: dict[str, dict[str, Any]] = {}
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- scripting -------------------------------------------------------------------------

    def fail(self, path: str, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` get ``status`` (and Retry-After if given)."""
        with self.lock:
            self._faults.setdefault(path, []).append(Fault(status, retry_after, 0.0, times))

    def stall(self, path: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` hang ``seconds`` before answering (client timeouts)."""
        with self.lock:
            self._faults.setdefault(path, []).append(Fault(200, None, seconds, times))

    def recover(self, path: str) -> None:
        """``path`` answers normally again (the provider's outage is over): its scripted faults go."""
        with self.lock:
            self._faults.pop(path, None)

    # -- reading -------------------------------------------------------------------------

    def received(self, path: str | None = None, *, method: str | None = None) -> list[Recorded]:
        """Requests the 'provider' accepted and acted on: 2xx, not replays; optionally one path's."""
        return [r for r in self.all_requests(path, method=method) if not r.replay and 200 <= r.status < 300]

    def all_requests(self, path: str | None = None, *, method: str | None = None) -> list[Recorded]:
        """Everything that arrived, failures and replays included."""
        with self.lock:
            got = list(self.requests)
        return [r for r in got if (path is None or r.path == path) and (method is None or r.method == method)]

    def wait_for(
        self, count: int, timeout_s: float, path: str | None = None, alive: Callable[[], None] | None = None
    ) -> list[Recorded]:
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.received(path)
            if len(got) >= count:
                return got
            if alive is not None:
                alive()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"expected {count} requests to {path or 'any path'} in {timeout_s:.0f}s, got {len(got)}"
                )
            time.sleep(0.1)

    # -- serving -------------------------------------------------------------------------

    def _next_fault(self, path: str) -> Fault | None:
        with self.lock:
            queue = self._faults.get(path) or []
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        key = request.headers.get("Idempotency-Key")
        record = Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        fault = self._next_fault(request.path)
        if fault is not None and fault.stall_s:
            await asyncio.sleep(fault.stall_s)
        elif fault is not None:
            with self.lock:
                self.requests.append(Recorded(**{**vars(record), "status": fault.status}))
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return web.json_response({"error": f"scripted {fault.status}"}, status=fault.status, headers=headers)
        with self.lock:
            if key is not None and key in self._answers:
                self.requests.append(Recorded(**{**vars(record), "replay": True}))
                status, answer = self._answers[key]
                return web.Response(body=answer, status=status, content_type="application/json")
            status, payload = self._answer(request, body)
            answer = json.dumps(payload).encode()
            if key is not None:
                self._answers[key] = (status, answer)
            self.requests.append(Recorded(**{**vars(record), "status": status}))
        return web.Response(body=answer, status=status, content_type="application/json")

    def _answer(self, request: web.Request, body: bytes) -> tuple[int, Any]:
        """Just enough of each provider's answer for the sinks to read what they need."""
        path = request.path
        if "/pages/" in path and "/incidents" in path:
            return self._statuspage(request, body)
        if path.endswith("/Messages.json"):
            return 201, {"sid": f"SM{next(self._ids)}", "status": "queued"}
        if path == "/api/v2/organizations/search.json":
            found = self.organisations.get(request.query.get("external_id", ""))
            return 200, {"organizations": [{"id": found}] if found else []}
        if path == "/api/v2/tickets.json" and request.method == "POST":
            return 201, {"ticket": {"id": next(self._ids)}}
        return 200, {"ok": True}

    def _statuspage(self, request: web.Request, body: bytes) -> tuple[int, Any]:
        """Atlassian Statuspage's incidents: create, update (an incident update each), list, read."""
        tail = request.path.split("/incidents", 1)[1].strip("/")
        if not tail and request.method == "POST":
            sent = json.loads(body)["incident"]
            incident = {**sent, "id": f"sp{next(self._ids)}", "incident_updates": [_update(sent)]}
            self.page_incidents[incident["id"]] = incident
            return 201, incident
        if not tail and request.method == "GET":
            q = request.query.get("q", "").lower()
            listed = [i for i in self.page_incidents.values() if q in str(i.get("name", "")).lower()]
            return 200, listed[::-1][: int(request.query.get("limit", 100))]
        incident = self.page_incidents.get(tail)
        if incident is None:
            return 404, {"error": "not found"}
        if request.method == "PATCH":
            sent = json.loads(body)["incident"]
            incident.update({k: v for k, v in sent.items() if k != "body"})
            incident["incident_updates"].insert(0, _update(sent))
        return 200, incident

    def start(self) -> HttpRecorder:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._thread.start()

        async def serve() -> None:
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.host, self.port).start()

        asyncio.run_coroutine_threadsafe(serve(), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> HttpRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _update(sent: dict[str, Any]) -> dict[str, Any]:
    return {"status": sent.get("status"), "body": sent.get("body")}


@contextmanager
def serving(app: web.Application) -> Iterator[str]:
    """Serve an aiohttp app on a free loopback port from a thread, for sync clients (curl, drivers)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port = free_port()
    runner = web.AppRunner(app, access_log=None)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

"""/api/incidents and /api/maintenance in-process: authentication, validation, what is published.
(The same routes against a real worker: tests/streams/test_detection_operator.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from factories import T0
from forewarn.config import Settings
from forewarn.schemas.models import OperatorCommand
from forewarn.web import incidents
from forewarn.web.server import WebContext, build_web_app

from .test_ingest import FakeStream

TOKEN = "op-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], FakeStream]]:
    stream = FakeStream()
    app = build_web_app(
        WebContext(Settings(data_dir=tmp_path, console_token=TOKEN), SimpleNamespace(ctx=stream)), [incidents.feature]
    )
    async with TestClient(TestServer(app)) as http:
        yield http, stream


async def test_schedule_maintenance_publishes_the_command(client: tuple[TestClient[Any, Any], FakeStream]) -> None:
    http, stream = client
    body = {"service": "reports", "start": "+2h", "end": "+3h", "impact": "outage", "by": "ana"}
    response = await http.post("/api/maintenance", json=body, headers=AUTH)
    assert response.status == 202
    answer = await response.json()
    ((topic, key, command),) = stream.sent
    assert isinstance(command, OperatorCommand) and topic == "operator"
    assert key == answer["key"].encode() == (command.maintenance_id or "").encode()
    assert (command.action, command.service, command.impact, command.issued_by) == (
        "maintenance_schedule",
        "reports",
        "outage",
        "ana",
    )
    assert command.starts_at is not None and command.starts_at.hour == T0.hour + 2


async def test_complete_and_extend(client: tuple[TestClient[Any, Any], FakeStream]) -> None:
    http, stream = client
    assert (await http.post("/api/maintenance/mnt_1/complete", headers=AUTH)).status == 202
    response = await http.post("/api/maintenance/mnt_1/extend", json={"end": "+4h"}, headers=AUTH)
    assert response.status == 202
    actions = [(c.action, c.maintenance_id) for _, _, c in stream.sent]  # type: ignore[attr-defined]
    assert actions == [("maintenance_complete", "mnt_1"), ("maintenance_extend", "mnt_1")]
    assert (await http.post("/api/maintenance/mnt_1/extend", json={}, headers=AUTH)).status == 422
    assert (await http.post("/api/maintenance/mnt_1/explode", headers=AUTH)).status == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"service": "reports", "start": "+2h"}, "end is required"),
        ({"start": "+2h", "end": "+3h"}, "service and start are required"),
        ({"service": "reports", "start": "+3h", "end": "2026-11-23T10:00:00Z"}, "not after start"),
        ({"service": "reports", "start": "tomorrowish", "end": "+2h"}, "start 'tomorrowish'"),
        ({"service": "reports", "start": "+1h", "end": "+2h", "impact": "total"}, "impact 'total'"),
    ],
)
async def test_bad_maintenance_is_422_with_the_reason(
    client: tuple[TestClient[Any, Any], FakeStream], body: dict[str, str], reason: str
) -> None:
    http, stream = client
    response = await http.post("/api/maintenance", json=body, headers=AUTH)
    assert response.status == 422 and reason in (await response.json())["error"]
    assert stream.sent == []


async def test_token_is_required(client: tuple[TestClient[Any, Any], FakeStream]) -> None:
    http, stream = client
    body = {"service": "reports", "start": "+2h", "end": "+3h"}
    assert (await http.post("/api/maintenance", json=body)).status == 401
    assert (await http.post("/api/maintenance", json=body, headers={"Authorization": "Bearer x"})).status == 401
    assert (await http.post("/api/incidents/inc_1", json={"phase": "identified"})).status == 401
    assert stream.sent == []


async def test_incident_update_validation_happens_before_any_lookup(
    client: tuple[TestClient[Any, Any], FakeStream],
) -> None:
    http, _ = client
    for body, reason in [
        ({}, "nothing to update"),
        ({"phase": "paused"}, "phase 'paused'"),
        ({"cause": 3}, "cause must be a string"),
        ({"eta": "soon"}, "eta 'soon'"),
    ]:
        response = await http.post("/api/incidents/inc_1", json=body, headers=AUTH)
        assert response.status == 422 and reason in (await response.json())["error"], body
    response = await http.post("/api/incidents/inc_1", data=b"not json", headers=AUTH)
    assert response.status == 422


async def test_without_a_configured_token_nothing_is_accepted(tmp_path: Path) -> None:
    app = build_web_app(WebContext(Settings(data_dir=tmp_path), SimpleNamespace(ctx=FakeStream())), [incidents.feature])
    async with TestClient(TestServer(app)) as http:
        response = await http.post("/api/maintenance", json={}, headers={"Authorization": "Bearer "})
        assert response.status == 503


async def test_detection_counts(tmp_path: Path) -> None:
    detect = SimpleNamespace(ignored={"late_samples": 3, "invalid_samples": 1, "duplicates": 0, "suppressed": 2})
    stages = SimpleNamespace(ctx=FakeStream(), detect=detect, ingest=SimpleNamespace(events_seen=40))
    app = build_web_app(WebContext(Settings(data_dir=tmp_path), stages), [incidents.feature])
    async with TestClient(TestServer(app)) as http:
        answer = await (await http.get("/api/detection")).json()
    assert answer == {"ignored": detect.ignored, "events_normalised": 40}

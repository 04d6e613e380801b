"""POST /ingest/{source}: in-process for every answer, and once through a real worker and broker."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from factories import T0
from forewarn.config import Settings
from forewarn.demo.mailbox import free_port
from forewarn.process import WorkerProcess
from forewarn.publish import read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import Incident, Record
from forewarn.web import ingest
from forewarn.web.server import WebContext, build_web_app

TOKEN, SECRET = "ingest-t0ken", "hmac-s3cret"


def alertmanager_body(at: datetime) -> bytes:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {"alertname": "SearchDown", "service": "search", "region": "us-east", "severity": "critical"}
    alert = {
        "status": "firing",
        "labels": {**labels, "symptom": "outage"},
        "annotations": {"summary": "Search returns 503"},
        "startsAt": stamp,
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "5ea2c4d0wn",
    }
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-Forewarn-Signature": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


@dataclass
class FakeStream:
    """The worker's StreamContext as the route uses it: a clock and send()."""

    sent: list[tuple[str, bytes | None, Record]] = field(default_factory=list)
    clock: Any = field(default_factory=lambda: SimpleNamespace(now=lambda: T0))

    async def send(self, topic: str, key: bytes | None, record: Record, partition: int | None = None) -> None:
        self.sent.append((topic, key, record))


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], FakeStream]]:
    stream = FakeStream()
    settings = Settings(data_dir=tmp_path, ingest_token=TOKEN, ingest_secret=SECRET)
    app = build_web_app(WebContext(settings, SimpleNamespace(ctx=stream)), [ingest.feature])
    async with TestClient(TestServer(app)) as http:
        yield http, stream


async def test_signed_body_is_published_raw_to_the_raw_topic(client: tuple[TestClient[Any, Any], FakeStream]) -> None:
    http, stream = client
    body = alertmanager_body(T0)
    response = await http.post("/ingest/alertmanager", data=body, headers=signed(body))
    assert response.status == 202
    assert await response.json() == {"accepted": 1, "source": "alertmanager"}
    ((topic, key, raw),) = stream.sent
    assert (topic, key) == ("raw", b"alertmanager")
    assert raw.body == body and raw.source == "alertmanager" and raw.received_at == T0  # type: ignore[attr-defined]


async def test_bearer_token_is_accepted(client: tuple[TestClient[Any, Any], FakeStream]) -> None:
    http, stream = client
    response = await http.post(
        "/ingest/json",
        data=b'[{"service":"api","metric":"error_rate","value":0.1,"timestamp":"2026-11-23T09:00:00Z"}]',
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status == 202 and len(stream.sent) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-Forewarn-Signature": "sha256=00"},
        signed(b"another body"),
        signed(alertmanager_body(T0), secret="other-secret"),
    ],
)
async def test_bad_or_missing_credentials_are_401(
    client: tuple[TestClient[Any, Any], FakeStream], headers: dict[str, str]
) -> None:
    http, stream = client
    response = await http.post("/ingest/alertmanager", data=alertmanager_body(T0), headers=headers)
    assert response.status == 401 and "credentials" in (await response.json())["error"]
    assert stream.sent == []


async def test_over_one_mebibyte_is_413(client: tuple[TestClient[Any, Any], FakeStream]) -> None:
    http, stream = client
    body = b"[" + b" " * (1024 * 1024) + b"]"
    response = await http.post("/ingest/json", data=body, headers=signed(body))
    assert response.status == 413 and stream.sent == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"version": "4", "alerts": [', "body:"),
        (b'{"version": "4", "alerts": "many"}', "alerts"),
        (b'{"version": "4", "alerts": [{"status": "firing", "labels": {}}]}', "alerts[0].labels.service"),
    ],
)
async def test_unusable_body_is_422_with_the_reason(
    client: tuple[TestClient[Any, Any], FakeStream], body: bytes, reason: str
) -> None:
    http, stream = client
    response = await http.post("/ingest/alertmanager", data=body, headers=signed(body))
    assert response.status == 422
    answer = await response.json()
    assert reason in answer["error"] and answer["error_type"]
    assert stream.sent == []


async def test_unknown_source_is_404(client: tuple[TestClient[Any, Any], FakeStream]) -> None:
    http, _ = client
    response = await http.post("/ingest/nagios", data=b"{}", headers=signed(b"{}"))
    assert response.status == 404 and "alertmanager" in (await response.json())["known"]


async def test_nothing_passes_when_no_credentials_are_configured(tmp_path: Path) -> None:
    app = build_web_app(WebContext(Settings(data_dir=tmp_path), SimpleNamespace(ctx=FakeStream())), [ingest.feature])
    async with TestClient(TestServer(app)) as http:
        body = alertmanager_body(T0)
        response = await http.post("/ingest/alertmanager", data=body, headers={"Authorization": "Bearer "})
        assert response.status == 401


@pytest.mark.broker
def test_webhook_through_the_worker_opens_an_incident(settings: Settings, tmp_path: Path) -> None:
    live = settings.model_copy(update={"web_port": free_port(), "ingest_secret": SECRET})
    body = alertmanager_body(datetime.now(UTC))
    url = f"http://127.0.0.1:{live.web_port}/ingest/alertmanager"
    with WorkerProcess(live, tmp_path / "worker.log", roles="pipeline,web") as worker:

        def post() -> int:
            worker.check()
            request = urllib.request.Request(url, data=body, headers=signed(body), method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return int(answer.status)
            except urllib.error.HTTPError as exc:
                return exc.code
            except OSError:
                return 0  # not listening yet

        statuses: list[int] = []
        wait_until(lambda: statuses.append(post()) or statuses[-1] == 202, 90, "the ingest endpoint to accept")
        wait_until(lambda: bool(worker.check() or read_topic(live, "incidents")), 90, "an incident")
    (incident,) = [decode(m.value(), Incident) for m in read_topic(live, "incidents")]
    assert (incident.service, incident.region, incident.symptom, incident.internal) == (
        "search",
        "us-east",
        "outage",
        False,
    )

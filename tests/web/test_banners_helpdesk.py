"""In-app banners served per customer, and the helpdesk webhook tagging known-issue tickets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from factories import command
from forewarn.config import ChannelSettings, Settings
from forewarn.processors.draft import Draft
from forewarn.processors.helpdesk import with_canned_reply
from forewarn.processors.internal import CustomerDraft
from forewarn.schemas.models import Channel, Phase
from forewarn.sinks.channels import banner_board, helpdesk_sink
from forewarn.sinks.inapp import banner_of
from forewarn.web.banners import banner_feed
from forewarn.web.helpdesk import helpdesk_webhook
from forewarn.web.server import WebContext, build_web_app
from http_recorder import HttpRecorder

NOW = datetime.now(UTC)


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    with HttpRecorder() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, recorder: HttpRecorder) -> Settings:
    providers = ChannelSettings(
        helpdesk_url=recorder.url, helpdesk_email="bot@x.example", helpdesk_token="tk", helpdesk_webhook_token="s3cret"
    )
    return Settings(data_dir=tmp_path, providers=providers, status_page_url="https://status.x.example")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = build_web_app(WebContext(settings, None), [banner_feed, helpdesk_webhook])
    async with TestClient(TestServer(app)) as c:
        yield c


def inapp(customer: str, version: int, phase: Phase, ago: timedelta = timedelta(0)) -> object:
    return command(f"ntf_{customer}_{version}").model_copy(
        update={
            "channel": Channel.inapp,
            "customer_id": customer,
            "incident_version": version,
            "phase": phase,
            "text": f"v{version} {phase.value}",
            "created_at": NOW - ago,
        }
    )


async def test_banners_are_served_per_customer(client: TestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    board = banner_board(settings)
    board.put(banner_of(inapp("c1", 1, Phase.investigating)))  # type: ignore[arg-type]
    board.put(banner_of(inapp("c1", 2, Phase.identified)))  # type: ignore[arg-type]
    board.put(banner_of(inapp("c2", 1, Phase.investigating)))  # type: ignore[arg-type]
    response = await client.get("/api/banners", params={"customer": "c1"})
    body = await response.json()
    assert [(b["version"], b["text"]) for b in body["banners"]] == [(2, "v2 identified")]
    assert response.headers["Cache-Control"] == "no-store"
    assert (await (await client.get("/api/banners", params={"customer": "nobody"})).json())["banners"] == []
    assert (await client.get("/api/banners")).status == 400


async def test_a_resolution_banner_expires_after_a_day(client: TestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    board = banner_board(settings)
    board.put(banner_of(inapp("c1", 3, Phase.resolved, ago=timedelta(hours=25))))  # type: ignore[arg-type]
    assert (await (await client.get("/api/banners", params={"customer": "c1"})).json())["banners"] == []


REPLY = "Hello Acme,\n\nWe are investigating an issue affecting Payments.\n\nLive updates: https://status.x.example"


async def open_incident_for(settings: Settings, customer: str, reply: CustomerDraft | None = None) -> None:
    sink = helpdesk_sink(settings)
    cmd = command(f"ntf_h_{customer}").model_copy(
        update={
            "channel": Channel.helpdesk,
            "customer_id": customer,
            "incident_id": "inc_9",
            "subject": "Payments outage",
        }
    )
    cmd = with_canned_reply(cmd, reply or CustomerDraft(Draft("initial", None, REPLY, None)))
    await sink.send(cmd)
    await sink.close()


async def test_ticket_from_an_affected_customer_is_tagged_known_issue(
    client: TestClient,
    settings: Settings,
    recorder: HttpRecorder,  # type: ignore[type-arg]
) -> None:
    await open_incident_for(settings, "c-eu")
    headers = {"Authorization": "Bearer s3cret"}
    answer = await client.post(
        "/api/helpdesk/webhook", json={"ticket_id": "777", "customer_id": "c-eu"}, headers=headers
    )
    assert (await answer.json()) == {"ticket_id": 777, "known_issue": True, "incident_id": "inc_9"}
    (update,) = recorder.received("/api/v2/tickets/777.json")
    ticket = update.json()["ticket"]
    assert ticket["additional_tags"] == ["known_issue", "inc_9"] and ticket["problem_id"] == 1001
    assert ticket["comment"] == {"body": REPLY, "public": True}  # the reply drafted for c-eu, carried by its command
    again = await client.post("/api/helpdesk/webhook", json={"ticket_id": 777, "customer_id": "c-eu"}, headers=headers)
    assert (await again.json())["known_issue"] and len(recorder.received("/api/v2/tickets/777.json")) == 1

    sink = helpdesk_sink(settings)  # resolution solves the customer's ticket with the rest
    resolved = command("ntf_h_res").model_copy(
        update={
            "channel": Channel.helpdesk,
            "customer_id": "c-eu",
            "incident_id": "inc_9",
            "incident_version": 2,
            "phase": Phase.resolved,
        }
    )
    await sink.send(resolved)
    (solve,) = recorder.received("/api/v2/tickets/update_many.json")
    assert "777" in solve.query["ids"].split(",")
    after = await client.post("/api/helpdesk/webhook", json={"ticket_id": 778, "customer_id": "c-eu"}, headers=headers)
    assert (await after.json())["known_issue"] is False  # the incident is over


async def test_unaffected_customers_bad_tokens_and_bad_bodies(client: TestClient, settings: Settings) -> None:  # type: ignore[type-arg]
    headers = {"Authorization": "Bearer s3cret"}
    calm = await client.post("/api/helpdesk/webhook", json={"ticket_id": 1, "customer_id": "c-x"}, headers=headers)
    assert (await calm.json())["known_issue"] is False
    assert (await client.post("/api/helpdesk/webhook", json={"ticket_id": 1, "customer_id": "c"})).status == 401
    bad = await client.post("/api/helpdesk/webhook", json={"ticket": 1}, headers=headers)
    assert bad.status == 422 and "ticket_id" in await bad.text()


async def test_a_withheld_canned_reply_leaves_an_internal_note_instead_of_an_answer(
    client: TestClient,  # type: ignore[type-arg]
    settings: Settings,
    recorder: HttpRecorder,
) -> None:
    failed = CustomerDraft(Draft("initial", None, "words naming another customer", None), ("other_customer: Bolt",))
    await open_incident_for(settings, "c-eu", failed)
    headers = {"Authorization": "Bearer s3cret"}
    answer = await client.post("/api/helpdesk/webhook", json={"ticket_id": 900, "customer_id": "c-eu"}, headers=headers)
    assert (await answer.json())["known_issue"] is True
    (update,) = recorder.received("/api/v2/tickets/900.json")
    comment = update.json()["ticket"]["comment"]
    assert comment["public"] is False and "another customer" not in comment["body"]
    assert "https://status.x.example" in comment["body"] and "inc_9" in comment["body"]

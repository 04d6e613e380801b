"""The console checks an approval — edited or not — with the expectations its draft was written to.

No broker: the approvals and incidents topics are stood in for, the decision API is the real one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from factories import T0, customer
from forewarn.config import Settings
from forewarn.processors.approve import held
from forewarn.processors.draft import Drafter, command_for
from forewarn.schemas.models import Approval, Channel, Incident
from forewarn.web import console
from forewarn.web.server import WebContext, build_web_app
from internal_factories import STATUS_URL, incident, policy

TOKEN = "t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Clock:
    def now(self) -> Any:
        return T0 + timedelta(minutes=10)


@dataclass
class StreamStandIn:
    policy: Any
    clock: Clock = field(default_factory=Clock)
    sent: list[tuple[str, bytes, Any]] = field(default_factory=list)

    async def send(self, topic: str, key: bytes, record: Any) -> None:
        self.sent.append((topic, key, record))


@dataclass
class Stages:
    ctx: StreamStandIn


def version() -> Incident:
    return incident(
        2,
        minute=5,
        phase="identified",
        cause="A database failover took longer than expected.",
        next_update_at=T0 + timedelta(minutes=35),
    )


def approval() -> Approval:
    reader = customer("c-eu", language="en", timezone="Europe/Berlin")
    words = Drafter(policy(), STATUS_URL).skeleton(version(), Channel.email, "en").for_reader(reader)
    cmd = command_for(version(), reader, Channel.email, words, now=T0, dry_run=False)
    return held(cmd, version(), "regional_outage: always approved by a person", [], T0)


@pytest.fixture
async def api(monkeypatch: pytest.MonkeyPatch) -> Any:
    held_one = approval()
    stream = StreamStandIn(
        policy().model_copy(update={"tone": policy().tone.model_copy(update={"banned_phrases": ["rest assured"]})})
    )
    ctx = WebContext(Settings(console_token=TOKEN, status_page_url=STATUS_URL), Stages(stream))

    async def approvals(_: WebContext) -> dict[str, Approval]:
        return {held_one.approval_id: held_one}

    async def held_incident(_: WebContext, a: Approval) -> Incident | None:
        return version() if a.incident_version == 2 else None

    monkeypatch.setattr(console, "approvals", approvals)
    monkeypatch.setattr(console, "held_incident", held_incident)
    client = TestClient(TestServer(build_web_app(ctx, [console.feature])))
    await client.start_server()
    try:
        yield client, held_one, stream
    finally:
        await client.close()


async def decide(client: TestClient, approval_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await client.post(f"/api/approvals/{approval_id}/approve", json=body, headers=AUTH)
    return response.status, await response.json()


@pytest.mark.parametrize(
    ("extra", "rule", "shown"),
    [
        ("The primary db-03.prod.internal failed over.", "internal_host", "db-03.prod.internal"),
        ("The ledger-db pool was exhausted.", "internal_fact", "ledger-db"),
        ("Rest assured, we are on it.", "banned_phrase", "rest assured"),
    ],
)
async def test_an_edit_that_leaks_or_breaks_the_tone_guide_is_refused_with_the_verdicts(
    api: Any, extra: str, rule: str, shown: str
) -> None:
    client, held_one, stream = api
    text = held_one.command.text.replace("We will keep you posted.", f"{extra}\n\nWe will keep you posted.")
    status, answer = await decide(client, held_one.approval_id, {"approver": "maria", "text": text})
    assert status == 422 and "still fails validation" in answer["error"]
    assert [v.split(":")[0] for v in answer["verdicts"]] == [rule] and shown in answer["verdicts"][0]
    assert stream.sent == []  # nothing was published


async def test_an_edit_without_the_required_facts_is_refused(api: Any) -> None:
    client, held_one, stream = api
    status, answer = await decide(
        client,
        held_one.approval_id,
        {"approver": "maria", "subject": "Payments", "text": f"Payments are slow. {STATUS_URL}"},
    )
    assert status == 422 and stream.sent == []
    missing = {v.split(" missing")[0] for v in answer["verdicts"] if v.startswith("facts:")}
    assert missing == {"facts: status", "facts: eta", "facts: next_update"}


async def test_a_good_edit_and_an_unedited_draft_are_approved_and_published(api: Any) -> None:
    client, held_one, stream = api
    text = held_one.command.text.replace("We will keep you posted.", "Payments are back for most requests.")
    status, answer = await decide(client, held_one.approval_id, {"approver": "maria", "text": text})
    assert status == 200 and answer["edited"] is True and answer["status"] == "approved"
    (topic, _, record) = stream.sent[0]
    assert topic == "approvals" and "back for most requests" in record.command.text
    status, answer = await decide(client, held_one.approval_id, {"approver": "maria"})
    assert status == 200 and answer["edited"] is False


async def test_without_the_incident_version_the_draft_cannot_be_checked_so_it_is_not_sent(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, held_one, stream = api

    async def gone(_: WebContext, a: Approval) -> Incident | None:
        return None

    monkeypatch.setattr(console, "held_incident", gone)
    status, answer = await decide(client, held_one.approval_id, {"approver": "maria"})
    assert status == 422 and "is not on the incidents topic" in answer["verdicts"][0] and stream.sent == []

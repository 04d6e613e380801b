"""Batch decisions through the real API and console, with the topics stood in for (no broker).

2,500 held drafts of one P1 version: the API streams its progress while it publishes one decided
record per draft, a draft held with verdicts is left for one-by-one review, and the console shows
batches (count, one sample) instead of a row per draft beyond the first few hundred.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from factories import T0, customer
from forewarn.config import Settings
from forewarn.processors.approve import BATCH_SAMPLE, held
from forewarn.processors.draft import Drafter, command_for
from forewarn.schemas.models import Approval, ApprovalStatus, Channel, Incident
from forewarn.web import bulk_approvals, console
from forewarn.web.server import WebContext, build_web_app
from internal_factories import STATUS_URL, policy

from .test_console_checks import AUTH, TOKEN, Stages, StreamStandIn, version

READERS = 2_500


@dataclass
class WorkerStages(Stages):
    internal: Any = None  # no incident rooms on this worker: the console lists drafts only


def held_drafts() -> dict[str, Approval]:
    drafter = Drafter(policy(), STATUS_URL)
    out: dict[str, Approval] = {}
    for i in range(READERS):
        language, channel = ("de", Channel.email) if i % 5 == 0 else ("en", Channel.email if i % 2 else Channel.sms)
        reader = customer(f"c{i:05d}", language=language, timezone="Europe/Berlin")
        words = drafter.skeleton(version(), channel, language).for_reader(reader)
        cmd = command_for(version(), reader, channel, words, now=T0, dry_run=False)
        verdicts = ["internal_fact: states 'ledger-db'"] if i == 1 else []
        a = held(
            cmd, version(), "regional_outage: P1 drafts are approved by a person", verdicts, T0 + timedelta(seconds=i)
        )
        out[a.approval_id] = a
    return out


@pytest.fixture
async def web(monkeypatch: pytest.MonkeyPatch) -> Any:
    found = held_drafts()
    stream = StreamStandIn(policy())
    ctx = WebContext(Settings(console_token=TOKEN, status_page_url=STATUS_URL), WorkerStages(stream))

    async def approvals(_: WebContext) -> dict[str, Approval]:
        return found

    async def held_incident(_: WebContext, a: Approval) -> Incident | None:
        return version() if a.incident_version == 2 else None

    monkeypatch.setattr(console, "approvals", approvals)
    monkeypatch.setattr(console, "held_incident", held_incident)
    client = TestClient(TestServer(build_web_app(ctx, [console.feature, bulk_approvals.feature])))
    await client.start_server()
    try:
        yield client, found, stream
    finally:
        await client.close()


async def lines(client: TestClient, action: str, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    response = await client.post(f"/api/approval-batches/{action}", json=body, headers=AUTH)
    text = await response.text()
    if response.content_type == "application/json":
        return response.status, [json.loads(text)]
    return response.status, [json.loads(line) for line in text.splitlines()]


async def test_approving_a_version_publishes_one_record_per_draft_with_progress(web: Any) -> None:
    client, found, stream = web
    status, out = await lines(client, "approve", {"incident_id": "inc_1", "version": 2, "approver": "ann"})
    assert status == 200
    plan, *progress, done = out
    assert [(b["channel"], b["language"], b["ready"], b["review"]) for b in plan["batches"]] == [
        ("email", "de", 500, 0),
        ("email", "en", 999, 1),
        ("sms", "en", 1000, 0),
    ]
    assert plan["total"] == READERS - 1 and plan["left_for_review"] == 1 and plan["refused"] == {}
    assert [p["decided"] for p in progress] == [1000, 2000, READERS - 1]  # in chunks, then the end
    assert done == {"done": True, "decided": READERS - 1, "status": "approved"}
    records = [record for topic, _, record in stream.sent]
    assert {topic for topic, _, _ in stream.sent} == {"approvals"} and len(records) == READERS - 1
    assert len({r.approval_id for r in records}) == READERS - 1  # one record per draft, each its own
    assert {(r.status, r.approver) for r in records} == {(ApprovalStatus.approved, "ann")}
    assert all(r.command.metadata[BATCH_SAMPLE] for r in records)
    left = set(found) - {r.approval_id for r in records}
    assert [found[a].verdicts for a in left] == [["internal_fact: states 'ledger-db'"]]


async def test_one_channel_and_language_or_a_rejection_of_everything_pending(web: Any) -> None:
    client, _, stream = web
    body = {"incident_id": "inc_1", "version": 2, "channel": "email", "language": "de", "approver": "ann"}
    status, out = await lines(client, "approve", body)
    assert status == 200 and out[-1]["decided"] == 500
    assert {(r.command.channel, r.command.language) for _, _, r in stream.sent} == {(Channel.email, "de")}
    stream.sent.clear()
    status, out = await lines(client, "reject", {**body, "language": "en", "reason": "wrong wording"})
    assert status == 200 and out[-1] == {"done": True, "decided": 1000, "status": "rejected"}  # the one to review too
    assert {(r.status, r.reason) for _, _, r in stream.sent} == {(ApprovalStatus.rejected, "wrong wording")}


async def test_a_batch_whose_sample_fails_or_names_nothing_is_refused_before_anything_is_published(
    web: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, stream = web
    for body, code in (
        ({"incident_id": "inc_1", "version": 3, "approver": "ann"}, 404),
        ({"incident_id": "inc_1", "version": 2}, 400),
        ({"incident_id": "inc_1", "version": "two", "approver": "ann"}, 400),
        ({"incident_id": "inc_1", "version": 2, "channel": "pigeon", "approver": "ann"}, 400),
    ):
        status, (answer,) = await lines(client, "approve", body)
        assert status == code and answer["error"], body

    async def gone(_: WebContext, a: Approval) -> Incident | None:
        return None

    monkeypatch.setattr(console, "held_incident", gone)
    status, (answer,) = await lines(client, "approve", {"incident_id": "inc_1", "version": 2, "approver": "ann"})
    assert status == 422 and "not on the incidents topic" in " ".join(answer["verdicts"])
    assert stream.sent == []
    assert (await client.post("/api/approval-batches/approve", json={})).status == 401


async def test_the_console_lists_batches_with_a_sample_and_decides_one(web: Any) -> None:
    client, _, stream = web
    login = await client.post("/console/login", data={"token": TOKEN}, allow_redirects=False)
    assert login.status == 303
    listing = await client.get("/console/approvals")
    html = await listing.text()
    assert html.count("<tr class='batch'") == 3 and "Approve all 999" in html and "+1 to review one by one" in html
    assert f"Showing the latest {console.LISTED_MAX} of {READERS} drafts" in html
    assert html.count("<tr class='pending'>") == console.LISTED_MAX  # not a row per draft
    assert "Payments" in html and "class='sample'" in html
    form = {
        "incident_id": "inc_1",
        "version": "2",
        "channel": "sms",
        "language": "en",
        "template": "update",
        "source": "template",
        "approver": "maria",
        "action": "approve",
    }
    decided = await client.post("/console/batches", data=form, allow_redirects=False)
    assert decided.status == 303 and "1000+drafts+approved" in decided.headers["Location"]
    assert {(r.command.channel, r.approver) for _, _, r in stream.sent} == {(Channel.sms, "maria")}
    refused = await client.post("/console/batches", data={**form, "approver": ""}, allow_redirects=False)
    assert refused.status == 400 and "approver is required" in await refused.text()

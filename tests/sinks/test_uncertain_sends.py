"""A send whose answer was lost may have landed: Statuspage looks before it repeats, Teams stops.

The recorder acts on a stalled request after the client gave up (``stall``), which is exactly the
"timed out but succeeded" case; every test waits for that late answer before the retry goes out.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import httpx
import pytest

from factories import T0, command
from forewarn.config import ChannelSettings
from forewarn.demo.mailbox import free_port
from forewarn.schemas.models import Channel, DeliveryStatus, NotificationCommand, Phase
from forewarn.sinks.base import UNCERTAIN, Deliverer, SendError, Sink, SqliteDeliveredStore
from forewarn.sinks.statuspage import PageIncidents, StatuspageSink, marker
from forewarn.sinks.teams import TeamsSink
from http_recorder import HttpRecorder

TIMEOUT_S, STALL_S = 0.3, 0.9
PAGE = "/v1/pages/pg/incidents"


@pytest.fixture
def recorder() -> HttpRecorder:
    with HttpRecorder() as server:
        yield server  # type: ignore[misc]


def statuspage(recorder: HttpRecorder, tmp: Path, timeout_s: float = TIMEOUT_S) -> StatuspageSink:
    settings = ChannelSettings(statuspage_api_url=f"{recorder.url}/v1", statuspage_page_id="pg", statuspage_api_key="k")
    return StatuspageSink(settings, PageIncidents(tmp / "sp.sqlite"), timeout_s=timeout_s)


def post(version: int, phase: Phase = Phase.investigating) -> NotificationCommand:
    return command(f"ntf_sp_v{version}").model_copy(
        update={
            "channel": Channel.statuspage,
            "recipients": ["public"],
            "incident_id": "inc_sp",
            "incident_version": version,
            "phase": phase,
            "subject": "Payments outage",
            "text": f"v{version}: {phase.value}",
        }
    )


async def landed(recorder: HttpRecorder, method: str, count: int, timeout_s: float = 10.0) -> None:
    """Until ``count`` ``method`` requests were acted on (a stalled one lands after its client left)."""
    deadline = time.monotonic() + timeout_s
    while len([r for r in recorder.received(method=method) if r.path.startswith(PAGE)]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"expected {count} {method} requests to land in {timeout_s}s")
        await asyncio.sleep(0.02)


def deliverer(
    sink: Sink, tmp: Path, after_failure: list[float], method: str, count: int, rec: HttpRecorder
) -> Deliverer:
    async def sleep(seconds: float) -> None:  # the retry goes out only once the lost write has landed
        after_failure.append(seconds)
        await landed(rec, method, count)

    return Deliverer(sink, SqliteDeliveredStore(tmp / "d.sqlite"), clock=lambda: T0, sleep=sleep, rng=random.Random(0))


async def test_a_create_that_timed_out_but_landed_is_found_on_the_page_not_opened_twice(
    recorder: HttpRecorder, tmp_path: Path
) -> None:
    recorder.stall(PAGE, STALL_S)
    sink, sleeps = statuspage(recorder, tmp_path), []
    try:
        receipt = await deliverer(sink, tmp_path, sleeps, "POST", 1, recorder).deliver(post(1))
    finally:
        await sink.close()
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 2 and len(sleeps) == 1
    assert "already on the page" in receipt.provider_response
    assert len(recorder.received(PAGE, method="POST")) == 1 and len(recorder.page_incidents) == 1
    (lookup,) = recorder.received(PAGE, method="GET")
    assert lookup.query["q"] == "Payments outage"  # listed by name, matched on metadata.forewarn
    (page_id,) = recorder.page_incidents
    assert receipt.provider_message_id == page_id and sink.mirrored.get("inc_sp") == page_id


async def test_an_update_that_timed_out_but_landed_is_not_posted_again(recorder: HttpRecorder, tmp_path: Path) -> None:
    sink, sleeps = statuspage(recorder, tmp_path), []
    try:
        run = deliverer(sink, tmp_path, sleeps, "PATCH", 1, recorder)
        assert (await run.deliver(post(1))).status is DeliveryStatus.delivered
        (page_id,) = recorder.page_incidents
        recorder.stall(f"{PAGE}/{page_id}", STALL_S)
        receipt = await run.deliver(post(2, Phase.identified))
    finally:
        await sink.close()
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 2
    assert len(recorder.received(f"{PAGE}/{page_id}", method="PATCH")) == 1
    assert [u["body"] for u in recorder.page_incidents[page_id]["incident_updates"]] == [
        "v2: identified",
        "v1: investigating",
    ]
    assert recorder.page_incidents[page_id]["metadata"] == marker(post(2))


async def test_after_a_crash_mid_create_the_restarted_worker_finds_the_incident(
    recorder: HttpRecorder, tmp_path: Path
) -> None:
    """The worker died after the POST left: in-flight mark, open write, and the incident on the page."""
    first = post(1)
    crashed = statuspage(recorder, tmp_path)
    crashed.mirrored.begin(first.notification_id)
    SqliteDeliveredStore(tmp_path / "d.sqlite").begin(first.notification_id)
    async with httpx.AsyncClient() as client:  # what the dead worker's request did
        body = {"status": "investigating", "body": first.text, "name": "Payments outage", "metadata": marker(first)}
        await client.post(f"{recorder.url}{PAGE}", json={"incident": body})
    await crashed.close()
    again, sleeps = statuspage(recorder, tmp_path), []
    try:
        receipt = await deliverer(again, tmp_path, sleeps, "POST", 1, recorder).deliver(first)
    finally:
        await again.close()
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 1  # resent safely: looked up first
    assert len(recorder.received(PAGE, method="POST")) == 1 and len(recorder.page_incidents) == 1


async def test_a_write_that_never_landed_is_made_after_the_lookup(recorder: HttpRecorder, tmp_path: Path) -> None:
    recorder.fail(PAGE, 502)  # answered: nothing created, but a 5xx leaves the outcome open
    sink, sleeps = statuspage(recorder, tmp_path), []
    try:
        receipt = await deliverer(sink, tmp_path, sleeps, "POST", 0, recorder).deliver(post(1))
    finally:
        await sink.close()
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 2
    assert len(recorder.received(PAGE, method="GET")) == 1 and len(recorder.page_incidents) == 1


def teams(recorder: HttpRecorder) -> NotificationCommand:
    return command("ntf_teams_1").model_copy(update={"channel": Channel.teams, "recipients": [f"{recorder.url}/wf/x"]})


@pytest.mark.parametrize("fault", ["timeout", "504"])
async def test_a_teams_post_whose_answer_was_lost_is_dead_lettered_as_uncertain_not_resent(
    fault: str, recorder: HttpRecorder, tmp_path: Path
) -> None:
    if fault == "timeout":
        recorder.stall("/wf/x", STALL_S)
    else:
        recorder.fail("/wf/x", 504)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    sink = TeamsSink(timeout_s=TIMEOUT_S)
    store = SqliteDeliveredStore(tmp_path / "d.sqlite")
    run = Deliverer(sink, store, clock=lambda: T0, sleep=sleep, rng=random.Random(0))
    try:
        receipt = await run.deliver(teams(recorder))
        replayed = await run.deliver(teams(recorder))  # the same command again (a redelivery): still not sent
    finally:
        await sink.close()
    assert receipt.status is DeliveryStatus.failed and receipt.attempts == 1 and sleeps == []
    assert receipt.provider_response.startswith(UNCERTAIN) and "not resent" in receipt.provider_response
    assert replayed.status is DeliveryStatus.failed and replayed.attempts == 0
    deadline = time.monotonic() + 10
    while fault == "timeout" and not recorder.received("/wf/x") and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert len(recorder.all_requests("/wf/x")) == 1  # one post left forewarn, ever


async def test_a_teams_post_that_never_left_is_retried(tmp_path: Path) -> None:
    """Nothing listening: the request cannot have reached Teams, so a retry cannot post twice."""
    sink = TeamsSink(timeout_s=TIMEOUT_S)
    cmd = command("ntf_teams_2").model_copy(
        update={"channel": Channel.teams, "recipients": [f"http://127.0.0.1:{free_port()}/wf/x"]}
    )
    try:
        with pytest.raises(SendError) as err:
            await sink.send(cmd)
    finally:
        await sink.close()
    assert err.value.retryable and not err.value.uncertain

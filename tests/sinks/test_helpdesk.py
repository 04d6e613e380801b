"""The helpdesk sink against a Zendesk-shaped recording server."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from factories import T0, command
from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, DeliveryStatus, NotificationCommand, Phase
from forewarn.sinks.base import Deliverer, RetryPolicy, SqliteDeliveredStore
from forewarn.sinks.helpdesk import HelpdeskLedger, HelpdeskSink
from http_recorder import HttpRecorder


def update(customer: str, version: int = 1, phase: Phase = Phase.investigating) -> NotificationCommand:
    return command(f"ntf_{customer}_{version}").model_copy(
        update={
            "channel": Channel.helpdesk,
            "customer_id": customer,
            "recipients": [customer],
            "incident_id": "inc_7",
            "incident_version": version,
            "phase": phase,
            "subject": "[P1] Payments outage",
        }
    )


@pytest.fixture
def sink(recorder: HttpRecorder, tmp_path: Path) -> HelpdeskSink:
    recorder.organisations.update({"c-eu": 501})
    settings = ChannelSettings(helpdesk_url=recorder.url, helpdesk_email="bot@x.example", helpdesk_token="tk")
    return HelpdeskSink(settings, HelpdeskLedger(tmp_path / "helpdesk.sqlite"))


async def test_one_problem_ticket_per_incident_and_a_linked_ticket_per_organisation(
    sink: HelpdeskSink, recorder: HttpRecorder
) -> None:
    await sink.send(update("c-eu"))
    await sink.send(update("c-us"))
    await sink.send(update("c-eu"))  # the same update again: nothing new
    created = [r.json()["ticket"] for r in recorder.received("/api/v2/tickets.json")]
    problem, eu, us = created
    assert problem["type"] == "problem" and problem["tags"] == ["forewarn", "inc_7"] and problem["priority"] == "urgent"
    assert (eu["type"], eu["problem_id"], eu["organization_id"]) == ("incident", 1001, 501)
    assert us["organization_id"] is None  # no organisation with that external id: still linked to the problem
    assert recorder.received("/api/v2/tickets.json")[0].headers["Idempotency-Key"] == "forewarn-problem-inc_7"
    assert recorder.received()[0].headers["Authorization"].startswith("Basic ")


async def test_each_new_version_comments_once_and_resolution_solves_every_linked_ticket(
    sink: HelpdeskSink, recorder: HttpRecorder
) -> None:
    await sink.send(update("c-eu"))
    await sink.send(update("c-us"))
    await sink.send(update("c-eu", 2, Phase.identified))
    await sink.send(update("c-us", 2, Phase.identified))
    await sink.send(update("c-eu", 3, Phase.resolved))
    await sink.send(update("c-us", 3, Phase.resolved))
    comments = [r.json()["ticket"]["comment"]["body"] for r in recorder.received("/api/v2/tickets/1001.json")]
    assert comments == ["forewarn: inc_7 v2 is now identified.", "forewarn: inc_7 v3 is now resolved."]
    (solve,) = recorder.received("/api/v2/tickets/update_many.json")
    assert solve.query["ids"] == "1001,1002,1003" and solve.json() == {"ticket": {"status": "solved"}}
    assert sink.ledger.active_for("c-eu") == []


async def test_the_ledger_knows_which_incidents_a_customer_is_in(sink: HelpdeskSink) -> None:
    await sink.send(update("c-eu"))
    assert sink.ledger.active_for("c-eu") == [("inc_7", "[P1] Payments outage", 1001)]
    assert sink.ledger.active_for("c-other") == []


# -- a multi-call send failing part-way: the retry finishes the job without a second ticket ------


def deliverer(sink: HelpdeskSink, tmp_path: Path, sleep: Callable[[float], Awaitable[None]] | None = None) -> Deliverer:
    async def no_wait(seconds: float) -> None:
        return None

    return Deliverer(
        sink,
        SqliteDeliveredStore(tmp_path / "delivered.sqlite"),
        clock=lambda: T0,
        retry=RetryPolicy(attempts=4),
        sleep=sleep or no_wait,
        rng=random.Random(0),
    )


def created(recorder: HttpRecorder) -> list[dict[str, Any]]:
    return [r.json()["ticket"] for r in recorder.received("/api/v2/tickets.json", method="POST")]


async def test_a_failure_after_the_problem_ticket_reuses_it_on_retry(
    sink: HelpdeskSink, recorder: HttpRecorder, tmp_path: Path
) -> None:
    recorder.fail("/api/v2/organizations/search.json", 503)  # problem created, then the lookup fails
    receipt = await deliverer(sink, tmp_path).deliver(update("c-eu"))
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 2
    assert [t["type"] for t in created(recorder)] == ["problem", "incident"]
    assert len(recorder.all_requests("/api/v2/tickets.json")) == 2  # the retry did not even ask again
    assert sink.ledger.tickets_of("inc_7") == [1001, 1002]


async def test_a_linked_ticket_whose_answer_was_lost_is_not_opened_twice(
    recorder: HttpRecorder, tmp_path: Path
) -> None:
    settings = ChannelSettings(helpdesk_url=recorder.url, helpdesk_email="bot@x.example", helpdesk_token="tk")
    sink = HelpdeskSink(settings, HelpdeskLedger(tmp_path / "helpdesk.sqlite"), timeout_s=0.5)
    await deliverer(sink, tmp_path).deliver(update("c-eu"))
    recorder.stall("/api/v2/tickets.json", 1.5)  # c-us's linked ticket is created, the answer times out

    async def once_it_landed(seconds: float) -> None:
        deadline = time.monotonic() + 10
        while len(recorder.all_requests("/api/v2/tickets.json")) < 3:
            assert time.monotonic() < deadline, "the stalled create never landed"
            await asyncio.sleep(0.05)

    receipt = await deliverer(sink, tmp_path, once_it_landed).deliver(update("c-us"))
    await sink.close()
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 2
    assert [t["type"] for t in created(recorder)] == ["problem", "incident", "incident"]  # one per customer
    retried = recorder.all_requests("/api/v2/tickets.json")[-1]
    assert retried.replay and retried.headers["Idempotency-Key"] == "forewarn-linked-inc_7-c-us"
    assert sink.ledger.tickets_of("inc_7") == [1001, 1002, 1003]


async def test_a_failed_comment_is_posted_on_the_retry(
    sink: HelpdeskSink, recorder: HttpRecorder, tmp_path: Path
) -> None:
    run = deliverer(sink, tmp_path)
    await run.deliver(update("c-eu"))
    recorder.fail("/api/v2/tickets/1001.json", 503)
    receipt = await run.deliver(update("c-eu", 2, Phase.identified))
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 2
    (comment,) = recorder.received("/api/v2/tickets/1001.json")
    assert comment.json()["ticket"]["comment"]["body"] == "forewarn: inc_7 v2 is now identified."


async def test_a_failed_solve_is_solved_on_the_retry(
    sink: HelpdeskSink, recorder: HttpRecorder, tmp_path: Path
) -> None:
    run = deliverer(sink, tmp_path)
    await run.deliver(update("c-eu"))
    recorder.fail("/api/v2/tickets/update_many.json", 429, retry_after="2")
    receipt = await run.deliver(update("c-eu", 2, Phase.resolved))
    assert receipt.status is DeliveryStatus.delivered and receipt.attempts == 2
    (solve,) = recorder.received("/api/v2/tickets/update_many.json")
    assert solve.query["ids"] == "1001,1002" and sink.ledger.active_for("c-eu") == []


async def test_a_rejected_ticket_is_not_retried(sink: HelpdeskSink, recorder: HttpRecorder, tmp_path: Path) -> None:
    recorder.fail("/api/v2/tickets.json", 422)
    receipt = await deliverer(sink, tmp_path).deliver(update("c-eu"))
    assert receipt.status is DeliveryStatus.failed and receipt.attempts == 1 and "422" in receipt.provider_response
    assert created(recorder) == [] and sink.ledger.tickets_of("inc_7") == []

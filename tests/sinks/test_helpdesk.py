"""The helpdesk sink against a Zendesk-shaped recording server."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import command
from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, NotificationCommand, Phase
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

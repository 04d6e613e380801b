"""Operators and targeting steer an incident through the real broker and worker.

An error alert opens an internal incident; an operator's CLI update identifies it (and so
confirms it), targeting's impact reports re-classify it by the share of active customers
affected, an HTTP update moves it to monitoring, and the CLI closes it as a false alarm.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from factories import customer, wait_customers
from forewarn.cli import main
from forewarn.config import Settings
from forewarn.demo.mailbox import free_port
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, raw_signal_from_json, read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import DeadLetter, Incident, Phase, Severity
from scenario_replay import read_incidents, wait_detection_quiet

pytestmark = pytest.mark.broker

TOKEN = "operator-t0ken"
POLICY = "services:\n  payments:\n    declared_share: 0.05\ngates:\n  default: never\n"


def error_alert(now: datetime) -> dict[str, Any]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {"alertname": "PaymentsErrors", "service": "payments", "region": "eu-west", "severity": "error"}
    alert = {
        "status": "firing",
        "labels": {**labels, "symptom": "error_rate"},
        "annotations": {"summary": "Payments error rate above 5%"},
        "startsAt": stamp,
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "0pe12a7012",
    }
    return {"source": "alertmanager", "received_at": stamp, "body": {"version": "4", "alerts": [alert]}}


def cli(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=settings.to_env(), catch_exceptions=False)


def http(settings: Settings, path: str, body: dict[str, Any], token: str = TOKEN) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.web_port}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def versions(settings: Settings) -> list[Incident]:
    return sorted(read_incidents(settings), key=lambda i: i.version)


def wait_version(settings: Settings, worker: WorkerProcess, version: int) -> Incident:
    def arrived() -> bool:
        worker.check()
        return any(i.version == version for i in versions(settings))

    wait_until(arrived, 120, f"incident version {version}")
    return next(i for i in versions(settings) if i.version == version)


def test_operator_cli_http_and_impact_steer_one_incident(settings: Settings, tmp_path: Path) -> None:
    live = settings.model_copy(update={"web_port": free_port(), "console_token": TOKEN})
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    publisher = Publisher(live)
    for n in range(4):
        publisher.send("customers", customer(f"eu-{n}", regions=("eu-west",)))
    for n in range(6):
        publisher.send("customers", customer(f"us-{n}", regions=("us-east",)))
    publisher.flush()
    with WorkerProcess(live, tmp_path / "worker.log", roles="pipeline,web", policy=policy) as worker:
        wait_customers(live, worker)
        now = datetime.now(UTC).replace(microsecond=0)
        publisher.send("raw", raw_signal_from_json(error_alert(now)))
        publisher.close()
        opened = wait_version(live, worker, 1)
        assert (opened.internal, opened.severity, opened.phase) == (True, Severity.P3, Phase.investigating)

        listed = cli(live, "incident", "list")
        assert opened.incident_id in listed.output and "internal" in listed.output
        unknown = cli(live, "incident", "update", "inc_nope", "--phase", "identified")
        assert unknown.exit_code == 1 and "no incident inc_nope" in unknown.output

        sent = cli(live, "incident", "update", opened.incident_id, "--phase", "identified", "--cause", "bad deploy",
                   "--eta", "+2h", "--by", "ana")  # fmt: skip
        assert sent.exit_code == 0, sent.output
        identified = wait_version(live, worker, 2)
        assert (identified.phase, identified.cause, identified.internal) == (Phase.identified, "bad deploy", False)
        assert identified.eta is not None and identified.eta - now >= timedelta(hours=2) - timedelta(minutes=1)
        assert identified.rule == "operator:ana"

        # now customer-visible, targeting reports 4 of 10 active customers affected: 40 % is P1
        reclassified = wait_version(live, worker, 3)
        assert (reclassified.change, reclassified.severity, reclassified.share_affected) == (
            "severity",
            Severity.P1,
            0.4,
        )

        assert http(live, f"/api/incidents/{opened.incident_id}", {"phase": "monitoring"}, token="nope")[0] == 401
        assert http(live, "/api/incidents/inc_nope", {"phase": "monitoring"})[0] == 404
        status, answer = http(live, f"/api/incidents/{opened.incident_id}", {"phase": "paused"})
        assert status == 422 and "phase 'paused'" in answer["error"]
        status, answer = http(live, f"/api/incidents/{opened.incident_id}", {"phase": "monitoring", "by": "bo"})
        assert status == 202 and answer["action"] == "update"
        monitoring = wait_version(live, worker, 4)
        assert (monitoring.phase, monitoring.cause, monitoring.severity) == (
            Phase.monitoring,
            "bad deploy",
            Severity.P1,
        )

        retracted = cli(live, "incident", "update", opened.incident_id, "--false-alarm", "--summary", "probe misfired")
        assert retracted.exit_code == 0, retracted.output
        closed = wait_version(live, worker, 5)
        assert (closed.change, closed.phase, closed.summary) == ("false_alarm", Phase.resolved, "probe misfired")
        again = cli(live, "incident", "update", opened.incident_id, "--phase", "identified")
        assert again.exit_code == 1 and "already resolved" in again.output

        # a command for an incident detection never saw is dead-lettered with the reason
        from forewarn.operator import incident_update, send

        send(live, incident_update("inc_ghost", issued_at=now, issued_by="ana", cause="?"))
        wait_detection_quiet(live, worker.check)
    letters = [decode(m.value(), DeadLetter) for m in read_topic(live, "deadletter")]
    assert [(d.stage, d.reason) for d in letters] == [("operator", "unknown incident 'inc_ghost'")]
    assert [i.version for i in versions(live)] == [1, 2, 3, 4, 5]  # no version was published twice

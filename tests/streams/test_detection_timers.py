"""A group that falls silent still sees time pass: a lone alert nobody resolves becomes
customer-visible once it has lasted ``confirm_after`` (here twenty seconds of real time),
even across a worker restart in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forewarn.config import Settings
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, raw_signal_from_json, wait_until
from scenario_replay import read_incidents

pytestmark = pytest.mark.broker


def test_silent_alert_is_confirmed_by_time_alone(settings: Settings, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  confirm_after: 20s\ngates:\n  default: never\n")
    now = datetime.now(UTC).replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {"alertname": "LedgerSlow", "service": "ledger", "region": "eu-west", "severity": "error"}
    alert = {"status": "firing", "labels": {**labels, "symptom": "latency"}, "annotations": {"summary": "slow"},
             "startsAt": stamp, "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "1ed9e25l0w"}  # fmt: skip
    with WorkerProcess(settings, tmp_path / "worker.log", roles="pipeline", policy=policy) as worker:
        publisher = Publisher(settings)
        publisher.send("raw", raw_signal_from_json({"source": "alertmanager", "received_at": stamp,
                                                    "body": {"version": "4", "alerts": [alert]}}))  # fmt: skip
        publisher.close()
        wait_until(lambda: bool(worker.check() or read_incidents(settings)), 120, "the internal incident")
    assert [i.change for i in read_incidents(settings)] == ["opened"]  # stopped before it lasted 20 s
    with WorkerProcess(settings, tmp_path / "worker.log", roles="pipeline", policy=policy) as worker:

        def confirmed() -> bool:
            worker.check()
            return any(i.change == "confirmed" for i in read_incidents(settings))

        wait_until(confirmed, 120, "the silent alert to be confirmed after the restart")
    versions = sorted(read_incidents(settings), key=lambda i: i.version)
    assert [(i.version, i.change, i.internal) for i in versions] == [(1, "opened", True), (2, "confirmed", False)]
    assert versions[1].updated_at == now + timedelta(seconds=20)  # stamped when it had lasted long enough

"""A maintenance window that overruns, through the real broker: scheduled with the CLI,
replayed signals move event time, completed with the CLI; the service's alerts stay quiet
while the work runs and count again once it is over."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from forewarn.cli import main
from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.process import WorkerProcess
from forewarn.processors.draft import Drafter
from forewarn.processors.draft.times import full_time
from forewarn.publish import Publisher, raw_signal_from_json, read_json_lines, wait_until
from forewarn.schemas.models import Channel, IncidentKind
from scenario_replay import POLICY_FILE, fixture, read_incidents, timeline, wait_detection_quiet

pytestmark = pytest.mark.broker


def replay(settings: Settings, lines: list[dict[str, object]]) -> None:
    publisher = Publisher(settings)
    for line in lines:
        publisher.send("raw", raw_signal_from_json(line), key=b"maintenance_overrun")
    publisher.close()


def test_overrunning_maintenance_is_announced_and_suppresses_alerts(settings: Settings, tmp_path: Path) -> None:
    lines = [line for _, line in read_json_lines(fixture("maintenance_overrun"))]
    before = [line for line in lines if str(line["received_at"]) < "2026-11-23T05:40:00Z"]
    after = lines[len(before) :]
    env = settings.to_env()
    with WorkerProcess(settings, tmp_path / "worker.log", roles="pipeline", policy=POLICY_FILE) as worker:
        scheduled = CliRunner().invoke(
            main,
            ["maintenance", "schedule", "--service", "reports", "--region", "eu-west", "--impact", "degraded",
             "--start", "2026-11-23T02:00:00Z", "--end", "2026-11-23T03:00:00Z",
             "--summary", "Reports database upgrade", "--at", "2026-11-23T00:30:00Z"],
            env=env,
        )  # fmt: skip
        assert scheduled.exit_code == 0, scheduled.output
        window_id = scheduled.output.split(":")[0]
        wait_until(lambda: bool(worker.check() or read_incidents(settings)), 120, "the scheduled notice")
        wait_detection_quiet(settings, worker.check)  # every detection partition holds the window
        replay(settings, before)
        wait_detection_quiet(settings, worker.check)
        done = CliRunner().invoke(main, ["maintenance", "complete", window_id, "--at", "2026-11-23T05:40:00Z"], env=env)
        assert done.exit_code == 0, done.output
        wait_detection_quiet(settings, worker.check)
        replay(settings, after)
        wait_detection_quiet(settings, worker.check)
        listed = CliRunner().invoke(main, ["maintenance", "list"], env=env)
        assert listed.output.strip() == "no maintenance scheduled"

    incidents = read_incidents(settings)
    work = [i for i in incidents if i.kind is IncidentKind.maintenance]
    assert {i.incident_id for i in work} == {window_id}
    rows = [(r[1], r[2], r[3], r[4], r[5], r[7], r[8], r[9]) for r in timeline(work)]
    assert rows == [
        (1, "scheduled", "identified", False, "P3", "00:30", "03:00", "maintenance"),
        (2, "started", "identified", False, "P3", "02:00", "03:00", "maintenance"),
        (3, "overrun", "identified", False, "P3", "02:30", "04:00", "maintenance"),
        (4, "overrun", "identified", False, "P3", "03:30", "05:00", "maintenance"),
        (5, "overrun", "identified", False, "P3", "04:30", "06:00", "maintenance"),
        (6, "update", "identified", False, "P3", "05:00", "06:00", "maintenance,sla_credit"),  # 2 h over
        (7, "overrun", "identified", False, "P3", "05:30", "07:00", "maintenance,sla_credit"),
        (8, "completed", "resolved", False, "P3", "05:40", None, "maintenance,sla_credit"),
    ]
    # scheduled at 00:30, the window starts at 02:00: every version says so, and so does the notice
    starts = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert {(i.opened_at.strftime("%H:%M"), i.window_starts_at) for i in work} == {("00:30", starts)}
    (notice,) = [i for i in work if i.version == 1]
    words = Drafter(Policy(), "https://status.example.com").skeleton(notice, Channel.email, "en")
    assert f"from {full_time(starts, 'UTC', 'en')} to " in words.for_reader(None).text
    # three and a half hours of errors and a critical alert during the work: no incident;
    # the outage at 06:30, after the window closed, is one
    others = [i for i in incidents if i.kind is not IncidentKind.maintenance]
    assert [(r[0], r[1], r[2], r[4], r[7]) for r in timeline(others)] == [
        ("reports|eu-west|outage", 1, "opened", False, "06:30")
    ]

"""`forewarn maintenance list` names each window by when it starts, not when it was scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from forewarn.cli import main
from forewarn.commands import maintenance as command
from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.processors.detect import maintenance as m
from forewarn.schemas.models import Incident, OperatorCommand

AT = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


def scheduled(service: str, starts: datetime) -> Incident:
    order = OperatorCommand(
        command_id=f"c-{service}",
        action="maintenance_schedule",
        issued_at=AT,
        service=service,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
    )
    _, (notice,) = m.schedule(order, Policy())
    return notice


def test_windows_are_listed_by_their_start(monkeypatch: pytest.MonkeyPatch) -> None:
    later, sooner = scheduled("api", AT + timedelta(days=2)), scheduled("reports", AT + timedelta(hours=3))
    by_id = {i.incident_id: i for i in (later, sooner)}  # both scheduled at 00:30
    monkeypatch.setattr(command, "read_incidents", lambda settings: by_id)
    listed = CliRunner().invoke(main, ["maintenance", "list"], env=Settings().to_env())
    assert listed.exit_code == 0, listed.output
    assert [line.split()[3:6] for line in listed.output.splitlines()] == [
        ["2026-11-23", "03:30Z", "ends"],
        ["2026-11-25", "00:30Z", "ends"],
    ]

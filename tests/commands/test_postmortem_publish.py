"""`forewarn postmortem publish` asks detection for the post-mortem version of a P1/P2 (so the
customers who were told hear of it), besides the audit record every transition writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from forewarn.cli import main
from forewarn.commands import postmortem_tracking as command
from forewarn.config import Settings
from forewarn.schemas.models import AuditRecord, OperatorCommand, Record


class Sent:
    def __init__(self, settings: Settings) -> None:
        self.records: list[tuple[str, Record]] = SENT

    def send(self, short_topic: str, record: Record) -> None:
        self.records.append((short_topic, record))

    def close(self) -> None:
        pass


SENT: list[tuple[str, Record]] = []


@pytest.mark.parametrize(("severity", "operator"), [("P1", 1), ("P2", 1), ("P3", 0)])
def test_publishing_a_p1_or_p2_post_mortem_asks_for_its_version(
    monkeypatch: pytest.MonkeyPatch, severity: str, operator: int
) -> None:
    SENT.clear()
    resolved = datetime.now(UTC) - timedelta(days=3)
    monkeypatch.setattr(command, "_rows", lambda settings, sql, params: [("in_review", severity, resolved)])
    monkeypatch.setattr(command, "Publisher", Sent)
    args = ["postmortem", "publish", "inc-1", "--author", "ana", "--url", "https://status.example.com/pm/inc-1"]
    for _ in range(2):
        done = CliRunner().invoke(main, args, env=Settings().to_env())
        assert done.exit_code == 0, done.output
    topics = [t for t, _ in SENT]
    assert topics == ["audit", *["operator"] * operator] * 2
    audit = [r for t, r in SENT if t == "audit"]
    assert isinstance(audit[0], AuditRecord) and audit[0].detail["url"].endswith("/pm/inc-1")
    commands: list[Any] = [r for t, r in SENT if t == "operator"]
    for order in commands:
        assert isinstance(order, OperatorCommand)
        assert (order.action, order.incident_id, order.issued_by) == ("postmortem", "inc-1", "ana")
        assert order.postmortem_url == "https://status.example.com/pm/inc-1"  # the version carries it
    assert len({c.command_id for c in commands}) <= 1  # a re-run is the same command: applied once


def test_a_post_mortem_published_too_late_to_announce_tells_the_person(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two weeks after resolution nobody keeps who was told: no command that could only become a
    dead letter, and the person reads why (the audit row still links it on the status page)."""
    SENT.clear()
    resolved = datetime.now(UTC) - timedelta(days=15)
    monkeypatch.setattr(command, "_rows", lambda settings, sql, params: [("in_review", "P1", resolved)])
    monkeypatch.setattr(command, "Publisher", Sent)
    args = ["postmortem", "publish", "inc-1", "--author", "ana", "--url", "https://status.example.com/pm/inc-1"]
    done = CliRunner().invoke(main, args, env=Settings().to_env())
    assert done.exit_code == 0, done.output
    assert [t for t, _ in SENT] == ["audit"]
    assert "resolved more than 14 days ago" in done.output and "no longer told" in done.output

"""Post-mortem tracking: due times by severity, the state workflow, and the postmortems view."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from forewarn.db.client import Warehouse, open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.processors.postmortem_tracking import PostmortemError, PostmortemState, due_at, transition
from forewarn.schemas.models import Incident, IncidentKind, Phase, Severity
from forewarn.sinks.clickhouse import AuditStore

NOW = datetime.now(UTC).replace(microsecond=0)


def test_due_times_by_severity() -> None:
    assert due_at(Severity.P1, NOW) == NOW + timedelta(hours=48)
    assert due_at(Severity.P2, NOW) == NOW + timedelta(hours=72)
    assert due_at(Severity.P3, NOW) == NOW + timedelta(days=7)
    assert due_at(Severity.P4, NOW) is None


def test_the_workflow_only_moves_forward_and_publishing_needs_a_url() -> None:
    record = transition("inc", PostmortemState.due, PostmortemState.drafting, now=NOW, author="ana")
    assert (record.stage, record.action, record.approver) == ("postmortem", "drafting", "ana")
    with pytest.raises(PostmortemError, match="can move to in_review, published"):
        transition("inc", PostmortemState.drafting, PostmortemState.drafting, now=NOW, author="ana")
    with pytest.raises(PostmortemError, match="needs its public URL"):
        transition("inc", PostmortemState.in_review, PostmortemState.published, now=NOW, author="ana")
    with pytest.raises(PostmortemError, match="already published"):
        transition("inc", PostmortemState.published, PostmortemState.published, now=NOW, author="a", url="https://x")


def resolved(iid: str, severity: Severity, resolved_ago: timedelta, internal: bool = False) -> list[Incident]:
    start, end = NOW - resolved_ago - timedelta(hours=1), NOW - resolved_ago
    base = {
        "incident_id": iid,
        "dedup_key": iid,
        "title": f"{iid} title",
        "service": "payments",
        "region": "eu-west",
        "symptom": "outage",
        "severity": severity,
        "kind": IncidentKind.regional_outage,
        "change": "update",
        "internal": internal,
        "opened_at": start,
        "first_signal_at": start,
    }
    return [
        Incident(version=1, phase=Phase.investigating, updated_at=start, **base),  # type: ignore[arg-type]
        Incident(version=2, phase=Phase.resolved, updated_at=end, resolved_at=end, **base),  # type: ignore[arg-type]
    ]


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        migrate(wh)
        store = AuditStore(wh)
        store.write(
            [
                *resolved("p1-late", Severity.P1, timedelta(hours=50)),
                *resolved("p2-published", Severity.P2, timedelta(hours=80)),
                *resolved("p3-fresh", Severity.P3, timedelta(hours=1)),
                *resolved("p4", Severity.P4, timedelta(hours=1)),
                *resolved("p1-internal", Severity.P1, timedelta(hours=1), internal=True),
                transition("p2-published", PostmortemState.due, PostmortemState.drafting, now=NOW, author="a"),
                transition(
                    "p2-published",
                    PostmortemState.drafting,
                    PostmortemState.published,
                    now=NOW + timedelta(seconds=1),
                    author="a",
                    url="https://blog.example/pm",
                ),
            ]
        )
        yield wh


def test_postmortems_view(warehouse: Warehouse) -> None:
    rows = warehouse.query(
        "SELECT incident_id, severity, state, overdue, url, publish_on_status_page, due_at - resolved_at "
        "FROM postmortems ORDER BY incident_id"
    )
    got = {r[0]: r[1:] for r in rows}
    assert set(got) == {"p1-late", "p2-published", "p3-fresh"}  # P4 and internal incidents owe none
    assert got["p1-late"][:5] == ("P1", "due", True, None, True)
    assert got["p2-published"][:5] == ("P2", "published", False, "https://blog.example/pm", True)
    assert got["p3-fresh"][:5] == ("P3", "due", False, None, False)


def test_status_command_lists_what_is_owed(warehouse: Warehouse, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from forewarn.cli import main

    warehouse.close()  # the CLI opens the store itself, as an analyst's shell would
    runner = CliRunner(env={"FOREWARN_DATA_DIR": str(tmp_path), "FOREWARN_CLICKHOUSE": f"chdb://{tmp_path / 'ch'}"})
    everything = runner.invoke(main, ["postmortem", "status"], catch_exceptions=False)
    lines = everything.output.splitlines()
    assert lines[0].startswith("OVERDUE p1-late  P1  due") and len(lines) == 3
    assert "https://blog.example/pm" in everything.output
    late = runner.invoke(main, ["postmortem", "status", "--overdue"], catch_exceptions=False)
    assert [line.split()[1] for line in late.output.splitlines()] == ["p1-late"]

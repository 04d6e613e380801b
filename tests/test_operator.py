from datetime import UTC, datetime, timedelta

import pytest

from factories import T0, event
from forewarn.operator import (
    CommandError,
    incident_update,
    latest,
    maintenance_action,
    maintenance_schedule,
    parse_when,
)
from forewarn.policy import Policy
from forewarn.processors.correlate import correlate
from forewarn.schemas.models import Phase


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14:30", datetime(2026, 11, 23, 14, 30, tzinfo=UTC)),
        ("08:15", datetime(2026, 11, 24, 8, 15, tzinfo=UTC)),  # already past today: tomorrow
        ("+90m", T0 + timedelta(minutes=90)),
        ("+2h", T0 + timedelta(hours=2)),
        ("2026-11-23T16:00:00Z", datetime(2026, 11, 23, 16, tzinfo=UTC)),
        ("2026-11-23T17:00:00+01:00", datetime(2026, 11, 23, 16, tzinfo=UTC)),
    ],
)
def test_when(text: str, expected: datetime) -> None:
    assert parse_when(text, T0, what="--eta") == expected


@pytest.mark.parametrize("text", ["25:00", "soon", "14h30", ""])
def test_unreadable_when_names_the_option(text: str) -> None:
    with pytest.raises(CommandError, match="--eta"):
        parse_when(text, T0, what="--eta")


def test_same_update_same_command_id() -> None:
    a = incident_update("inc_1", issued_at=T0, issued_by="ana", phase=Phase.identified, cause="disk")
    b = incident_update("inc_1", issued_at=T0, issued_by="ana", phase=Phase.identified, cause="disk")
    c = incident_update("inc_1", issued_at=T0, issued_by="ana", phase=Phase.identified, cause="DNS")
    assert a.command_id == b.command_id != c.command_id
    assert (a.action, a.incident_id, a.phase, a.cause) == ("update", "inc_1", Phase.identified, "disk")
    retraction = incident_update("inc_1", issued_at=T0, issued_by="ana", false_alarm=True)
    assert retraction.action == "false_alarm"


def test_empty_or_past_updates_are_refused() -> None:
    with pytest.raises(CommandError, match="nothing to update"):
        incident_update("inc_1", issued_at=T0, issued_by="ana")
    with pytest.raises(CommandError, match="in the past"):
        incident_update("inc_1", issued_at=T0, issued_by="ana", eta=T0 - timedelta(hours=1))


def test_maintenance_commands() -> None:
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    scheduled = maintenance_schedule(
        service="api", starts_at=start, ends_at=end, impact="outage", issued_at=T0, issued_by="ana"
    )
    assert scheduled.maintenance_id is not None and scheduled.maintenance_id.startswith("mnt_")
    with pytest.raises(CommandError, match="not after start"):
        maintenance_schedule(service="api", starts_at=end, ends_at=start, impact="outage", issued_at=T0, issued_by="a")
    with pytest.raises(CommandError, match="impact 'total'"):
        maintenance_schedule(service="api", starts_at=start, ends_at=end, impact="total", issued_at=T0, issued_by="a")
    done = maintenance_action("complete", scheduled.maintenance_id, issued_at=end, issued_by="ana")
    assert (done.action, done.completed_at) == ("maintenance_complete", end)
    with pytest.raises(CommandError, match="new end"):
        maintenance_action("extend", scheduled.maintenance_id, issued_at=end, issued_by="ana")


def test_latest_version_wins_whatever_the_read_order() -> None:
    first = correlate(None, event(), Policy()).published[0]
    second = first.model_copy(update={"version": 2, "phase": Phase.identified})
    assert latest([second, first]) == {first.incident_id: second}

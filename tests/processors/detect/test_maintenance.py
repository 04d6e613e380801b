from datetime import datetime, timedelta

import pytest

from factories import T0
from forewarn.policy import Policy
from forewarn.processors.detect import maintenance as m
from forewarn.processors.detect.state import to_ms
from forewarn.schemas.models import IncidentKind, OperatorCommand, Phase, Severity

POLICY = Policy()
START, END = T0 + timedelta(hours=2), T0 + timedelta(hours=3)


def scheduling(**fields: object) -> OperatorCommand:
    values: dict[str, object] = {
        "command_id": "c1",
        "action": "maintenance_schedule",
        "issued_at": T0,
        "service": "api",
        "starts_at": START,
        "ends_at": END,
        "impact": "outage",
        "summary": "Database upgrade",
    }
    values.update(fields)
    return OperatorCommand(**values)  # type: ignore[arg-type]


def hhmm(at: datetime | None) -> str | None:
    return None if at is None else at.strftime("%H:%M")


def timeline(versions: list) -> list[tuple[int, str, str, str | None, str | None]]:  # type: ignore[type-arg]
    return [(i.version, i.change, hhmm(i.updated_at), hhmm(i.eta), ",".join(i.flags)) for i in versions]


def test_schedule_start_overrun_credit_and_completion() -> None:
    plan, versions = m.schedule(scheduling(), POLICY)
    first = versions[0]
    assert (first.kind, first.severity, first.phase, first.internal) == (
        IncidentKind.maintenance,
        Severity.P2,
        Phase.identified,
        False,
    )
    assert first.incident_id == plan.maintenance_id and first.title == "Scheduled maintenance: Api"
    versions += m.advance(plan, T0 + timedelta(hours=1), POLICY)  # nothing due yet
    versions += m.advance(plan, T0 + timedelta(hours=6, minutes=10), POLICY)
    versions += m.complete(plan, T0 + timedelta(hours=6, minutes=20), POLICY)
    assert timeline(versions) == [
        (1, "scheduled", "09:00", "12:00", "maintenance"),
        (2, "started", "11:00", "12:00", "maintenance"),
        (3, "overrun", "11:30", "13:00", "maintenance"),  # still running 30 min before the end
        (4, "overrun", "12:30", "14:00", "maintenance"),
        (5, "overrun", "13:30", "15:00", "maintenance"),
        (6, "update", "14:00", "15:00", "maintenance,sla_credit"),  # 2 h past the planned end
        (7, "overrun", "14:30", "16:00", "maintenance,sla_credit"),
        (8, "completed", "15:20", None, "maintenance,sla_credit"),
    ]
    assert versions[-1].phase is Phase.resolved and versions[-1].resolved_at == T0 + timedelta(hours=6, minutes=20)


def test_coarse_or_fine_ticks_give_the_same_versions() -> None:
    coarse, fine = m.schedule(scheduling(), POLICY)[0], m.schedule(scheduling(), POLICY)[0]
    a = m.advance(coarse, T0 + timedelta(hours=5), POLICY)
    b = [v for minute in [*range(0, 300, 7), 300] for v in m.advance(fine, T0 + timedelta(minutes=minute), POLICY)]
    assert a == b


def test_on_time_completion_has_no_credit_and_cancel_before_start() -> None:
    plan, _ = m.schedule(scheduling(), POLICY)
    (started, done) = m.complete(plan, START + timedelta(minutes=20), POLICY)
    assert (started.change, done.change, done.flags) == ("started", "completed", ["maintenance"])
    with pytest.raises(m.MaintenanceError, match="already completed"):
        m.complete(plan, END, POLICY)
    other, _ = m.schedule(scheduling(), POLICY)
    (cancelled,) = m.cancel(other, T0 + timedelta(minutes=5), POLICY)
    assert (cancelled.change, cancelled.phase) == ("cancelled", Phase.resolved)
    assert m.broadcast(other, POLICY).impact == "cancelled"


def test_operator_revised_end() -> None:
    plan, _ = m.schedule(scheduling(), POLICY)
    *_, revised = m.extend(plan, END + timedelta(hours=1), START + timedelta(minutes=10), POLICY)
    assert (revised.change, revised.eta) == ("overrun", END + timedelta(hours=1))
    assert [v.change for v in m.advance(plan, END, POLICY)] == []  # the next notice is 30 min before 13:00


def test_every_version_carries_the_window_start_not_the_scheduling_time() -> None:
    """opened_at is when the work was scheduled (09:00); customers are told the window (11:00)."""
    plan, versions = m.schedule(scheduling(), POLICY)
    versions += m.extend(plan, END - timedelta(minutes=15), T0 + timedelta(minutes=30), POLICY)  # before it began
    versions += m.advance(plan, T0 + timedelta(hours=6), POLICY)
    versions += m.complete(plan, T0 + timedelta(hours=6, minutes=20), POLICY)
    other, cancelled = m.schedule(scheduling(), POLICY)
    cancelled += m.cancel(other, T0 + timedelta(minutes=5), POLICY)
    assert len(versions) > 5
    assert {(v.opened_at, v.window_starts_at) for v in [*versions, *cancelled]} == {(T0, START)}


def test_a_plan_kept_from_before_the_window_start_field_gains_it() -> None:
    plan, _ = m.schedule(scheduling(), POLICY)
    plan.incident = plan.incident.model_copy(update={"window_starts_at": None})  # as a stored plan reads it
    (started,) = m.advance(plan, START, POLICY)
    assert started.window_starts_at == START


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ends_at": START}, "is not after starts_at"),
        ({"impact": "apocalyptic"}, "impact 'apocalyptic'"),
        ({"service": None}, "needs service"),
    ],
)
def test_bad_schedules_are_refused(fields: dict[str, object], reason: str) -> None:
    with pytest.raises(m.MaintenanceError, match=reason):
        m.schedule(scheduling(**fields), POLICY)


def test_partitions_suppress_from_the_broadcast_window() -> None:
    plan, _ = m.schedule(scheduling(region="eu-west"), POLICY)
    window = m.window_of(m.broadcast(plan, POLICY))
    assert m.suppressed([window], "api", "eu-west", to_ms(START))
    assert not m.suppressed([window], "api", "us-east", to_ms(START))
    assert not m.suppressed([window], "db", "eu-west", to_ms(START))
    assert not m.suppressed([window], "api", "eu-west", to_ms(START) - 1)
    assert m.suppressed([window], "api", "eu-west", to_ms(END + timedelta(hours=11)))  # overrun: still quiet
    m.complete(plan, END, POLICY)
    done = m.window_of(m.broadcast(plan, POLICY))
    assert done.finished and not m.suppressed([done], "api", "eu-west", to_ms(END))


def test_ticks_at_most_once_per_interval_and_only_for_unfinished_windows() -> None:
    plan, _ = m.schedule(scheduling(), POLICY)
    window = m.window_of(m.broadcast(plan, POLICY))
    every = timedelta(minutes=1)
    assert m.due_ticks([window], None, 0, every) == [plan.maintenance_id]
    assert m.due_ticks([window], 0, 59_999, every) == []
    assert m.due_ticks([window], 0, 60_000, every) == [plan.maintenance_id]
    assert m.due_ticks([window.model_copy(update={"finished": True})], None, 0, every) == []

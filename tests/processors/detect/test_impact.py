from datetime import timedelta

from factories import T0
from forewarn.policy import Policy
from forewarn.processors.detect.detector import Detector
from forewarn.processors.detect.impact import Tally, add_report, complete_share, note_version
from forewarn.processors.detect.state import GroupState
from forewarn.schemas.models import ImpactReport

from ._support import alert, batch


def report(partition: int, affected: int, active: int, version: int = 1, partitions: int = 2) -> ImpactReport:
    return ImpactReport(
        incident_id="inc_1",
        incident_version=version,
        partition=partition,
        partitions=partitions,
        affected=affected,
        active_total=active,
        computed_at=T0 + timedelta(days=300),  # wall clock of targeting: never used as event time
    )


def opened_incident():  # type: ignore[no-untyped-def]
    return Detector(Policy()).apply_batch(GroupState(), batch(events=[alert()])).incidents[0]


def test_share_is_forwarded_once_every_partition_reported_and_route_known() -> None:
    tally = Tally()
    add_report(tally, report(0, 10, 100))
    add_report(tally, report(1, 20, 100))
    assert complete_share(tally, "inc_1") is None  # route not known yet
    note_version(tally, opened_incident(), "payments|eu-west")
    command = complete_share(tally, "inc_1")
    assert command is not None
    assert (command.action, command.affected, command.active_total) == ("impact", 30, 200)
    assert command.issued_at == T0  # the incident's event time
    assert complete_share(tally, "inc_1") is None  # once per version


def test_partial_and_outdated_reports_wait() -> None:
    tally = Tally()
    note_version(tally, opened_incident(), "payments|eu-west")
    add_report(tally, report(0, 10, 100, version=2))
    assert complete_share(tally, "inc_1") is None
    add_report(tally, report(1, 99, 100, version=1))  # an older version's answer
    assert complete_share(tally, "inc_1") is None
    add_report(tally, report(1, 5, 100, version=2))
    add_report(tally, report(1, 5, 100, version=2))  # duplicate delivery
    command = complete_share(tally, "inc_1")
    assert command is not None and (command.affected, command.active_total) == (15, 200)


def test_closed_incidents_are_not_reclassified() -> None:
    tally = Tally()
    resolved = opened_incident().model_copy(update={"resolved_at": T0})
    note_version(tally, resolved, "payments|eu-west")
    add_report(tally, report(0, 1, 1, partitions=1))
    assert complete_share(tally, "inc_1") is None

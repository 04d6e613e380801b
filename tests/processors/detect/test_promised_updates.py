"""A promised "next update" is kept by time alone: a ``progress`` version at the promised time.

Customers told a version were promised the next update (the cadence's ``Note.of``); when no
later version came by then, detection publishes one, stamped at the promise, and targeting's
cadence lets it through as that promised update — for each customer at their own promise.
"""

from __future__ import annotations

from datetime import timedelta

from factories import T0
from forewarn.policy import Policy
from forewarn.processors.cadence import Note, Told, Verdict, decide
from forewarn.processors.detect.state import MAX_PROMISES
from forewarn.schemas.models import Incident, OperatorCommand, Phase

from ._support import Harness, alert, at_ms, batch

RULE = Policy().send_policy.default


def clock(minute: float) -> OperatorCommand:
    return OperatorCommand(command_id=f"clock{minute}", action="clock", issued_at=T0 + timedelta(minutes=minute))


def update(incident_id: str, minute: float, **fields: object) -> OperatorCommand:
    return OperatorCommand(
        command_id=f"u{minute}",
        action="update",
        issued_at=T0 + timedelta(minutes=minute),
        issued_by="oncall",
        incident_id=incident_id,
        **fields,  # type: ignore[arg-type]
    )


def opened_outage() -> tuple[Harness, Incident]:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert(source_ref="fp1")]))  # a critical outage alert: visible at once, P1
    assert not opened.internal and opened.next_update_at == T0 + timedelta(minutes=30)
    return h, opened


def told(incident: Incident) -> Told:
    return Told(incident.version, Note.of(incident, RULE), 1)


def minutes(incidents: list[Incident]) -> list[tuple[str, float]]:
    return [(i.change, (i.updated_at - T0) / timedelta(minutes=1)) for i in incidents]


def test_a_steady_outage_gets_the_promised_update_when_it_is_due() -> None:
    h, opened = opened_outage()
    assert h.detector.next_due(h.state) == at_ms(30)
    assert h.detector.apply_command(h.state, clock(29)).incidents == []
    (progress,) = h.detector.apply_command(h.state, clock(31)).incidents
    assert (progress.version, progress.change, progress.phase, progress.internal) == (
        2,
        "progress",
        Phase.investigating,
        False,
    )
    assert progress.updated_at == T0 + timedelta(minutes=30)  # at the promise, not when the clock said so
    assert progress.next_update_at == T0 + timedelta(minutes=60)
    assert decide(told(opened), progress, RULE) is Verdict.promised  # targeting sends it
    assert h.detector.next_due(h.state) == at_ms(60)


def test_each_customer_gets_the_update_at_their_own_promise() -> None:
    h, opened = opened_outage()
    (cause,) = h.detector.apply_command(h.state, update(opened.incident_id, 10, cause="disk full")).incidents
    # the cause is no news: customers told at 09:00 are still owed 09:30, those first told at 09:10 09:40
    assert decide(told(opened), cause, RULE) is Verdict.too_soon
    assert h.detector.next_due(h.state) == at_ms(30)
    (at30,) = h.detector.apply_command(h.state, clock(30)).incidents
    assert decide(told(opened), at30, RULE) is Verdict.promised
    assert decide(told(cause), at30, RULE) is Verdict.too_soon
    assert h.detector.next_due(h.state) == at_ms(40)
    (at40,) = h.detector.apply_command(h.state, clock(40)).incidents
    assert decide(told(cause), at40, RULE) is Verdict.promised
    assert decide(told(at30), at40, RULE) is Verdict.too_soon  # no one hears more often than the cadence
    assert h.detector.next_due(h.state) == at_ms(60)


def test_a_sooner_eta_is_the_promise() -> None:
    h, opened = opened_outage()
    h.detector.apply_command(h.state, update(opened.incident_id, 1, eta=T0 + timedelta(minutes=20)))
    assert h.detector.next_due(h.state) == at_ms(20)
    assert minutes(h.detector.apply_command(h.state, clock(25)).incidents) == [("progress", 20)]


def test_a_long_silence_publishes_one_current_update_not_a_burst() -> None:
    h, _ = opened_outage()
    assert minutes(h.detector.apply_command(h.state, clock(100)).incidents) == [("progress", 90)]
    assert h.detector.next_due(h.state) == at_ms(120)


def test_signals_moving_time_keep_promises_too() -> None:
    h, _ = opened_outage()
    repeat = alert(source_ref="fp1").model_copy(update={"received_at": T0 + timedelta(minutes=45)})
    assert minutes(h.feed(batch(events=[repeat]))) == [("progress", 30)]


def test_internal_and_resolved_incidents_promise_nothing() -> None:
    h = Harness()
    (internal,) = h.feed(batch(events=[alert(severity="error", symptom="latency", source_ref="am-1")]))
    assert internal.internal and h.detector.next_due(h.state) == at_ms(5)  # only confirmation is due
    (confirmed,) = h.detector.apply_command(h.state, clock(5)).incidents
    assert confirmed.change == "confirmed" and h.detector.next_due(h.state) == at_ms(5 + 30)  # P1: 30 min
    (resolved,) = h.feed(
        batch(events=[alert("resolved", minute=50, severity="error", symptom="latency", source_ref="am-1")])
    )
    assert resolved.phase is Phase.resolved and h.detector.next_due(h.state) is None
    assert h.detector.apply_command(h.state, clock(300)).incidents == []


def test_promises_kept_are_bounded() -> None:
    h, opened = opened_outage()
    for minute in range(1, 41):
        h.detector.apply_command(h.state, update(opened.incident_id, minute, cause=f"cause {minute}"))
    (track,) = h.state.tracks.values()
    assert len(track.promises) == MAX_PROMISES and track.promises == sorted(track.promises)
    assert track.promises[0] > at_ms(40) and track.promises[-1] == at_ms(70)  # the latest promise is never lost


def test_replays_are_exact() -> None:
    def run() -> list[Incident]:
        h, opened = opened_outage()
        out = [opened]
        for command in (clock(31), update(opened.incident_id, 35, cause="disk full"), clock(100), clock(400)):
            out += h.detector.apply_command(h.state, command).incidents
        return out

    first, again = run(), run()
    assert [i.model_dump_json() for i in first] == [i.model_dump_json() for i in again]
    assert minutes(first) == [
        ("opened", 0),
        ("progress", 30),
        ("update", 35),  # owes 10:00 to those told at 09:30, 10:05 to those told now
        ("progress", 90),  # both passed in one silence (60 → 90 → 120): one version at the last due
        ("update", 240),  # flagged an extended outage: 15 min from here
        ("progress", 390),
    ]
    assert "extended_outage" in first[-1].flags

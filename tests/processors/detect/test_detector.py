import math
from datetime import timedelta

import pytest

from factories import T0
from forewarn.policy import Policy, ServicePolicy
from forewarn.policy_rules import RulesPolicy, Thresholds
from forewarn.processors.detect.detector import BadBatch, UnknownIncident
from forewarn.processors.detect.maintenance import Window
from forewarn.processors.detect.state import MAX_CLOSED, MAX_OWED
from forewarn.schemas.models import Incident, IncidentKind, OperatorCommand, Phase, SampleRun, Severity

from ._support import Harness, alert, at_ms, batch, every_minute, run

SLOW, FAST = 2000.0, 200.0


def latency(values: list[float], start: int = 0, per_minute: int = 2) -> SampleRun:
    return run("api", "latency_p99_ms", every_minute(values, start, per_minute))


def test_breaching_windows_open_after_n_and_resolve_after_m_clean() -> None:
    h = Harness()
    h.feed(batch(runs=[latency([FAST] * 3 + [SLOW] * 10 + [FAST] * 6)]))
    assert h.timeline() == [
        ("api|latency", 1, "opened", "investigating", True, "09:05"),  # 2nd slow window closed
        ("api|latency", 2, "confirmed", "investigating", False, "09:08"),  # slow for 5 minutes
        ("api|latency", 3, "resolved", "resolved", False, "09:16"),  # 3rd clean window closed
    ]
    first = h.published[0]
    assert first.first_signal_at == T0 + timedelta(minutes=3)
    assert first.dedup_key == "api|eu-west|latency" and first.rule == "latency_p99_ms > 1000.0"


def test_one_breaching_window_opens_nothing() -> None:
    h = Harness()
    assert h.feed(batch(runs=[latency([FAST, SLOW, FAST, SLOW, FAST, FAST])])) == []


def test_flapping_signal_makes_one_incident() -> None:
    h = Harness()
    flapping = [SLOW, SLOW, FAST, SLOW, FAST, FAST, SLOW, SLOW, FAST, SLOW, FAST, FAST, SLOW] + [FAST] * 5
    h.feed(batch(runs=[latency(flapping)]))
    assert [(t[1], t[2]) for t in h.timeline()] == [(1, "opened"), (2, "confirmed"), (3, "resolved")]
    assert len({i.incident_id for i in h.published}) == 1


def test_false_positive_stays_internal_from_open_to_close() -> None:
    h = Harness()
    h.feed(batch(runs=[latency([FAST, SLOW, SLOW, SLOW, FAST, FAST, FAST, FAST, FAST])]))
    assert h.timeline() == [
        ("api|latency", 1, "opened", "investigating", True, "09:03"),
        ("api|latency", 2, "resolved", "resolved", True, "09:07"),
    ]


def test_critical_outage_alert_is_customer_visible_at_once() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert(severity="critical", symptom="outage")]))
    assert (opened.internal, opened.severity, opened.kind) == (False, Severity.P1, IncidentKind.regional_outage)


def test_error_alert_waits_for_a_second_signal() -> None:
    h = Harness()
    h.feed(batch(events=[alert(severity="error", symptom="error_rate", source_ref="am-1")]))
    h.feed(batch(events=[alert(minute=1, severity="error", symptom="error_rate", source_ref="dd-7", source="datadog")]))
    assert h.timeline() == [
        ("payments|error_rate", 1, "opened", "investigating", True, "09:00"),
        ("payments|error_rate", 2, "confirmed", "investigating", False, "09:01"),
    ]


def test_alert_still_firing_after_confirm_after_is_confirmed() -> None:
    h = Harness()
    opening = alert(severity="error", symptom="error_rate", source_ref="am-1")
    h.feed(batch(events=[opening]))
    repeat = opening.model_copy(update={"received_at": T0 + timedelta(minutes=7)})  # Alertmanager repeat
    h.feed(batch(events=[repeat]))
    assert [(t[1], t[2], t[5]) for t in h.timeline()] == [(1, "opened", "09:00"), (2, "confirmed", "09:05")]


def test_repeated_and_duplicate_signals_never_broadcast_again() -> None:
    h = Harness()
    first = alert(source_ref="fp1")
    h.feed(batch(events=[first]))
    assert h.feed(batch(events=[first, alert(minute=5, source_ref="fp1"), first])) == []
    track = next(iter(h.state.tracks.values()))
    assert track.incident.version == 1 and len(track.incident.signal_ids) == 2
    assert h.outcomes[-1].duplicates == 2


def test_pagerduty_ack_identifies_and_resolve_closes() -> None:
    h = Harness()
    ref = "payments|eu-west|outage"
    h.feed(batch(events=[alert(source="pagerduty", source_ref=ref)]))
    h.feed(batch(events=[alert("acknowledged", minute=4, source="pagerduty", source_ref=ref, severity="info")]))
    h.feed(batch(events=[alert("acknowledged", minute=6, source="pagerduty", source_ref=ref, severity="info")]))
    h.feed(batch(events=[alert("resolved", minute=30, source="pagerduty", source_ref=ref, severity="info")]))
    assert [(t[1], t[2], t[3]) for t in h.timeline()] == [
        (1, "opened", "investigating"),
        (2, "phase", "identified"),
        (3, "resolved", "resolved"),
    ]
    assert [i.version for i in h.published] == sorted(i.version for i in h.published)
    assert h.published[-1].resolved_at == T0 + timedelta(minutes=30)
    # the first acknowledge is the one that counts; the re-ack at minute 6 does not move it
    assert [i.acknowledged_at for i in h.published] == [None, T0 + timedelta(minutes=4), T0 + timedelta(minutes=4)]


def test_an_acknowledge_with_no_open_incident_publishes_nothing_and_is_counted() -> None:
    h = Harness()
    ref = "payments|eu-west|outage"
    assert h.feed(batch(events=[alert("acknowledged", minute=1, source="pagerduty", source_ref=ref)])) == []
    assert h.outcomes[-1].unmatched_acks == 1
    h.feed(batch(events=[alert(minute=2, source="pagerduty", source_ref=ref)]))
    h.feed(batch(events=[alert("acknowledged", minute=3, source="pagerduty", source_ref=ref)]))
    assert h.outcomes[-1].unmatched_acks == 0  # this one found its incident
    assert [(t[2], t[3]) for t in h.timeline()] == [("opened", "investigating"), ("phase", "identified")]


def test_an_operator_taking_the_incident_on_stamps_acknowledged_at_once() -> None:
    h = Harness()
    ref = "payments|eu-west|outage"
    (opened,) = h.feed(batch(events=[alert(source="pagerduty", source_ref=ref)]))
    assert opened.acknowledged_at is None
    (cause,) = h.detector.apply_command(h.state, command(opened.incident_id, 2, cause="bad deploy")).incidents
    assert cause.acknowledged_at is None  # a note without a phase is not taking it on
    (identified,) = h.detector.apply_command(h.state, command(opened.incident_id, 5, phase=Phase.identified)).incidents
    assert identified.acknowledged_at == T0 + timedelta(minutes=5)
    # the page acknowledged later changes nothing: no version, the operator's time stays
    assert h.feed(batch(events=[alert("acknowledged", minute=7, source="pagerduty", source_ref=ref)])) == []
    (monitoring,) = h.detector.apply_command(h.state, command(opened.incident_id, 9, phase=Phase.monitoring)).incidents
    assert monitoring.acknowledged_at == T0 + timedelta(minutes=5)


def test_an_operator_resolving_straight_away_stamps_acknowledged_at() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert()]))
    (resolved,) = h.detector.apply_command(h.state, command(opened.incident_id, 8, phase=Phase.resolved)).incidents
    assert (resolved.phase, resolved.acknowledged_at) == (Phase.resolved, T0 + timedelta(minutes=8))


def test_an_acknowledge_past_investigating_rides_on_the_next_version() -> None:
    """Identified without anyone acknowledging (here: set directly, as a maintenance window
    opens identified): the ack publishes nothing, the next version carries its time."""
    h = Harness()
    ref = "payments|eu-west|outage"
    h.feed(batch(events=[alert(source="pagerduty", source_ref=ref)]))
    track = next(iter(h.state.tracks.values()))
    track.incident = track.incident.model_copy(update={"phase": Phase.identified})
    assert h.feed(batch(events=[alert("acknowledged", minute=3, source="pagerduty", source_ref=ref)])) == []
    (resolved,) = h.feed(batch(events=[alert("resolved", minute=20, source="pagerduty", source_ref=ref)]))
    assert resolved.acknowledged_at == T0 + timedelta(minutes=3)


def test_alertmanager_resolves_when_its_last_alert_resolves() -> None:
    h = Harness()
    h.feed(batch(events=[alert(source_ref="fp1"), alert(minute=1, source_ref="fp2")]))
    assert h.feed(batch(events=[alert("resolved", minute=10, source_ref="fp1")])) == []
    (closed,) = h.feed(batch(events=[alert("resolved", minute=12, source_ref="fp2")]))
    assert closed.phase is Phase.resolved and closed.version == 2


def test_stale_firing_of_a_resolved_alert_opens_nothing() -> None:
    h = Harness()
    h.feed(batch(events=[alert("resolved", minute=10, source_ref="fp1")]))
    assert h.feed(batch(events=[alert(minute=0, source_ref="fp1")])) == []
    assert len(h.feed(batch(events=[alert(minute=20, source_ref="fp1")]))) == 1  # it fired again later


def test_alert_and_metric_agree_then_both_must_clear() -> None:
    h = Harness()
    error_alert = alert(severity="error", symptom="error_rate", source_ref="am-err", service="api")
    errors = run("api", "error_rate", every_minute([0.2] * 6 + [0.01] * 5, per_minute=2), after_events=1)
    h.feed(batch(events=[error_alert], runs=[errors]))
    changes = [t[2] for t in h.timeline()]
    assert changes == ["opened", "confirmed"]  # the metric agreeing is the second signal
    assert h.published[-1].updated_at == T0 + timedelta(minutes=2)
    assert h.feed(batch(runs=[run("api", "error_rate", every_minute([0.01] * 3, start=11))])) == []  # alert firing
    (closed,) = h.feed(
        batch(events=[alert("resolved", minute=15, source_ref="am-err", service="api", symptom="error_rate")])
    )
    assert closed.change == "resolved"


def test_availability_collapse_is_a_p1_regional_outage_and_below_slo_an_sla_breach() -> None:
    policy = Policy(rules=RulesPolicy(defaults=Thresholds(availability_pct=99.0), plan_slo_pct={"pro": 99.9}))
    h = Harness(policy)
    h.feed(batch(runs=[run("api", "availability", every_minute([0.0] * 3))]))
    (opened,) = h.feed(batch(runs=[run("api", "availability", every_minute([0.0] * 2, start=3))]))
    assert (opened.severity, opened.kind, opened.flags) == (
        Severity.P1,
        IncidentKind.sla_breach,
        ["outage", "sla_breach"],
    )
    h2 = Harness(Policy(services={"api": ServicePolicy(declared_share=0.05)}))
    (degraded,) = h2.feed(batch(runs=[run("api", "availability", every_minute([0.95] * 4))]))
    assert (degraded.severity, degraded.kind, degraded.flags) == (Severity.P3, IncidentKind.regional_outage, [])


def command(incident_id: str, minute: float, **fields: object) -> OperatorCommand:
    return OperatorCommand(
        command_id=f"c{minute}",
        action=str(fields.pop("action", "update")),
        issued_at=T0 + timedelta(minutes=minute),
        issued_by="oncall",
        incident_id=incident_id,
        **fields,  # type: ignore[arg-type]
    )


def test_operator_sets_phase_cause_eta_and_resolves() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert()]))
    eta = T0 + timedelta(hours=2)
    outcome = h.detector.apply_command(
        h.state, command(opened.incident_id, 10, phase=Phase.identified, cause="bad deploy", eta=eta)
    )
    (identified,) = outcome.incidents
    assert (identified.version, identified.change, identified.phase) == (2, "phase", Phase.identified)
    assert (identified.cause, identified.eta, identified.rule) == ("bad deploy", eta, "operator:oncall")
    assert identified.next_update_at == T0 + timedelta(minutes=40)  # P1 cadence: 30 min
    assert identified.acknowledged_at == T0 + timedelta(minutes=10)  # no page acknowledged: the operator's word
    (monitoring,) = h.detector.apply_command(h.state, command(opened.incident_id, 20, phase=Phase.monitoring)).incidents
    assert monitoring.phase is Phase.monitoring and monitoring.cause == "bad deploy"
    (resolved,) = h.detector.apply_command(h.state, command(opened.incident_id, 30, phase=Phase.resolved)).incidents
    assert (resolved.version, resolved.phase, resolved.resolved_at) == (4, Phase.resolved, T0 + timedelta(minutes=30))
    with pytest.raises(UnknownIncident):
        h.detector.apply_command(h.state, command(opened.incident_id, 31, phase=Phase.identified))
    assert h.feed(batch(events=[alert(minute=0)])) == []  # the repeat of the closed alert stays closed


def test_operator_update_confirms_an_internal_incident() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert(severity="error", symptom="latency")]))
    assert opened.internal
    (updated,) = h.detector.apply_command(h.state, command(opened.incident_id, 2, cause="cache")).incidents
    assert (updated.change, updated.internal) == ("update", False)


def test_false_alarm_closes_with_its_own_change() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert()]))
    (retracted,) = h.detector.apply_command(
        h.state, command(opened.incident_id, 3, action="false_alarm", summary="synthetic check misfired")
    ).incidents
    assert (retracted.change, retracted.phase, retracted.internal) == ("false_alarm", Phase.resolved, False)
    assert "false_alarm" in retracted.flags and retracted.summary == "synthetic check misfired"


def test_a_resolved_incident_can_still_be_called_a_false_alarm() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert(source_ref="fp1")]))
    h.feed(batch(events=[alert("resolved", minute=3, source_ref="fp1")]))
    (retracted,) = h.detector.apply_command(h.state, command(opened.incident_id, 30, action="false_alarm")).incidents
    assert (retracted.version, retracted.change, retracted.phase) == (3, "false_alarm", Phase.resolved)
    assert retracted.updated_at == T0 + timedelta(minutes=30) and h.state.tracks == {}
    assert retracted.resolved_at == T0 + timedelta(minutes=3)  # when it ended stays true
    with pytest.raises(UnknownIncident):  # only a false alarm reaches back; other updates do not
        h.detector.apply_command(h.state, command(opened.incident_id, 31, cause="x"))


def test_impact_share_reclassifies_only_when_severity_changes() -> None:
    h = Harness(Policy(services={"payments": ServicePolicy(declared_share=0.05)}))
    (opened,) = h.feed(batch(events=[alert(severity="critical", symptom="error_rate", flags=["security"])]))
    assert opened.severity is Severity.P1  # security flag: P1 whatever the share
    h2 = Harness(Policy(services={"payments": ServicePolicy(declared_share=0.05)}))
    (opened,) = h2.feed(batch(events=[alert(severity="error", symptom="error_rate")]))
    assert opened.severity is Severity.P3
    impact = command(opened.incident_id, 1, action="impact", affected=30, active_total=100)
    (raised,) = h2.detector.apply_command(h2.state, impact).incidents
    assert (raised.change, raised.severity, raised.share_affected) == ("severity", Severity.P1, 0.3)
    same = command(opened.incident_id, 2, action="impact", affected=40, active_total=100)
    assert h2.detector.apply_command(h2.state, same).incidents == []
    lower = command(opened.incident_id, 3, action="impact", affected=12, active_total=100)
    assert h2.detector.apply_command(h2.state, lower).incidents[0].severity is Severity.P2


def test_no_eta_after_four_hours_flags_an_extended_outage() -> None:
    h = Harness()
    first = alert(source_ref="fp1")
    h.feed(batch(events=[first]))
    (progress,) = h.feed(batch(events=[first.model_copy(update={"received_at": T0 + timedelta(hours=3)})]))
    assert (progress.change, progress.updated_at, progress.flags) == ("progress", T0 + timedelta(hours=3), [])
    (flagged,) = h.feed(batch(events=[first.model_copy(update={"received_at": T0 + timedelta(hours=4, minutes=9)})]))
    assert flagged.updated_at == T0 + timedelta(hours=4)
    assert {"extended_outage", "executive_note", "sla_credit"} <= set(flagged.flags)
    assert flagged.next_update_at == T0 + timedelta(hours=4, minutes=15)


def test_an_eta_keeps_a_long_outage_from_being_flagged() -> None:
    h = Harness()
    first = alert(source_ref="fp1")
    (opened,) = h.feed(batch(events=[first]))
    h.detector.apply_command(h.state, command(opened.incident_id, 30, eta=T0 + timedelta(hours=6)))
    later = h.feed(batch(events=[first.model_copy(update={"received_at": T0 + timedelta(hours=5)})]))
    assert [(i.change, i.flags) for i in later] == [("progress", [])]  # the promised update, not a flag


def test_maintenance_suppresses_alerts_and_windows_of_the_service_only() -> None:
    window = Window(maintenance_id="mnt_1", service="api", starts_at=at_ms(0), until=at_ms(60))
    h = Harness(windows=[window])
    api_alert = alert(service="api", source_ref="a")
    other = alert(service="search", source_ref="b")
    opened = h.feed(batch(events=[api_alert, other], runs=[latency([SLOW] * 10)]))
    assert [i.service for i in opened] == ["search"]
    assert h.outcomes[-1].suppressed >= 2
    assert h.feed(batch(events=[alert(minute=61, service="api", source_ref="c")]))[0].service == "api"


def test_bad_samples_are_counted_not_applied() -> None:
    h = Harness()
    h.feed(batch(runs=[run("api", "latency_p99_ms", [(0, math.nan), (1, math.inf), (2, 5.0)])]))
    assert h.outcomes[-1].invalid_samples == 2
    h.feed(batch(runs=[run("api", "queue_depth", [(0, 1.0)])]))
    assert h.outcomes[-1].invalid_samples == 1
    h.feed(batch(runs=[latency([FAST] * 5, start=30)]))
    h.feed(batch(runs=[latency([SLOW] * 5, start=0)]))  # far behind the watermark
    assert h.outcomes[-1].late_samples == 10 and h.published == []
    broken = run("api", "latency_p99_ms", [(0, 1.0)]).model_copy(update={"count": 3})
    with pytest.raises(BadBatch, match="3 samples but 8 timestamp"):
        h.feed(batch(runs=[broken]))


def test_a_command_delivered_twice_is_applied_once() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert()]))
    update = command(opened.incident_id, 5, cause="disk full")
    assert len(h.detector.apply_command(h.state, update).incidents) == 1
    again = h.detector.apply_command(h.state, update)
    assert again.incidents == [] and again.duplicates == 1


def test_time_alone_confirms_a_silent_alert_and_flags_a_long_outage() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert(severity="error", symptom="latency", source_ref="am-1")]))
    assert opened.internal and h.detector.next_due(h.state) == at_ms(5)  # confirm_after
    clock = OperatorCommand(command_id="t1", action="clock", issued_at=T0 + timedelta(minutes=7))
    (confirmed,) = h.detector.apply_command(h.state, clock).incidents
    assert (confirmed.change, confirmed.internal, confirmed.updated_at) == (
        "confirmed",
        False,
        T0 + timedelta(minutes=5),
    )
    assert h.detector.next_due(h.state) == at_ms(35)  # now the update promised with it (P1: 30 min)
    later = OperatorCommand(command_id="t2", action="clock", issued_at=T0 + timedelta(hours=5))
    flagged, progress = h.detector.apply_command(h.state, later).incidents
    assert "extended_outage" in flagged.flags and flagged.updated_at == T0 + timedelta(hours=4)
    assert (progress.change, progress.updated_at) == ("progress", T0 + timedelta(hours=5))  # every 15 min now
    assert h.detector.next_due(h.state) == at_ms(315)


def test_severities_the_policy_trusts_are_confirmed_at_once() -> None:
    h = Harness(Policy(rules=RulesPolicy(confirmed_alert_severities=["error"])))
    (opened,) = h.feed(batch(events=[alert(severity="error", symptom="latency")]))
    assert not opened.internal


def test_a_published_post_mortem_is_one_more_resolved_version_once() -> None:
    h = Harness()
    (opened,) = h.feed(batch(events=[alert()]))
    with pytest.raises(UnknownIncident):  # still open: no post-mortem yet
        h.detector.apply_command(h.state, command(opened.incident_id, 5, action="postmortem"))
    (resolved,) = h.detector.apply_command(h.state, command(opened.incident_id, 30, phase=Phase.resolved)).incidents
    published = command(opened.incident_id, 3000, action="postmortem")
    (postmortem,) = h.detector.apply_command(h.state, published).incidents
    assert (postmortem.version, postmortem.change, postmortem.phase) == (
        resolved.version + 1,
        "postmortem",
        Phase.resolved,
    )
    assert (postmortem.resolved_at, postmortem.severity, postmortem.internal) == (
        resolved.resolved_at,
        resolved.severity,
        resolved.internal,
    )
    assert postmortem.updated_at == T0 + timedelta(minutes=3000) and postmortem.next_update_at is None
    assert h.state.tracks == {}  # not reopened
    assert h.detector.apply_command(h.state, published).incidents == []  # the same command again
    again = command(opened.incident_id, 3100, action="postmortem")  # a new one, after the ids were forgotten
    assert h.detector.apply_command(h.state, again).incidents == []


def _resolved_p1(h: Harness, n: int, minute: float) -> Incident:
    """A P1 opened by its own alert at ``minute`` and resolved by an operator a minute later."""
    (opened,) = h.feed(batch(events=[alert(source_ref=f"am-{n}", minute=minute)]))
    (resolved,) = h.detector.apply_command(
        h.state, command(opened.incident_id, minute + 1, phase=Phase.resolved)
    ).incidents
    return resolved


def test_a_post_mortem_version_carries_the_reports_url() -> None:
    h = Harness()
    resolved = _resolved_p1(h, 0, 0)
    url = "https://blog.example.com/postmortems/payments"
    published = command(resolved.incident_id, 3000, action="postmortem", postmortem_url=url)
    (postmortem,) = h.detector.apply_command(h.state, published).incidents
    assert (postmortem.change, postmortem.postmortem_url) == ("postmortem", url)
    assert resolved.postmortem_url is None


def test_a_post_mortem_url_that_is_not_http_is_left_off() -> None:
    h = Harness()
    resolved = _resolved_p1(h, 0, 0)
    published = command(resolved.incident_id, 3000, action="postmortem", postmortem_url="javascript:alert(1)")
    (postmortem,) = h.detector.apply_command(h.state, published).incidents
    assert postmortem.change == "postmortem" and postmortem.postmortem_url is None  # still announced


def test_a_post_mortem_finds_a_p1_resolved_within_two_weeks_however_many_closed_since() -> None:
    """More than MAX_CLOSED incidents closing in a group after a P1 no longer forget it: its
    post-mortem (due within a week, announced within POSTMORTEM_WITHIN) still finds it."""
    h = Harness()
    first = _resolved_p1(h, 0, 0)
    assert first.severity in (Severity.P1, Severity.P2)
    for n in range(1, MAX_CLOSED + 8):
        _resolved_p1(h, n, 10 * n)
    assert first.incident_id not in {i.incident_id for i in h.state.closed}
    assert first.incident_id in {i.incident_id for i in h.state.owed}
    week = 7 * 24 * 60
    url = "https://blog.example.com/pm/first"
    published = command(first.incident_id, week, action="postmortem", postmortem_url=url)
    (postmortem,) = h.detector.apply_command(h.state, published).incidents
    assert (postmortem.version, postmortem.change, postmortem.postmortem_url) == (first.version + 1, "postmortem", url)
    assert first.incident_id not in {i.incident_id for i in h.state.owed}  # back among the closed: once
    assert h.detector.apply_command(h.state, command(first.incident_id, week + 5, action="postmortem")).incidents == []


def test_a_post_mortem_later_than_two_weeks_after_resolution_is_rejected_with_the_reason() -> None:
    h = Harness()
    first = _resolved_p1(h, 0, 0)
    for n in range(1, MAX_CLOSED + 2):
        _resolved_p1(h, n, 10 * n)
    late = command(first.incident_id, 15 * 24 * 60, action="postmortem", postmortem_url="https://x.example/pm")
    with pytest.raises(UnknownIncident, match="within the last 14 days"):
        h.detector.apply_command(h.state, late)


def test_the_incidents_kept_for_their_post_mortem_are_bounded_in_time_and_number() -> None:
    h = Harness()
    for n in range(MAX_CLOSED + MAX_OWED + 10):
        _resolved_p1(h, n, 10 * n)
    assert len(h.state.closed) == MAX_CLOSED and len(h.state.owed) == MAX_OWED
    _resolved_p1(h, 10_000, 15 * 24 * 60)  # two weeks on: none of the others can be announced now
    assert h.state.owed == [] and len(h.state.closed) == MAX_CLOSED

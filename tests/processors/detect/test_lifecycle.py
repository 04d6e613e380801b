"""Lifecycle rules that span signals: one incident per customer impact, and signals clearing
into ``monitoring`` before ``resolved`` when the policy asks for a quiet period."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from factories import T0
from forewarn.policy import Policy
from forewarn.policy_rules import RulesPolicy
from forewarn.processors.detect import rules
from forewarn.schemas.models import ObservabilityEvent, OperatorCommand, Phase

from ._support import Harness, alert, at_ms, batch, every_minute, run

DOWN, UP = 0.0, 0.9995
WATCHED = Policy(rules=RulesPolicy(monitor_for=timedelta(minutes=10)))


def availability(values: list[float], start: int = 0) -> list[tuple[float, float]]:
    return every_minute(values, start, per_minute=2)


def outage_alert(status: str = "firing", minute: float = 0, **extra: Any) -> ObservabilityEvent:
    return alert(status, minute=minute, **{"service": "api", "symptom": "outage", "source_ref": "am-down", **extra})


# -- one incident per customer impact ------------------------------------------------------


def test_same_impact_puts_the_symptom_itself_first() -> None:
    assert rules.same_impact("availability") == ("availability", "outage")
    assert rules.same_impact("outage") == ("outage", "availability")
    assert rules.same_impact("latency") == ("latency",)


def test_an_availability_breach_joins_the_open_outage_and_both_must_clear() -> None:
    h = Harness()
    h.feed(batch(events=[outage_alert()]))
    h.feed(batch(runs=[run("api", "availability", availability([DOWN] * 6))]))
    h.feed(batch(events=[outage_alert("resolved", minute=7)]))  # the rule still breaches
    h.feed(batch(runs=[run("api", "availability", availability([UP] * 5, start=6))]))
    assert h.timeline() == [
        ("api|outage", 1, "opened", "investigating", False, "09:00"),
        # the rule joining adds no version: its outage flag restates the symptom
        ("api|outage", 2, "resolved", "resolved", False, "09:09"),  # 3rd clean window after 09:06
    ]
    assert len({i.incident_id for i in h.published}) == 1
    assert h.state.tracks == {}


def test_an_outage_alert_joins_the_availability_incident_and_confirms_it() -> None:
    h = Harness()
    h.feed(batch(runs=[run("api", "availability", availability([0.95] * 3))]))
    h.feed(batch(events=[outage_alert(minute=3, severity="error")]))
    h.feed(batch(events=[outage_alert("resolved", minute=4, severity="error")]))  # the rule still breaches
    h.feed(batch(runs=[run("api", "availability", availability([UP] * 5, start=3))]))
    assert h.timeline() == [
        ("api|availability", 1, "opened", "investigating", True, "09:02"),
        ("api|availability", 2, "confirmed", "investigating", False, "09:03"),  # a second signal agrees
        ("api|availability", 3, "resolved", "resolved", False, "09:06"),
    ]


def test_different_impacts_stay_different_incidents() -> None:
    h = Harness()
    h.feed(
        batch(
            runs=[
                run("api", "latency_p99_ms", every_minute([2000.0] * 4, per_minute=2)),
                run("api", "error_rate", every_minute([0.3] * 4, per_minute=2)),
            ]
        )
    )
    assert sorted({i.dedup_key for i in h.published}) == ["api|eu-west|error_rate", "api|eu-west|latency"]


def test_a_pagerduty_availability_key_resolves_the_outage_it_joined() -> None:
    h = Harness()
    h.feed(batch(events=[outage_alert()]))
    key = "api|eu-west|availability"
    (closed,) = h.feed(
        batch(
            events=[
                alert("resolved", minute=9, service="api", symptom="availability", source="pagerduty", source_ref=key)
            ]
        )
    )
    assert (closed.dedup_key, closed.phase) == ("api|eu-west|outage", Phase.resolved)


# -- signals clear: monitoring, then resolved --------------------------------------------


def test_cleared_alerts_are_watched_then_resolved_after_the_quiet_period() -> None:
    h = Harness(WATCHED)
    h.feed(batch(events=[outage_alert()]))
    (watching,) = h.feed(batch(events=[outage_alert("resolved", minute=20)]))
    assert (watching.change, watching.phase, watching.resolved_at) == ("phase", Phase.monitoring, None)
    assert h.detector.next_due(h.state) == at_ms(30)
    assert h.detector.apply_command(h.state, clock(29)).incidents == []
    (resolved,) = h.detector.apply_command(h.state, clock(31)).incidents
    assert (resolved.change, resolved.phase) == ("resolved", Phase.resolved)
    assert resolved.updated_at == T0 + timedelta(minutes=30)  # stamped at the quiet period's end
    assert resolved.resolved_at == T0 + timedelta(minutes=20)  # the impact ended when signals cleared
    assert resolved.rule == "monitoring: no signal for 10 min"
    assert h.state.tracks == {}


def test_a_signal_coming_back_while_watched_returns_the_incident_to_its_phase() -> None:
    h = Harness(WATCHED)
    h.feed(batch(events=[outage_alert()]))
    h.feed(batch(events=[alert("acknowledged", minute=2, service="api", symptom="outage", source_ref="am-down")]))
    h.feed(batch(events=[outage_alert("resolved", minute=20)]))
    h.feed(batch(events=[outage_alert(minute=25, source_ref="am-down-again")]))
    h.feed(batch(events=[outage_alert("resolved", minute=40, source_ref="am-down-again")]))
    h.published += h.detector.apply_command(h.state, clock(51)).incidents
    assert [(t[1], t[2], t[3], t[5]) for t in h.timeline()] == [
        (1, "opened", "investigating", "09:00"),
        (2, "phase", "identified", "09:02"),
        (3, "phase", "monitoring", "09:20"),
        (4, "phase", "identified", "09:25"),  # back where it was, not investigating from scratch
        (5, "phase", "monitoring", "09:40"),
        (6, "resolved", "resolved", "09:50"),
    ]


def test_a_rule_breaching_again_while_watched_returns_the_incident_to_investigating() -> None:
    h = Harness(WATCHED)
    slow, fast = 2000.0, 200.0
    h.feed(
        batch(
            runs=[
                run(
                    "api",
                    "latency_p99_ms",
                    every_minute([slow] * 8 + [fast] * 4 + [slow] * 3 + [fast] * 20, per_minute=2),
                )
            ]
        )
    )
    assert [(t[1], t[2], t[3], t[5]) for t in h.timeline()] == [
        (1, "opened", "investigating", "09:02"),
        (2, "confirmed", "investigating", "09:05"),
        (3, "phase", "monitoring", "09:11"),  # 3 clean windows
        (4, "phase", "investigating", "09:14"),  # open_after breaching windows again
        (5, "phase", "monitoring", "09:18"),
        (6, "resolved", "resolved", "09:28"),
    ]
    assert h.published[-1].resolved_at == T0 + timedelta(minutes=18)


def test_an_internal_incident_resolves_at_once_even_with_a_quiet_period() -> None:
    h = Harness(WATCHED)
    h.feed(batch(events=[alert(severity="error", symptom="error_rate", source_ref="am-1")]))
    (closed,) = h.feed(batch(events=[alert("resolved", minute=2, symptom="error_rate", source_ref="am-1")]))
    assert (closed.internal, closed.phase) == (True, Phase.resolved)


def test_a_responder_resolving_in_pagerduty_needs_no_quiet_period() -> None:
    h = Harness(WATCHED)
    ref = "api|eu-west|outage"
    h.feed(batch(events=[alert(service="api", source="pagerduty", source_ref=ref)]))
    (closed,) = h.feed(batch(events=[alert("resolved", minute=9, service="api", source="pagerduty", source_ref=ref)]))
    assert closed.phase is Phase.resolved


def test_an_operators_monitoring_is_kept_and_the_quiet_period_starts_when_signals_clear() -> None:
    h = Harness(WATCHED)
    (opened,) = h.feed(batch(events=[outage_alert()]))
    h.detector.apply_command(h.state, update(opened.incident_id, 5, Phase.monitoring))
    assert h.feed(batch(events=[outage_alert("resolved", minute=20)])) == []  # already monitoring
    (resolved,) = h.detector.apply_command(h.state, clock(30)).incidents
    assert resolved.phase is Phase.resolved and resolved.resolved_at == T0 + timedelta(minutes=20)


def test_an_operator_moving_a_watched_incident_on_takes_over_closing_it() -> None:
    h = Harness(WATCHED)
    (opened,) = h.feed(batch(events=[outage_alert()]))
    h.feed(batch(events=[outage_alert("resolved", minute=20)]))
    h.detector.apply_command(h.state, update(opened.incident_id, 22, Phase.identified))
    assert next(iter(h.state.tracks.values())).quiet_since is None
    assert all(v.phase is not Phase.resolved for v in h.detector.apply_command(h.state, clock(45)).incidents)


def clock(minute: float) -> OperatorCommand:
    return OperatorCommand(
        command_id=f"clock{minute}", action="clock", issued_at=T0 + timedelta(minutes=minute), issued_by="detect"
    )


def update(incident_id: str, minute: float, phase: Phase) -> OperatorCommand:
    return OperatorCommand(
        command_id=f"u{minute}",
        action="update",
        issued_at=T0 + timedelta(minutes=minute),
        issued_by="oncall",
        incident_id=incident_id,
        phase=phase,
    )

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from forewarn.schemas.models import SignalStatus

from ._support import RECEIVED_AT, fixture_doc, rejects, run, run_fixture, without_id

LABELS = {"env": "prod", "monitor": "", "region": "eu-west-1", "service": "search", "team": "discovery"}


def _triggered(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = fixture_doc("datadog_triggered")
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def test_triggered_maps_exactly() -> None:
    (event,) = run_fixture("datadog_triggered")
    assert without_id(event) == {
        "source": "datadog",
        "source_ref": "7431876439393992300",
        "service": "search",
        "region": "eu-west-1",
        "symptom": "error_rate",
        "status": SignalStatus.firing,
        "severity": "critical",  # alert_type error on a P1 monitor
        "metric": None,
        "value": None,
        "summary": "[P1] [Triggered on {region:eu-west-1,service:search}] Search error rate above 2%",
        "description": "%%%\nSearch error rate is 3.4% (threshold 2%).\n\n@webhook-forewarn\n%%%",
        "labels": LABELS,
        "flags": [],
        "customer_id": None,
        "occurred_at": datetime(2024, 5, 1, 9, 58, tzinfo=UTC),
        "received_at": RECEIVED_AT,
    }


def test_recovered_maps_exactly_and_shares_the_cycle_key() -> None:
    (event,) = run_fixture("datadog_recovered")
    assert without_id(event) == {
        "source": "datadog",
        "source_ref": "7431876439393992300",
        "service": "search",
        "region": "eu-west-1",
        "symptom": "error_rate",
        "status": SignalStatus.resolved,
        "severity": "info",
        "metric": None,
        "value": None,
        "summary": "[P1] [Recovered on {region:eu-west-1,service:search}] Search error rate above 2%",
        "description": "%%%\nSearch error rate is back to 0.4%.\n\n@webhook-forewarn\n%%%",
        "labels": LABELS,
        "flags": [],
        "customer_id": None,
        "occurred_at": datetime(2024, 5, 1, 9, 59, 30, tzinfo=UTC),
        "received_at": RECEIVED_AT,
    }


@pytest.mark.parametrize(
    ("transition", "status"),
    [
        ("Triggered", SignalStatus.firing),
        ("Re-Triggered", SignalStatus.firing),
        ("Warn", SignalStatus.firing),
        ("Re-Warn", SignalStatus.firing),
        ("No Data", SignalStatus.firing),
        ("Renotify", SignalStatus.firing),
        ("Recovered", SignalStatus.resolved),
    ],
)
def test_transitions(transition: str, status: SignalStatus) -> None:
    (event,) = run("datadog", _triggered(alert_transition=transition))
    assert event.status is status


@pytest.mark.parametrize(
    ("alert_type", "priority", "transition", "severity"),
    [
        ("error", "P1", "Triggered", "critical"),
        ("error", "P2", "Triggered", "error"),
        ("warning", "P1", "Warn", "warning"),
        ("info", None, "Triggered", "info"),
        ("success", "P1", "Recovered", "info"),
        (None, None, "Triggered", "error"),
        (None, None, "Warn", "warning"),
        (None, None, "No Data", "warning"),
        (None, None, "Recovered", "info"),
    ],
)
def test_severity(alert_type: str | None, priority: str | None, transition: str, severity: str) -> None:
    doc = _triggered(alert_type=alert_type, priority=priority, alert_transition=transition)  # None drops
    (event,) = run("datadog", doc)
    assert event.severity == severity


def test_source_ref_falls_back_to_aggreg_key_then_monitor_id() -> None:
    (event,) = run("datadog", _triggered(alert_cycle_key=None))
    assert event.source_ref == "9bd4ac313a4d1e8fae2482df7b77628"
    (event,) = run("datadog", _triggered(alert_cycle_key=None, aggreg_key=None, alert_id=81234567))
    assert event.source_ref == "81234567"


def test_numeric_date_and_tag_list_are_accepted() -> None:
    (event,) = run(
        "datadog", _triggered(date=1714557480000, tags=["service:search", "customer_id:c-9", "data_loss:true"])
    )
    assert event.occurred_at == datetime(2024, 5, 1, 9, 58, tzinfo=UTC)
    assert (event.region, event.customer_id, event.flags) == ("global", "c-9", ["data_loss"])


def test_symptom_tag_wins_over_title() -> None:
    (event,) = run("datadog", _triggered(tags="service:search,symptom:latency"))
    assert event.symptom == "latency"


@pytest.mark.parametrize(
    ("changes", "error_type", "reason"),
    [
        ({"alert_id": None}, "wrong_type", "alert_id: missing"),
        ({"alert_id": 1.5}, "wrong_type", "alert_id: expected string or integer id, got number"),
        ({"alert_transition": None}, "wrong_type", "alert_transition: missing"),
        ({"alert_transition": "Null"}, "wrong_type", "alert_transition: expected one of"),
        ({"title": None}, "wrong_type", "title: missing"),
        ({"date": None}, "wrong_type", "date: missing"),
        ({"date": "last tuesday"}, "wrong_type", "date: not an RFC 3339 timestamp"),
        ({"date": "1714557480000000000"}, "invalid", "date: "),
        ({"tags": "env:prod,team:x"}, "wrong_type", "tags.service: missing"),
        ({"tags": {"service": "x"}}, "wrong_type", "tags: expected comma-separated string or array of strings"),
        ({"tags": ["service:x", 3]}, "wrong_type", "tags[1]: expected string, got number"),
        ({"alert_type": "fatal"}, "wrong_type", "alert_type: expected one of error|info|success|warning"),
        ({"date": "1711965480000"}, "invalid", "date: 2024-04-01T09:58:00+00:00 is more than 30 days"),
    ],
)
def test_errors_name_the_path(changes: dict[str, Any], error_type: str, reason: str) -> None:
    rejects("datadog", _triggered(**changes), error_type, reason)

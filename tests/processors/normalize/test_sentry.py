from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from forewarn.schemas.models import SignalStatus

from ._support import RECEIVED_AT, fixture_doc, rejects, run, run_fixture, without_id


def _alert(**event_changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = fixture_doc("sentry_issue_alert")
    for key, value in event_changes.items():
        if value is None:
            doc["data"]["event"].pop(key, None)
        else:
            doc["data"]["event"][key] = value
    return doc


def test_issue_alert_maps_exactly() -> None:
    (event,) = run_fixture("sentry_issue_alert")
    assert without_id(event) == {
        "source": "sentry",
        "source_ref": "1117540176",
        "service": "checkout-web",  # project slug from data.event.url
        "region": "eu-west-1",
        "symptom": "error_rate",
        "status": SignalStatus.firing,
        "severity": "error",
        "metric": None,
        "value": None,
        "summary": "TypeError: Cannot read properties of undefined (reading 'token')",
        "description": "?(app/checkout/PaymentForm)",
        "labels": {
            "browser": "Chrome 124.0.6367",
            "browser.name": "Chrome",
            "environment": "production",
            "handled": "no",
            "level": "error",
            "mechanism": "onerror",
            "region": "eu-west-1",
            "url": "https://shop.example.com/checkout",
            "triggered_rule": "Checkout errors",
        },
        "flags": [],
        "customer_id": None,
        "occurred_at": datetime(2024, 5, 1, 9, 57, 41, 677000, tzinfo=UTC),
        "received_at": RECEIVED_AT,
    }


def test_service_tag_wins_then_slug_then_project_id() -> None:
    tags = [["service", "payments"], ["customer_id", "cust-1"], ["compliance", "true"]]
    (event,) = run("sentry", _alert(tags=tags))
    assert (event.service, event.region, event.customer_id, event.flags) == (
        "payments",
        "global",
        "cust-1",
        ["compliance"],
    )
    (event,) = run("sentry", _alert(url=None))
    assert event.service == "1"


def test_epoch_timestamp_is_used_without_datetime() -> None:
    (event,) = run("sentry", _alert(datetime=None))
    assert event.occurred_at == datetime(2024, 5, 1, 9, 57, 41, 677000, tzinfo=UTC)


def test_event_id_is_the_reference_without_an_issue() -> None:
    (event,) = run("sentry", _alert(issue_id=None))
    assert event.source_ref == "e4874d664c3540c1a32eab185f12c5ab"


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("fatal", "critical"),
        ("error", "error"),
        ("warning", "warning"),
        ("info", "info"),
        ("debug", "info"),
        (None, "error"),
    ],
)
def test_level_maps_to_severity(level: str | None, severity: str) -> None:
    (event,) = run("sentry", _alert(level=level))
    assert event.severity == severity


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"event_id": None}, "data.event.event_id: missing"),
        ({"title": 3}, "data.event.title: expected string, got number"),
        ({"datetime": None, "timestamp": None}, "data.event.datetime: missing (nor timestamp)"),
        ({"tags": {"service": "x"}}, "data.event.tags: expected array, got object"),
        ({"tags": [["service"]]}, "data.event.tags[0]: expected [key, value] pair, got array"),
        ({"tags": [["a", "b"], ["service", 1]]}, "data.event.tags[1][1]: expected string, got number"),
        ({"url": None, "project": None}, "data.event.tags.service: missing"),
        ({"issue_id": 1.5}, "data.event.issue_id: expected string or integer id"),
    ],
)
def test_event_errors_name_the_path(changes: dict[str, Any], reason: str) -> None:
    rejects("sentry", _alert(**changes), "wrong_type", reason)


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"action": "resolved", "data": {}}, "action: expected one of triggered, got 'resolved'"),
        ({"action": "triggered"}, "data: missing"),
        ({"action": "triggered", "data": {"event": []}}, "data.event: expected object, got array"),
    ],
)
def test_envelope_errors(doc: dict[str, Any], reason: str) -> None:
    rejects("sentry", doc, "wrong_type", reason)

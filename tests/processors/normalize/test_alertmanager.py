from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from forewarn.schemas.models import SignalStatus

from ._support import RECEIVED_AT, fixture_doc, rejects, run, run_fixture, without_id


def _with_alert(**changes: Any) -> dict[str, Any]:
    """The fixture reduced to its first alert, with fields replaced (None deletes)."""
    doc: dict[str, Any] = fixture_doc("alertmanager_multi")
    alert = copy.deepcopy(doc["alerts"][0])
    for key, value in changes.items():
        if value is None:
            alert.pop(key, None)
        else:
            alert[key] = value
    doc["alerts"] = [alert]
    return doc


def _labels(**labels: str) -> dict[str, str]:
    return {"alertname": "Anything", **labels}


def test_multi_alert_payload_maps_each_alert_exactly() -> None:
    events = run_fixture("alertmanager_multi")

    assert [without_id(e) for e in events] == [
        {
            "source": "alertmanager",
            "source_ref": "5b6c9e7a1f2d3c4b",
            "service": "checkout",
            "region": "eu-west-1",
            "symptom": "error_rate",
            "status": SignalStatus.firing,
            "severity": "critical",
            "metric": None,
            "value": None,
            "summary": "Checkout 5xx ratio above 5% in eu-west-1",
            "description": "The 5xx ratio is 7.2% over the last 5 minutes.",
            "labels": {
                "alertname": "CheckoutHighErrorRate",
                "service": "checkout",
                "region": "eu-west-1",
                "severity": "page",
                "team": "payments",
            },
            "flags": [],
            "customer_id": None,
            # nanoseconds in the payload, milliseconds on the wire
            "occurred_at": datetime(2024, 5, 1, 9, 52, 30, 123000, tzinfo=UTC),
            "received_at": RECEIVED_AT,
        },
        {
            "source": "alertmanager",
            "source_ref": "8e1d0c2b3a495867",
            "service": "checkout",
            "region": "us-east-1",
            "symptom": "error_rate",
            "status": SignalStatus.resolved,
            "severity": "warning",
            "metric": None,
            "value": None,
            "summary": "The 5xx ratio is back under 1%.",
            "description": None,
            "labels": {
                "alertname": "CheckoutHighErrorRate",
                "service": "checkout",
                "region": "us-east-1",
                "severity": "warning",
                "team": "payments",
            },
            "flags": [],
            "customer_id": None,
            # resolved: endsAt, "11:45:00+02:00" moved to UTC
            "occurred_at": datetime(2024, 5, 1, 9, 45, tzinfo=UTC),
            "received_at": RECEIVED_AT,
        },
        {
            "source": "alertmanager",
            # no fingerprint: a digest of the sorted label set
            "source_ref": events[2].source_ref,
            "service": "ledger",
            "region": "prod-eu-2",
            "symptom": "outage",
            "status": SignalStatus.firing,
            "severity": "critical",
            "metric": None,
            "value": None,
            "summary": "LedgerReplicaDown",
            "description": None,
            "labels": {
                "alertname": "LedgerReplicaDown",
                "job": "ledger",
                "cluster": "prod-eu-2",
                "severity": "critical",
                "team": "payments",
                "data_loss": "true",
                "customer_id": "cust-042",
            },
            "flags": ["data_loss"],
            "customer_id": "cust-042",
            "occurred_at": datetime(2024, 5, 1, 9, 58, tzinfo=UTC),
            "received_at": RECEIVED_AT,
        },
    ]
    assert len(events[2].source_ref) == 24


def test_label_digest_ignores_label_order() -> None:
    labels = {"alertname": "X", "service": "a", "zone": "z1"}
    first = run("alertmanager", _with_alert(fingerprint=None, labels=labels))
    second = run("alertmanager", _with_alert(fingerprint=None, labels=dict(reversed(labels.items()))))
    assert first[0].source_ref == second[0].source_ref
    assert first[0].event_id == second[0].event_id


@pytest.mark.parametrize(
    ("labels", "service", "region"),
    [
        (_labels(service="api", job="j", app="a", region="r", cluster="c", zone="z"), "api", "r"),
        (_labels(job="j", app="a", cluster="c", zone="z"), "j", "c"),
        (_labels(app="a", zone="z"), "a", "z"),
        (_labels(app="a"), "a", "global"),
    ],
)
def test_service_and_region_fall_back_through_label_names(labels: dict[str, str], service: str, region: str) -> None:
    (event,) = run("alertmanager", _with_alert(labels=labels))
    assert (event.service, event.region) == (service, region)


@pytest.mark.parametrize(
    ("alertname", "symptom"),
    [
        ("APILatencyHigh", "latency"),
        ("High5xxErrorRate", "error_rate"),
        ("InstanceDown", "outage"),
        ("RegionalOutage", "outage"),
        ("BackendUnavailable", "outage"),
        ("AvailabilitySLOBurn", "availability"),
        ("DiskFilling", "alert"),
    ],
)
def test_symptom_is_inferred_from_alertname(alertname: str, symptom: str) -> None:
    (event,) = run("alertmanager", _with_alert(labels={"alertname": alertname, "service": "s"}))
    assert event.symptom == symptom


def test_symptom_label_wins_over_alertname_when_known() -> None:
    labels = {"alertname": "APILatencyHigh", "service": "s"}
    (event,) = run("alertmanager", _with_alert(labels={**labels, "symptom": "availability"}))
    assert event.symptom == "availability"
    (event,) = run("alertmanager", _with_alert(labels={**labels, "symptom": "vibes"}))
    assert event.symptom == "latency"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("page", "critical"),
        ("CRITICAL", "critical"),
        ("p1", "critical"),
        ("error", "error"),
        ("major", "error"),
        ("warning", "warning"),
        ("warn", "warning"),
        ("info", "info"),
        ("none", "info"),
        ("something-else", "warning"),
        (None, "warning"),
    ],
)
def test_severity_label_maps_to_four_levels(severity: str | None, expected: str) -> None:
    labels = {"alertname": "X", "service": "s"} | ({} if severity is None else {"severity": severity})
    (event,) = run("alertmanager", _with_alert(labels=labels))
    assert event.severity == expected


def test_flags_come_from_true_valued_labels_in_a_fixed_order() -> None:
    labels = _labels(service="s", compliance="TRUE", security="true", data_loss="false", outage="true")
    (event,) = run("alertmanager", _with_alert(labels=labels))
    assert event.flags == ["security", "compliance", "outage"]


def test_summary_falls_back_to_description_then_alertname() -> None:
    (event,) = run("alertmanager", _with_alert(annotations={"description": "d"}))
    assert (event.summary, event.description) == ("d", None)
    (event,) = run("alertmanager", _with_alert(annotations=None))
    assert (event.summary, event.description) == ("CheckoutHighErrorRate", None)


def test_firing_alert_ignores_end_time() -> None:
    # Alertmanager sets a future endsAt on firing alerts (resolve_timeout); it is not event time.
    (event,) = run("alertmanager", _with_alert(endsAt="2024-05-01T10:30:00Z"))
    assert event.occurred_at == datetime(2024, 5, 1, 9, 52, 30, 123000, tzinfo=UTC)


def test_empty_alert_list_yields_no_events() -> None:
    doc = fixture_doc("alertmanager_multi")
    doc["alerts"] = []
    assert run("alertmanager", doc) == []


def test_missing_service_names_the_alert_and_label() -> None:
    doc = fixture_doc("alertmanager_multi")
    doc["alerts"][2]["labels"] = {"alertname": "NoOwner", "region": "eu"}
    rejects("alertmanager", doc, "wrong_type", "alerts[2].labels.service: missing")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"version": "3"}, "version: expected '4'"),
        ({"version": None}, "version: missing"),
        ({"alerts": None}, "alerts: missing"),
        ({"alerts": {"0": {}}}, "alerts: expected array, got object"),
        ({"alerts": ["x"]}, "alerts[0]: expected object, got string"),
    ],
)
def test_envelope_shape_errors(change: dict[str, Any], reason: str) -> None:
    doc = fixture_doc("alertmanager_multi")
    for key, value in change.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    rejects("alertmanager", doc, "wrong_type", reason)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"status": "pending"}, "alerts[0].status: expected one of firing|resolved, got 'pending'"),
        ({"status": None}, "alerts[0].status: missing"),
        ({"labels": None}, "alerts[0].labels: missing"),
        ({"labels": ["service=x"]}, "alerts[0].labels: expected object, got array"),
        ({"labels": {"service": "x", "replicas": 3}}, "alerts[0].labels.replicas: expected string, got number"),
        ({"annotations": {"summary": None}}, "alerts[0].annotations.summary: expected string, got null"),
        ({"startsAt": None}, "alerts[0].startsAt: missing"),
        ({"startsAt": "yesterday"}, "alerts[0].startsAt: not an RFC 3339 timestamp"),
        ({"startsAt": True}, "alerts[0].startsAt: expected RFC 3339 string or epoch number, got boolean"),
        ({"fingerprint": 42}, "alerts[0].fingerprint: expected string, got number"),
        ({"status": "resolved", "endsAt": None}, "alerts[0].endsAt: missing"),
        ({"status": "resolved"}, "alerts[0].endsAt: resolved alert has no end time"),
    ],
)
def test_alert_shape_errors_name_the_path(changes: dict[str, Any], reason: str) -> None:
    doc = _with_alert(**{k: v for k, v in changes.items() if v is not None})
    for key in [k for k, v in changes.items() if v is None]:
        del doc["alerts"][0][key]
    rejects("alertmanager", doc, "wrong_type", reason)

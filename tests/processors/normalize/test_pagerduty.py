from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from forewarn.processors.normalize.pagerduty import KEY_ONLY
from forewarn.schemas.models import SignalStatus

from ._support import RECEIVED_AT, fixture_doc, rejects, run, run_fixture, without_id


def _trigger(**payload_changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = fixture_doc("pagerduty_trigger")
    for key, value in payload_changes.items():
        if value is None:
            doc["payload"].pop(key, None)
        else:
            doc["payload"][key] = value
    return doc


def test_trigger_maps_exactly() -> None:
    (event,) = run_fixture("pagerduty_trigger")
    assert without_id(event) == {
        "source": "pagerduty",
        "source_ref": "payments-api|eu-west-1|latency",
        "service": "payments-api",
        "region": "eu-west-1",
        "symptom": "latency",
        "status": SignalStatus.firing,
        "severity": "critical",
        "metric": None,
        "value": None,
        "summary": "p99 latency above 800 ms on payments-api in eu-west-1",
        "description": None,
        # custom_details scalars as strings (nested objects dropped), then the payload's own fields
        "labels": {
            "region": "eu-west-1",
            "p99_ms": "912.5",
            "threshold_ms": "800",
            "security": "false",
            "runbook": "https://runbooks.example.com/payments-latency",
            "source": "prometheus-eu-west-1",
            "component": "payments-api",
            "group": "prod-payments",
            "class": "high latency",
        },
        "flags": [],
        "customer_id": None,
        "occurred_at": datetime(2024, 5, 1, 9, 58, 12, 500000, tzinfo=UTC),
        "received_at": RECEIVED_AT,
    }


def test_acknowledge_without_payload_reads_the_dedup_key_convention() -> None:
    (event,) = run_fixture("pagerduty_acknowledge")
    assert without_id(event) == {
        "source": "pagerduty",
        "source_ref": "payments-api|eu-west-1|latency",
        "service": "payments-api",
        "region": "eu-west-1",
        "symptom": "latency",
        "status": SignalStatus.acknowledged,
        "severity": "info",
        "metric": None,
        "value": None,
        "summary": "PagerDuty acknowledge for payments-api|eu-west-1|latency",
        "description": None,
        "labels": {KEY_ONLY: "true"},
        "flags": [],
        "customer_id": None,
        "occurred_at": RECEIVED_AT,
        "received_at": RECEIVED_AT,
    }


def test_resolve_with_a_foreign_dedup_key_is_provisionally_its_own_service() -> None:
    (event,) = run_fixture("pagerduty_resolve")
    assert without_id(event) == {
        "source": "pagerduty",
        "source_ref": "srv01/HTTP",
        "service": "srv01/HTTP",
        "region": "global",
        "symptom": "alert",
        "status": SignalStatus.resolved,
        "severity": "info",
        "metric": None,
        "value": None,
        "summary": "PagerDuty resolve for srv01/HTTP",
        "description": None,
        "labels": {KEY_ONLY: "true"},
        "flags": [],
        "customer_id": None,
        "occurred_at": RECEIVED_AT,
        "received_at": RECEIVED_AT,
    }


@pytest.mark.parametrize("key", ["a|b", "a|b|c|d", "a||latency", "a|b|not-a-symptom"])
def test_keys_off_the_convention_are_not_split(key: str) -> None:
    (event,) = run("pagerduty", {"event_action": "resolve", "dedup_key": key})
    assert (event.service, event.region, event.symptom, event.source_ref) == (key, "global", "alert", key)


def test_trigger_and_its_resolve_share_source_ref() -> None:
    (trigger,) = run_fixture("pagerduty_trigger")
    (ack,) = run_fixture("pagerduty_acknowledge")
    assert trigger.source_ref == ack.source_ref
    assert (trigger.service, trigger.region, trigger.symptom) == (ack.service, ack.region, ack.symptom)


def test_trigger_without_dedup_key_gets_the_convention_key() -> None:
    doc = fixture_doc("pagerduty_trigger")
    del doc["dedup_key"]
    (event,) = run("pagerduty", doc)
    assert event.source_ref == "payments-api|eu-west-1|latency"


def test_service_falls_back_to_source_and_region_to_global() -> None:
    (event,) = run("pagerduty", _trigger(component=None, custom_details=None))
    assert (event.service, event.region) == ("prometheus-eu-west-1", "global")


def test_missing_timestamp_means_received_at() -> None:
    (event,) = run("pagerduty", _trigger(timestamp=None))
    assert event.occurred_at == RECEIVED_AT


def test_resolve_with_payload_is_mapped_like_a_trigger() -> None:
    doc = fixture_doc("pagerduty_trigger")
    doc["event_action"] = "resolve"
    (event,) = run("pagerduty", doc)
    assert (event.status, event.service, event.severity) == (SignalStatus.resolved, "payments-api", "critical")


def test_custom_details_give_symptom_customer_and_flags() -> None:
    details = {"symptom": "outage", "customer_id": "cust-7", "data_loss": True, "security": "true"}
    (event,) = run("pagerduty", _trigger(custom_details=details))
    assert (event.symptom, event.customer_id, event.flags) == ("outage", "cust-7", ["data_loss", "security"])


def test_routing_key_never_reaches_the_event() -> None:
    (event,) = run_fixture("pagerduty_trigger")
    assert "R0UT1NGK3Y" not in event.model_dump_json()


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"dedup_key": "k"}, "event_action: missing"),
        ({"event_action": "snooze", "dedup_key": "k"}, "event_action: expected one of acknowledge|resolve|trigger"),
        ({"event_action": "resolve"}, "dedup_key: missing"),
        ({"event_action": "resolve", "dedup_key": ""}, "dedup_key: empty string"),
        ({"event_action": "acknowledge", "dedup_key": 7}, "dedup_key: expected string, got number"),
        ({"event_action": "trigger", "dedup_key": "k"}, "payload: missing"),
        ({"event_action": "trigger", "payload": "down!"}, "payload: expected object, got string"),
    ],
)
def test_envelope_errors(doc: dict[str, Any], reason: str) -> None:
    rejects("pagerduty", doc, "wrong_type", reason)


@pytest.mark.parametrize(
    ("changes", "error_type", "reason"),
    [
        ({"summary": None}, "wrong_type", "payload.summary: missing"),
        ({"source": None}, "wrong_type", "payload.source: missing"),
        ({"severity": None}, "wrong_type", "payload.severity: missing"),
        ({"severity": "page"}, "wrong_type", "payload.severity: expected one of critical|error|info|warning"),
        ({"component": ["a"]}, "wrong_type", "payload.component: expected string, got array"),
        ({"timestamp": "soon"}, "wrong_type", "payload.timestamp: not an RFC 3339 timestamp"),
        ({"timestamp": "2024-05-01T11:00:00Z"}, "invalid", "payload.timestamp: 2024-05-01T11:00:00+00:00 is 1:00:00"),
        ({"custom_details": {"ratio": float("nan")}}, "invalid", "payload.custom_details.ratio: nan"),
    ],
)
def test_payload_errors_name_the_path(changes: dict[str, Any], error_type: str, reason: str) -> None:
    rejects("pagerduty", _trigger(**changes), error_type, reason)

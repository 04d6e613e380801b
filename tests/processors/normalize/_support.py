"""Shared by the normalize tests: fixture loading and RawSignal building."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from forewarn.processors.normalize import NormalizeError, normalize
from forewarn.schemas.models import ObservabilityEvent, RawSignal

FIXTURES = Path(__file__).parent / "fixtures"
RECEIVED_AT = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)

#: fixture file stem -> RawSignal.source
FIXTURE_SOURCES: dict[str, str] = {
    "alertmanager_multi": "alertmanager",
    "pagerduty_trigger": "pagerduty",
    "pagerduty_acknowledge": "pagerduty",
    "pagerduty_resolve": "pagerduty",
    "datadog_triggered": "datadog",
    "datadog_recovered": "datadog",
    "sentry_issue_alert": "sentry",
    "json_metric_single": "json",
    "json_metric_batch": "json",
}


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_doc(name: str) -> Any:
    return json.loads(fixture_bytes(name))


def raw(source: str, body: bytes | object, received_at: datetime = RECEIVED_AT) -> RawSignal:
    """A RawSignal; a non-bytes body is JSON-encoded first (NaN allowed, as exporters may send it)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawSignal(source=source, received_at=received_at, body=data)


def run(source: str, body: bytes | object, received_at: datetime = RECEIVED_AT) -> list[ObservabilityEvent]:
    return normalize(raw(source, body, received_at))


def run_fixture(name: str) -> list[ObservabilityEvent]:
    return run(FIXTURE_SOURCES[name], fixture_bytes(name))


def rejects(source: str, body: bytes | object, error_type: str, reason_start: str) -> NormalizeError:
    """Assert normalisation fails with this error type and a reason starting with the JSON path."""
    with pytest.raises(NormalizeError) as caught:
        run(source, body)
    assert caught.value.error_type == error_type, caught.value.reason
    assert caught.value.reason.startswith(reason_start), caught.value.reason
    return caught.value


def without_id(event: ObservabilityEvent) -> dict[str, Any]:
    dumped = event.model_dump()
    del dumped["event_id"]
    return dumped

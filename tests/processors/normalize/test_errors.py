"""Every way a payload can be refused, and the promise that nothing else ever escapes."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forewarn.processors.normalize import ADAPTERS, ERROR_TYPES, MAX_BODY_BYTES, NormalizeError, normalize

from ._support import FIXTURE_SOURCES, RECEIVED_AT, fixture_doc, raw, rejects, run

SOURCES = sorted(ADAPTERS)


# --- malformed JSON -----------------------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"{'a': 1}", b"[1,]", b"{} {}", b"\xff\xfe{}", b'{"a": "\\ud800"}', b"[" * 10_000, b"nul"],
    ids=[
        "empty",
        "truncated",
        "single-quotes",
        "trailing-comma",
        "two-docs",
        "not-utf8",
        "lone-surrogate",
        "deep",
        "nul",
    ],
)
def test_malformed_json(source: str, body: bytes) -> None:
    rejects(source, body, "malformed_json", "body: ")


def test_utf8_bom_is_tolerated() -> None:
    body = b"\xef\xbb\xbf" + json.dumps(fixture_doc("json_metric_single")).encode()
    assert len(run("json", body)) == 1


# --- wrong shape --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "body", "reason"),
    [
        ("alertmanager", [], "body: expected object, got array"),
        ("pagerduty", "trigger", "body: expected object, got string"),
        ("datadog", None, "body: expected object, got null"),
        ("sentry", 1, "body: expected object, got number"),
        ("json", "x", "body: expected object, got string"),
    ],
)
def test_wrong_top_level_type(source: str, body: object, reason: str) -> None:
    rejects(source, body, "wrong_type", reason)


def test_missing_field_names_the_json_path() -> None:
    doc = fixture_doc("alertmanager_multi")
    del doc["alerts"][2]["labels"]["job"]
    rejects("alertmanager", doc, "wrong_type", "alerts[2].labels.service: missing")


# --- unknown source, oversized ------------------------------------------------------------------


def test_unknown_source() -> None:
    error = rejects("nagios", b"{}", "unknown_source", "source: unknown source 'nagios'")
    assert "alertmanager" in error.reason


def test_unknown_source_is_reported_before_reading_the_body() -> None:
    rejects("nagios", b"x" * (MAX_BODY_BYTES + 1), "unknown_source", "source:")


def _batch_of_exactly(size: int) -> bytes:
    body = json.dumps([fixture_doc("json_metric_single")]).encode()
    return body[:-1] + b" " * (size - len(body)) + b"]"


def test_body_at_the_limit_is_accepted_and_one_byte_more_is_oversized() -> None:
    assert MAX_BODY_BYTES == 1_048_576
    assert len(normalize(raw("json", _batch_of_exactly(MAX_BODY_BYTES)))) == 1
    error = rejects("json", _batch_of_exactly(MAX_BODY_BYTES + 1), "oversized", "body: 1048577 bytes")
    assert "1048576" in error.reason


def test_size_limit_is_a_parameter() -> None:
    body = _batch_of_exactly(500)
    assert len(normalize(raw("json", body), max_bytes=500)) == 1
    with pytest.raises(NormalizeError) as caught:
        normalize(raw("json", body), max_bytes=499)
    assert caught.value.error_type == "oversized"


# --- invalid values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "shown"), [("NaN", "nan"), ("Infinity", "inf"), ("-Infinity", "-inf"), ("1e999", "inf")]
)
def test_non_finite_metric_values_are_invalid(literal: str, shown: str) -> None:
    sample = json.dumps(fixture_doc("json_metric_single")).replace("812.5", literal)
    rejects("json", f"[{sample}]".encode(), "invalid", f"[0].value: {shown} is not a finite number")


def test_non_finite_timestamp_is_invalid() -> None:
    body = json.dumps(fixture_doc("json_metric_single")).replace('"2024-05-01T09:59:00Z"', "NaN")
    rejects("json", body.encode(), "invalid", "timestamp: nan is not a finite timestamp")


def _alert_at(starts_at: str) -> dict[str, Any]:
    doc: dict[str, Any] = fixture_doc("alertmanager_multi")
    doc["alerts"] = [{**doc["alerts"][0], "startsAt": starts_at}]
    return doc


def test_future_timestamps_beyond_the_skew_are_invalid() -> None:
    assert run("alertmanager", _alert_at("2024-05-01T10:05:00Z"))  # exactly the 5 min allowance
    rejects(
        "alertmanager",
        _alert_at("2024-05-01T10:05:00.001Z"),
        "invalid",
        "alerts[0].startsAt: 2024-05-01T10:05:00.001000+00:00 is 0:05:00.001000 after received_at",
    )


def test_far_past_timestamps_are_invalid() -> None:
    assert run("alertmanager", _alert_at("2024-04-01T10:00:00Z"))  # exactly 30 days
    rejects(
        "alertmanager",
        _alert_at("2024-04-01T09:59:59.999Z"),
        "invalid",
        "alerts[0].startsAt: 2024-04-01T09:59:59.999000+00:00 is more than 30 days, 0:00:00 before received_at",
    )


def test_time_window_is_configurable() -> None:
    ahead = raw("alertmanager", _alert_at("2024-05-01T10:00:01Z"))
    stale = raw("alertmanager", _alert_at("2024-04-30T09:00:00Z"))
    with pytest.raises(NormalizeError, match="allowed skew 0:00:00"):
        normalize(ahead, max_future_skew=timedelta(0))
    assert normalize(ahead, max_future_skew=timedelta(seconds=1))
    with pytest.raises(NormalizeError, match="more than 1 day"):
        normalize(stale, max_age=timedelta(days=1))
    assert normalize(stale, max_age=timedelta(days=2))


def test_zero_time_in_a_firing_alert_is_far_past() -> None:
    rejects("alertmanager", _alert_at("0001-01-01T00:00:00Z"), "invalid", "alerts[0].startsAt: 0001-01-01")


# --- the error itself ---------------------------------------------------------------------------


def test_error_carries_type_and_reason_and_survives_pickling() -> None:
    error = NormalizeError("alerts[0].status: missing", "wrong_type")
    assert str(error) == "wrong_type: alerts[0].status: missing"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.error_type) == (error.reason, error.error_type)
    assert {"malformed_json", "wrong_type", "unknown_source", "oversized", "invalid"} == ERROR_TYPES


# --- nothing but NormalizeError, whatever arrives ------------------------------------------------

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["firing", "resolved", "trigger", "resolve", "Recovered", "4", "2024-05-01T09:59:00Z"]),
    st.sampled_from([1714557540000, 1714557540, "1714557540000", "0001-01-01T00:00:00Z", "service:x,region:y"]),
)
_json_values = st.recursive(
    _json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=16,
)
_received = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
) | st.just(RECEIVED_AT)


def _normalize_or_refuse(source: str, body: bytes, received_at: datetime) -> None:
    try:
        events = normalize(raw(source, body, received_at))
    except NormalizeError as exc:
        assert exc.error_type in ERROR_TYPES
        assert exc.reason
    else:
        for event in events:
            assert event.occurred_at.tzinfo is UTC
            assert len(event.event_id) == 32


@given(st.sampled_from(SOURCES), st.binary(max_size=200), _received)
def test_arbitrary_bytes_only_ever_raise_normalize_error(source: str, body: bytes, received_at: datetime) -> None:
    _normalize_or_refuse(source, body, received_at)


@given(st.sampled_from(SOURCES), _json_values, _received)
def test_arbitrary_json_only_ever_raises_normalize_error(source: str, doc: object, received_at: datetime) -> None:
    _normalize_or_refuse(source, json.dumps(doc).encode(), received_at)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FIXTURE_SOURCES)), st.data())
def test_mutated_fixtures_only_ever_raise_normalize_error(name: str, data: st.DataObject) -> None:
    """Near-valid payloads reach deep into each adapter, where arbitrary JSON rarely gets."""
    doc = fixture_doc(name)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        replacement = data.draw(_json_values)
        if not path:
            doc = replacement
            continue
        parent: Any = doc
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = replacement
    _normalize_or_refuse(FIXTURE_SOURCES[name], json.dumps(doc).encode(), data.draw(_received))

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.processors.detect.signals import is_sample
from forewarn.processors.detect.state import to_ms
from forewarn.processors.normalize import Samples, json_metric, normalize, normalize_signals, signal_count
from forewarn.processors.normalize._common import SignalContext
from forewarn.schemas.models import ObservabilityEvent, SignalStatus

from ._support import RECEIVED_AT, fixture_doc, rejects, run, run_fixture, without_id

CTX = SignalContext.of("json", RECEIVED_AT, max_future_skew=timedelta(minutes=5), max_age=timedelta(days=30))


def _sample(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = fixture_doc("json_metric_single")
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


def test_single_sample_maps_exactly() -> None:
    (event,) = run_fixture("json_metric_single")
    assert without_id(event) == {
        "source": "json",
        "source_ref": "checkout|eu-west-1|latency_p99_ms",
        "service": "checkout",
        "region": "eu-west-1",
        "symptom": "latency",
        "status": SignalStatus.firing,
        "severity": "info",
        "metric": "latency_p99_ms",
        "value": 812.5,
        "summary": "latency_p99_ms 812.5 for checkout in eu-west-1",
        "description": None,
        "labels": {"pod": "checkout-7f9c6d", "customer_id": "cust-042"},
        "flags": [],
        "customer_id": "cust-042",
        "occurred_at": datetime(2024, 5, 1, 9, 59, tzinfo=UTC),
        "received_at": RECEIVED_AT,
    }


def test_batch_maps_each_sample_in_order() -> None:
    events = run_fixture("json_metric_batch")
    at = datetime(2024, 5, 1, 9, 59, tzinfo=UTC)  # epoch ms, epoch s and RFC 3339 with offset
    assert [without_id(e) for e in events] == [
        {
            "source": "json",
            "source_ref": "checkout|eu-west-1|error_rate",
            "service": "checkout",
            "region": "eu-west-1",
            "symptom": "error_rate",
            "status": SignalStatus.firing,
            "severity": "info",
            "metric": "error_rate",
            "value": 0.072,
            "summary": "error_rate 0.072 for checkout in eu-west-1",
            "description": None,
            "labels": {"env": "prod"},
            "flags": [],
            "customer_id": None,
            "occurred_at": at,
            "received_at": RECEIVED_AT,
        },
        {
            "source": "json",
            "source_ref": "search|us-east-1|availability",
            "service": "search",
            "region": "us-east-1",
            "symptom": "availability",
            "status": SignalStatus.firing,
            "severity": "info",
            "metric": "availability",
            "value": 0.9991,
            "summary": "availability 0.9991 for search in us-east-1",
            "description": None,
            "labels": {"env": "prod", "security": "true"},
            "flags": ["security"],
            "customer_id": None,
            "occurred_at": at,
            "received_at": RECEIVED_AT,
        },
        {
            "source": "json",
            "source_ref": "ledger|global|latency_p99_ms",
            "service": "ledger",
            "region": "global",
            "symptom": "latency",
            "status": SignalStatus.firing,
            "severity": "info",
            "metric": "latency_p99_ms",
            "value": 245.0,
            "summary": "latency_p99_ms 245 for ledger in global",
            "description": None,
            "labels": {},
            "flags": [],
            "customer_id": None,
            "occurred_at": at,
            "received_at": RECEIVED_AT,
        },
    ]
    assert isinstance(events[2].value, float)


def test_empty_batch_yields_no_events() -> None:
    assert run("json", []) == []


@pytest.mark.parametrize(
    "timestamp",
    [1714557540, 1714557540000, 1714557540.0, "1714557540000", "2024-05-01T09:59:00Z", "2024-05-01t11:59:00+02:00"],
)
def test_timestamp_forms_agree(timestamp: object) -> None:
    (event,) = run("json", _sample(timestamp=timestamp))
    (reference,) = run_fixture("json_metric_single")
    assert event.occurred_at == reference.occurred_at
    assert event.event_id == reference.event_id


def test_sub_millisecond_digits_are_dropped() -> None:
    (event,) = run("json", _sample(timestamp=1714557540.1239))
    assert event.occurred_at == datetime(2024, 5, 1, 9, 59, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("batch", "error_type", "reason"),
    [
        ([{}], "wrong_type", "[0].service: missing"),
        (
            [_sample(), _sample(metric="cpu")],
            "wrong_type",
            "[1].metric: expected one of availability|error_rate|latency_p99_ms, got 'cpu'",
        ),
        ([_sample(value="1.0")], "wrong_type", "[0].value: expected number, got string"),
        ([_sample(value=True)], "wrong_type", "[0].value: expected number, got boolean"),
        ([_sample(), _sample(), _sample(value=float("nan"))], "invalid", "[2].value: nan is not a finite number"),
        ([_sample(value=float("inf"))], "invalid", "[0].value: inf is not a finite number"),
        ([_sample(value=10**400)], "invalid", "[0].value: "),
        ([_sample(region=5)], "wrong_type", "[0].region: expected string, got number"),
        ([_sample(labels={"pod": None})], "wrong_type", "[0].labels.pod: expected string, got null"),
        ([_sample(labels=["pod"])], "wrong_type", "[0].labels: expected object, got array"),
        ([_sample(timestamp=None)], "wrong_type", "[0].timestamp: missing"),
        ([_sample(timestamp=float("nan"))], "invalid", "[0].timestamp: nan is not a finite timestamp"),
        ([_sample(timestamp=1e300)], "invalid", "[0].timestamp: epoch 1e+300 is out of range"),
        ([3], "wrong_type", "[0]: expected object, got number"),
    ],
)
def test_batch_errors_name_the_sample(batch: list[Any], error_type: str, reason: str) -> None:
    rejects("json", batch, error_type, reason)


def test_single_sample_errors_have_no_index() -> None:
    rejects("json", _sample(service=""), "wrong_type", "service: empty string")


_labels = st.dictionaries(st.sampled_from(["env", "pod", "customer_id", "security", "outage"]), st.text(max_size=5))
_fast_shaped = st.fixed_dictionaries(
    {
        "service": st.text(min_size=1, max_size=8),
        "metric": st.sampled_from(sorted(json_metric.METRICS)),
        "value": st.one_of(st.floats(allow_nan=True), st.integers(min_value=-(2**60), max_value=2**60)),
        "timestamp": st.one_of(
            st.integers(min_value=1714550000, max_value=1714557900),
            st.integers(min_value=1714550000000, max_value=1714557900000),
            st.floats(min_value=1714550000, max_value=1714557900),
        ),
    },
    optional={
        "region": st.one_of(st.none(), st.just(""), st.text(max_size=8)),
        "labels": st.one_of(st.none(), _labels),
    },
)


@given(_fast_shaped)
def test_fast_path_agrees_with_checked_path(sample: dict[str, Any]) -> None:
    """The fast path is an accelerator only: same event, or same error, as the checked path."""
    from forewarn.processors.normalize import NormalizeError

    try:
        expected = json_metric._checked_sample(sample, 0, CTX)
    except NormalizeError as exc:
        with pytest.raises(NormalizeError) as caught:
            json_metric._sample(sample, 0, CTX)
        assert (caught.value.error_type, caught.value.reason) == (exc.error_type, exc.reason)
        return
    actual = json_metric._sample(sample, 0, CTX)
    assert isinstance(actual, ObservabilityEvent)
    assert actual == expected
    assert actual.model_dump() == expected.model_dump()
    assert actual.value is not None and math.isfinite(actual.value)


#: received in 2200, where integer epoch milliseconds no longer convert exactly by arithmetic
FAR_CTX = SignalContext.of(
    "json", datetime(2200, 1, 1, tzinfo=UTC), max_future_skew=timedelta(minutes=5), max_age=timedelta(days=30)
)
_FAR_MS = to_ms(FAR_CTX.received_at)
_near = {
    CTX: to_ms(CTX.received_at),
    FAR_CTX: _FAR_MS,
}


@given(
    _fast_shaped,
    st.sampled_from([CTX, FAR_CTX]),
    st.one_of(
        st.none(),
        st.integers(min_value=-(31 * 86_400_000), max_value=6 * 60_000),
        st.floats(min_value=-(31 * 86_400.0), max_value=360.0),
    ),
)
def test_packed_path_agrees_with_the_event_path(
    sample: dict[str, Any], ctx: SignalContext, offset: int | float | None
) -> None:
    """A packed sample is exactly the plain-sample event it replaces (same time, value,
    service...); anything else, and every error, is what the event path gives."""
    from forewarn.processors.normalize import NormalizeError

    if offset is not None:  # near the context's bounds, in milliseconds or in seconds
        base = _near[ctx]
        sample = {**sample, "timestamp": base + offset if isinstance(offset, int) else base / 1000 + offset}
    try:
        expected = json_metric._checked_sample(sample, 0, ctx)
    except NormalizeError as exc:
        with pytest.raises(NormalizeError) as caught:
            json_metric.signals([sample], ctx)
        assert (caught.value.error_type, caught.value.reason) == (exc.error_type, exc.reason)
        return
    (actual,) = json_metric.signals([sample], ctx)
    if isinstance(actual, Samples):  # the grouper packs both the same way
        assert is_sample(expected) and expected.metric is not None and expected.value is not None
        assert actual == (
            expected.service,
            expected.region,
            expected.metric,
            [to_ms(expected.occurred_at)],
            [expected.value],
        )
    else:  # flagged, per-customer, or declined by the fast path: the event itself
        assert actual == expected
        assert actual.model_dump() == expected.model_dump()


def test_signals_are_the_events_with_plain_samples_packed() -> None:
    from ._support import fixture_bytes, raw

    body = fixture_bytes("json_metric_batch")
    events = normalize(raw("json", body))
    signals = normalize_signals(raw("json", body))
    assert len(signals) == len(events) == signal_count(signals) == 3
    for event, signal in zip(events, signals, strict=True):
        if isinstance(signal, Samples):
            assert is_sample(event) and event.metric is not None and event.value is not None
            assert signal == (event.service, event.region, event.metric, [to_ms(event.occurred_at)], [event.value])
        else:
            assert signal == event
    # flagged: an event; an RFC 3339 time takes the checked path, which builds the event
    assert [type(s) for s in signals] == [Samples, ObservabilityEvent, ObservabilityEvent]


def test_a_series_packs_until_something_else_comes_between() -> None:
    """Consecutive plain samples of one series share a Samples; another series, or an event,
    starts the next one, so the grouper still sees everything in arrival order."""
    at = to_ms(CTX.received_at) - 60_000
    lat = "latency_p99_ms"
    body = [
        {"service": "db", "metric": "error_rate", "value": 1, "timestamp": at},
        {"service": "db", "metric": "error_rate", "value": 2.5, "timestamp": at + 1000},
        {"service": "db", "metric": lat, "value": 3.0, "timestamp": at + 2000},
        {
            "service": "db",
            "metric": lat,
            "value": 4.0,
            "timestamp": at + 3000,
            "labels": {"outage": "true"},
        },
        {"service": "db", "metric": lat, "value": 5.0, "timestamp": at + 4000, "labels": {"pod": "a"}},
        {"service": "db", "metric": lat, "value": 6.0, "timestamp": at + 5000, "region": "eu"},
    ]
    signals = json_metric.signals(body, CTX)
    assert [s if isinstance(s, Samples) else s.flags for s in signals] == [
        Samples("db", "global", "error_rate", [at, at + 1000], [1.0, 2.5]),
        Samples("db", "global", "latency_p99_ms", [at + 2000], [3.0]),
        ["outage"],
        Samples("db", "global", "latency_p99_ms", [at + 4000], [5.0]),
        Samples("db", "eu", "latency_p99_ms", [at + 5000], [6.0]),
    ]
    assert signal_count(signals) == len(body)


def _outcome(call: Any) -> object:
    """What a path gives: its signals, or the error it raises."""
    from forewarn.processors.normalize import NormalizeError

    try:
        return call()
    except NormalizeError as exc:
        return (exc.error_type, exc.reason)


_odd = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"timestamp": st.just("2024-05-01T10:00:00Z")}),  # RFC 3339: not typed
    st.fixed_dictionaries({"value": st.one_of(st.just("1"), st.just(True), st.none())}),
    st.fixed_dictionaries({"extra": st.just({"nested": [1]})}),  # an unknown key
    st.fixed_dictionaries({"service": st.just("")}),
    st.fixed_dictionaries({"labels": st.just({"customer_id": "c1"})}),
)


@given(
    st.lists(st.tuples(_fast_shaped, st.one_of(st.none(), _odd)), max_size=6),
    st.booleans(),
    st.booleans(),
)
def test_the_typed_decoder_agrees_with_the_generic_parse(
    samples: list[tuple[dict[str, Any], dict[str, Any] | None]], single: bool, bom: bool
) -> None:
    """``packed`` is an accelerator only: for any body, the signals or the error of ``signals``
    on the generically parsed document (NaN is written as JSON's NaN, which msgspec refuses)."""
    import json

    docs = [{**sample, **(odd or {})} for sample, odd in samples]
    doc: object = docs[0] if single and docs else docs
    body = (b"\xef\xbb\xbf" if bom else b"") + json.dumps(doc).encode()
    assert _outcome(lambda: json_metric.packed(body, CTX)) == _outcome(
        lambda: json_metric.signals(json_metric.parse_json(body), CTX)
    )


def test_the_typed_decoder_packs_a_plain_body() -> None:
    import json

    at = to_ms(CTX.received_at) - 60_000
    body = json.dumps(
        [{"service": "db", "metric": "error_rate", "value": v, "timestamp": at + v, "region": None} for v in range(3)]
    ).encode()
    assert json_metric.packed(body, CTX) == [
        Samples("db", "global", "error_rate", [at, at + 1, at + 2], [0.0, 1.0, 2.0])
    ]
    # one sample the typed pass declines is decided by the event path, in its place
    flagged = json.loads(body)
    flagged[1]["labels"] = {"outage": "true"}
    signals = json_metric.packed(json.dumps(flagged).encode(), CTX)
    assert [type(s) for s in signals] == [Samples, ObservabilityEvent, Samples]
    assert signals[1] == json_metric._checked_sample(flagged[1], 1, CTX)


_PLAIN_TEXT = '{"service":"db","metric":"error_rate","value":%s,"timestamp":%s}'


@pytest.mark.parametrize(
    "body",
    [
        b"\xff",
        b"[1",
        b"",
        b"NaN",
        b'"\\ud800"',
        (_PLAIN_TEXT % ("1.8e308", 1714557540)).encode(),  # beyond a double: no infinity gets through
        (_PLAIN_TEXT % ("1", 0)).encode(),
        (_PLAIN_TEXT % ("1", -1714557540)).encode(),
        (_PLAIN_TEXT % ("1", 10**14)).encode(),
        (_PLAIN_TEXT % ("1", "true")).encode(),
    ],
)
def test_a_body_the_typed_decoder_refuses_gets_the_generic_verdict(body: bytes) -> None:
    assert _outcome(lambda: json_metric.packed(body, CTX)) == _outcome(
        lambda: json_metric.signals(json_metric.parse_json(body), CTX)
    )
    assert isinstance(_outcome(lambda: json_metric.packed(body, CTX)), tuple)

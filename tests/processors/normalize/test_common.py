"""Shared machinery: event construction, event time, identity — checked across every fixture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.processors.normalize import NormalizeError
from forewarn.processors.normalize._common import construct_event
from forewarn.processors.normalize._time import parse_time
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import ObservabilityEvent

from ._support import FIXTURE_SOURCES, RECEIVED_AT, fixture_bytes, raw, run, run_fixture

FIXTURES = sorted(FIXTURE_SOURCES)
ALL_EVENTS = [(name, event) for name in FIXTURES for event in run_fixture(name)]


@pytest.mark.parametrize(("name", "event"), ALL_EVENTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ALL_EVENTS)])
def test_constructed_events_equal_validated_ones(name: str, event: ObservabilityEvent) -> None:
    """Construction skips validation; this is what keeps it honest if the model changes."""
    validated = ObservabilityEvent.model_validate(event.model_dump())
    assert validated == event
    assert validated.model_dump() == event.model_dump()
    assert ObservabilityEvent.model_construct(**event.model_dump()) == event
    assert event.model_fields_set == set(ObservabilityEvent.model_fields)
    assert event.model_copy(update={"summary": "x"}).summary == "x"


@pytest.mark.parametrize(("name", "event"), ALL_EVENTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ALL_EVENTS)])
def test_events_survive_the_wire_unchanged(name: str, event: ObservabilityEvent) -> None:
    """Event time is cut to milliseconds up front, so Avro ``timestamp-millis`` changes nothing."""
    assert decode(encode(event), ObservabilityEvent) == event


def test_construct_event_needs_every_field() -> None:
    (event,) = run_fixture("json_metric_single")
    assert construct_event(dict(event.__dict__)) == event


@pytest.mark.parametrize("name", FIXTURES)
def test_duplicate_delivery_gives_identical_event_ids(name: str) -> None:
    signal = raw(FIXTURE_SOURCES[name], fixture_bytes(name))
    first = run(signal.source, signal.body)
    again = run(signal.source, signal.body)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first == again


@pytest.mark.parametrize("name", sorted(set(FIXTURES) - {"pagerduty_acknowledge", "pagerduty_resolve"}))
def test_a_later_redelivery_keeps_the_ids(name: str) -> None:
    """An exporter retry is received later; ids hang on what the source said, not on our clock."""
    first = run_fixture(name)
    later = run(FIXTURE_SOURCES[name], fixture_bytes(name), received_at=RECEIVED_AT + timedelta(minutes=3))
    assert [e.event_id for e in first] == [e.event_id for e in later]


def test_payloadless_pagerduty_events_take_their_time_and_so_their_id_from_the_record() -> None:
    """PD sends no time on a bare ack/resolve. Keying it on received_at keeps a second resolve of
    the same key (after a re-trigger) from being dropped as a duplicate of the first."""
    first = run_fixture("pagerduty_resolve")
    later = run("pagerduty", fixture_bytes("pagerduty_resolve"), received_at=RECEIVED_AT + timedelta(hours=1))
    assert first[0].event_id != later[0].event_id


def test_event_ids_are_distinct_hex_digests() -> None:
    ids = [event.event_id for _, event in ALL_EVENTS]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_status_and_value_are_part_of_the_identity() -> None:
    (triggered,) = run_fixture("datadog_triggered")
    (recovered,) = run_fixture("datadog_recovered")
    assert triggered.source_ref == recovered.source_ref
    assert triggered.event_id != recovered.event_id
    sample = {"service": "s", "metric": "error_rate", "timestamp": 1714557540000}
    (low,) = run("json", {**sample, "value": 0.01})
    (high,) = run("json", {**sample, "value": 0.02})
    assert low.event_id != high.event_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T09:59:00Z", datetime(2024, 5, 1, 9, 59, tzinfo=UTC)),
        ("2024-05-01T09:59:00.123456789Z", datetime(2024, 5, 1, 9, 59, 0, 123456, tzinfo=UTC)),
        ("2024-05-01T11:59:00+02:00", datetime(2024, 5, 1, 9, 59, tzinfo=UTC)),
        ("2024-05-01T09:59:00.5+0000", datetime(2024, 5, 1, 9, 59, 0, 500000, tzinfo=UTC)),
        ("2024-05-01t09:59:00z", datetime(2024, 5, 1, 9, 59, tzinfo=UTC)),
        ("2024-05-01T09:59:00", datetime(2024, 5, 1, 9, 59, tzinfo=UTC)),
        (1714557540, datetime(2024, 5, 1, 9, 59, tzinfo=UTC)),
        (1714557540.25, datetime(2024, 5, 1, 9, 59, 0, 250000, tzinfo=UTC)),
        (1714557540250, datetime(2024, 5, 1, 9, 59, 0, 250000, tzinfo=UTC)),
        ("1714557540250", datetime(2024, 5, 1, 9, 59, 0, 250000, tzinfo=UTC)),
        ("1566248777.677", datetime(2019, 8, 19, 21, 6, 17, 677000, tzinfo=UTC)),
    ],
)
def test_parse_time_forms(value: object, expected: datetime) -> None:
    parsed = parse_time(value, "t")
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "error_type"),
    [("", "wrong_type"), ("noon", "wrong_type"), (None, "wrong_type"), ([], "wrong_type"), (float("inf"), "invalid")],
)
def test_parse_time_rejects(value: object, error_type: str) -> None:
    with pytest.raises(NormalizeError) as caught:
        parse_time(value, "a.b")
    assert caught.value.error_type == error_type
    assert caught.value.reason.startswith("a.b: ")


def test_received_at_in_another_zone_is_moved_to_utc() -> None:
    cest = timezone(timedelta(hours=2))
    (event,) = run("json", fixture_bytes("json_metric_single"), received_at=datetime(2024, 5, 1, 12, 0, tzinfo=cest))
    assert event.received_at == RECEIVED_AT and event.received_at.tzinfo is UTC


def _reference_bounds(received_at: datetime, skew: timedelta, age: timedelta) -> tuple[datetime, int, int]:
    """The bounds spelled out the slow way: shift the datetime, clamp at the calendar, round inwards."""
    from forewarn.processors.normalize._time import EPOCH, MILLISECOND, to_millis

    received = to_millis(
        (received_at.replace(tzinfo=UTC) if received_at.tzinfo is None else received_at).astimezone(UTC)
    )
    try:
        earliest = received - age
    except OverflowError:
        earliest = datetime.min.replace(tzinfo=UTC)
    try:
        latest = received + skew
    except OverflowError:
        latest = datetime.max.replace(tzinfo=UTC)
    return received, -((EPOCH - earliest) // MILLISECOND), (latest - EPOCH) // MILLISECOND


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=11))]),
    st.one_of(
        st.timedeltas(min_value=timedelta(0)), st.sampled_from([timedelta(minutes=5), timedelta(microseconds=1500)])
    ),
    st.one_of(st.timedeltas(min_value=timedelta(0)), st.sampled_from([timedelta(days=30), timedelta(days=10**6)])),
)
def test_context_bounds_are_the_shifted_times_rounded_inwards(
    at: datetime, zone: timezone | None, skew: timedelta, age: timedelta
) -> None:
    from forewarn.processors.normalize import SignalContext

    received_at = at.replace(tzinfo=zone)
    try:
        received_at.astimezone(UTC)
    except OverflowError:
        return  # no UTC instant at the calendar's edge
    ctx = SignalContext.of("json", received_at, max_future_skew=skew, max_age=age)
    received, earliest_ms, latest_ms = _reference_bounds(received_at, skew, age)
    assert (ctx.received_at, ctx.earliest_ms, ctx.latest_ms) == (received, earliest_ms, latest_ms)
    assert ctx.received_at.tzinfo is UTC

"""PagerDuty events placed by dedup key: a key-only acknowledge/resolve lands on its trigger's
incident whatever the key looks like, and one that cannot be placed says why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from forewarn.processors.detect.dedup import DedupRoute, Routed, keyed_by_dedup, route
from forewarn.processors.normalize import normalize
from forewarn.processors.normalize.pagerduty import KEY_ONLY
from forewarn.schemas.models import ObservabilityEvent, RawSignal, SignalStatus

from ._support import Harness, batch

AT = datetime(2026, 11, 23, 16, 10, tzinfo=UTC)
KEY = "srv01/mysql"
BILLING = DedupRoute(service="billing", region="us-west", symptom="outage")


def pagerduty(action: str, key: str = KEY, minutes: float = 0, **payload: object) -> ObservabilityEvent:
    body: dict[str, object] = {"event_action": action, "dedup_key": key}
    if payload:
        body["payload"] = payload
    received = AT + timedelta(minutes=minutes)
    raw = RawSignal(source="pagerduty", received_at=received, body=json.dumps(body).encode())
    (event,) = normalize(raw)
    return event


def trigger(key: str = KEY) -> ObservabilityEvent:
    return pagerduty(
        "trigger",
        key,
        summary="MySQL primary srv01 down",
        source="srv01",
        severity="critical",
        component="billing",
        **{"class": "outage", "custom_details": {"region": "us-west"}},
    )


def test_a_trigger_records_its_identity_once() -> None:
    event = trigger()
    assert keyed_by_dedup(event)
    assert route(event, None) == Routed(event, BILLING)
    assert route(event, BILLING) == Routed(event)  # known already: no table write


def test_a_key_only_acknowledge_takes_its_triggers_identity() -> None:
    ack = pagerduty("acknowledge", minutes=5)
    assert (ack.service, ack.region, KEY_ONLY in ack.labels) == (KEY, "global", True)
    placed = route(ack, BILLING).event
    assert placed is not None
    assert (placed.service, placed.region, placed.symptom) == ("billing", "us-west", "outage")
    assert (placed.status, placed.source_ref, placed.event_id, placed.labels) == (
        SignalStatus.acknowledged,
        KEY,
        ack.event_id,  # same identity for duplicate detection: same source, key, status and time
        {},
    )


def test_a_convention_key_nobody_triggered_is_placed_where_it_reads() -> None:
    resolve = pagerduty("resolve", "payments|eu-west|latency")
    placed = route(resolve, None).event
    assert placed is not None
    assert (placed.service, placed.region, placed.symptom, placed.labels) == ("payments", "eu-west", "latency", {})


def test_the_triggers_identity_wins_over_what_a_convention_key_reads() -> None:
    placed = route(pagerduty("resolve", "billing|eu-central|outage"), BILLING).event
    assert placed is not None and (placed.service, placed.region) == ("billing", "us-west")


def test_a_foreign_key_no_trigger_used_cannot_be_placed() -> None:
    routed = route(pagerduty("resolve", "srv99/redis"), None)
    assert routed.event is None and routed.record is None
    assert routed.reason is not None
    assert routed.reason.startswith("dedup_key: 'srv99/redis' (resolved) names no trigger")


def test_an_acknowledge_with_its_own_payload_is_left_as_it_says() -> None:
    ack = pagerduty("acknowledge", summary="ack", source="srv01", severity="info", component="search")
    assert route(ack, BILLING) == Routed(ack)


def test_other_sources_do_not_take_the_detour() -> None:
    assert not keyed_by_dedup(trigger().model_copy(update={"source": "alertmanager"}))


def test_placed_events_open_identify_and_resolve_one_incident() -> None:
    """The whole point: trigger, ack and resolve of a foreign key reach one incident."""
    h, known = Harness(), None
    for event in (trigger(), pagerduty("acknowledge", minutes=5), pagerduty("resolve", minutes=30)):
        routed = route(event, known)
        known = routed.record or known
        assert routed.event is not None
        h.feed(batch(region="us-west", events=[routed.event]))
    assert [(i.version, i.change, i.phase.value) for i in h.published] == [
        (1, "opened", "investigating"),
        (2, "phase", "identified"),
        (3, "resolved", "resolved"),
    ]
    assert h.published[-1].acknowledged_at == AT + timedelta(minutes=5)

"""PagerDuty events placed by dedup key: a key-only acknowledge/resolve lands on its trigger's
incident whatever the key looks like, and one that cannot be placed says why. Routes are kept
while their incident may still hear from PagerDuty and forgotten after that, by one rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.policy_rules import DedupRules
from forewarn.processors.detect.dedup import (
    DedupRoute,
    Routed,
    Swept,
    Tidy,
    keyed_by_dedup,
    on_sweep,
    route,
    sweep_request,
    tidy,
)
from forewarn.processors.normalize import normalize
from forewarn.processors.normalize.pagerduty import KEY_ONLY
from forewarn.schemas.models import DedupSweep, ObservabilityEvent, RawSignal, SignalStatus

from ._support import Harness, batch

AT = datetime(2026, 11, 23, 16, 10, tzinfo=UTC)
#: The stage's wall clock, which has nothing to do with the events' times.
NOW = datetime(2027, 2, 1, 8, 0, tzinfo=UTC)
KEY = "srv01/mysql"
BILLING = DedupRoute(service="billing", region="us-west", symptom="outage")
RULES = DedupRules()  # resolved_grace 24 h, idle_max 30 d


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


def used(at: datetime = NOW, *, resolved: bool = False) -> DedupRoute:
    return BILLING.model_copy(update={"used_at": at, "resolved": resolved})


def test_a_trigger_records_its_identity_and_when_it_was_seen() -> None:
    event = trigger()
    assert keyed_by_dedup(event)
    assert route(event, None, NOW) == Routed(event, used())
    later = NOW + timedelta(hours=1)
    assert route(event, used(), later) == Routed(event, used(later))  # a redelivery uses it again


def test_a_key_only_acknowledge_takes_its_triggers_identity() -> None:
    ack = pagerduty("acknowledge", minutes=5)
    assert (ack.service, ack.region, KEY_ONLY in ack.labels) == (KEY, "global", True)
    placed = route(ack, BILLING, NOW).event
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
    routed = route(resolve, None, NOW)
    placed = routed.event
    assert placed is not None and routed.record is None  # no trigger, nothing to remember
    assert (placed.service, placed.region, placed.symptom, placed.labels) == ("payments", "eu-west", "latency", {})


def test_the_triggers_identity_wins_over_what_a_convention_key_reads() -> None:
    placed = route(pagerduty("resolve", "billing|eu-central|outage"), BILLING, NOW).event
    assert placed is not None and (placed.service, placed.region) == ("billing", "us-west")


def test_a_foreign_key_no_trigger_used_cannot_be_placed() -> None:
    routed = route(pagerduty("resolve", "srv99/redis"), None, NOW)
    assert routed.event is None and routed.record is None
    assert routed.reason is not None
    assert routed.reason.startswith("dedup_key: 'srv99/redis' (resolved) names no trigger")


def test_an_acknowledge_with_its_own_payload_is_left_as_it_says() -> None:
    ack = pagerduty("acknowledge", summary="ack", source="srv01", severity="info", component="search")
    assert route(ack, used(), NOW) == Routed(ack, used())  # but it is its key's route in use


def test_other_sources_do_not_take_the_detour() -> None:
    assert not keyed_by_dedup(trigger().model_copy(update={"source": "alertmanager"}))


def test_placed_events_open_identify_and_resolve_one_incident() -> None:
    """The whole point: trigger, ack and resolve of a foreign key reach one incident."""
    h, known = Harness(), None
    for event in (trigger(), pagerduty("acknowledge", minutes=5), pagerduty("resolve", minutes=30)):
        routed = route(event, known, NOW)
        known = routed.record or known
        assert routed.event is not None
        h.feed(batch(region="us-west", events=[routed.event]))
    assert [(i.version, i.change, i.phase.value) for i in h.published] == [
        (1, "opened", "investigating"),
        (2, "phase", "identified"),
        (3, "resolved", "resolved"),
    ]
    assert h.published[-1].acknowledged_at == AT + timedelta(minutes=5)


# -- keeping routes as long as they matter -----------------------------------------------


def test_each_use_stamps_the_stage_clock_and_a_resolve_is_remembered() -> None:
    t1, t2, t3 = NOW, NOW + timedelta(minutes=5), NOW + timedelta(minutes=30)
    ack = route(pagerduty("acknowledge", minutes=5), used(t1), t2).record
    assert ack == used(t2)
    resolved = route(pagerduty("resolve", minutes=30), ack, t3).record
    assert resolved == used(t3, resolved=True)
    # a late duplicate acknowledge does not undo the resolve; a new trigger opens a new incident
    assert route(pagerduty("acknowledge", minutes=5), resolved, t3 + timedelta(hours=2)).record == used(
        t3 + timedelta(hours=2), resolved=True
    )
    assert route(trigger(), resolved, t3 + timedelta(hours=3)).record == used(t3 + timedelta(hours=3))


def test_a_resolve_with_its_own_payload_also_resolves_its_keys_route() -> None:
    resolve = pagerduty("resolve", summary="fixed", source="srv01", severity="info", component="billing")
    assert route(resolve, used(), NOW + timedelta(minutes=1)).record == used(NOW + timedelta(minutes=1), resolved=True)


def test_a_route_never_moves_back_in_time() -> None:
    """After a rebalance, a worker whose clock is behind must not shorten a route's life."""
    behind = NOW - timedelta(minutes=10)
    assert route(pagerduty("resolve"), used(), behind).record == used(NOW, resolved=True)


def test_a_route_stored_before_routes_kept_their_time_still_places_and_is_dated_on_use() -> None:
    old = DedupRoute.model_validate_json(b'{"service":"billing","region":"us-west","symptom":"outage"}')
    assert old == BILLING and old.used_at is None and not old.resolved
    routed = route(pagerduty("resolve", minutes=30), old, NOW)
    assert routed.event is not None and routed.event.service == "billing"
    assert routed.record == used(NOW, resolved=True)


def test_stored_routes_read_back_as_they_were_written() -> None:
    for stored in (used(), used(NOW + timedelta(milliseconds=1), resolved=True)):
        assert DedupRoute.model_validate_json(stored.model_dump_json()) == stored


def test_resolved_routes_go_after_the_grace_unresolved_ones_after_idle_max() -> None:
    grace, idle = RULES.resolved_grace, RULES.idle_max
    milli = timedelta(milliseconds=1)
    assert tidy(used(resolved=True), NOW + grace - milli, RULES) is Tidy.keep
    assert tidy(used(resolved=True), NOW + grace, RULES) is Tidy.resolved
    assert tidy(used(), NOW + grace, RULES) is Tidy.keep  # the incident is still open
    assert tidy(used(), NOW + idle - milli, RULES) is Tidy.keep
    assert tidy(used(), NOW + idle, RULES) is Tidy.idle
    assert tidy(used(), NOW - timedelta(days=400), RULES) is Tidy.keep  # a clock behind the route's
    assert tidy(BILLING, NOW + idle * 10, RULES) is Tidy.undated


@given(
    unused=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90)),
    resolved=st.booleans(),
    grace=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=10)),
    extra=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)),
)
def test_stale_exactly_when_resolved_past_the_grace_or_unused_past_idle_max(
    unused: timedelta, resolved: bool, grace: timedelta, extra: timedelta
) -> None:
    rules = DedupRules(resolved_grace=grace, idle_max=grace + extra)
    found = tidy(used(resolved=resolved), NOW + unused, rules)
    stale = (resolved and unused >= grace) or unused >= rules.idle_max
    assert (found is not Tidy.keep) == stale
    if stale:
        assert found is (Tidy.resolved if resolved and unused >= grace else Tidy.idle)
        # what the stage decides on the sweep's request, with the same clock: forget it
        assert on_sweep(used(resolved=resolved), NOW + unused, rules) == Swept(found, drop=True)
        # and it stays stale as time goes on
        assert tidy(used(resolved=resolved), NOW + unused + timedelta(days=1), rules) is not Tidy.keep
    # a use restarts it
    assert tidy(used(NOW + unused, resolved=resolved), NOW + unused, rules) is Tidy.keep


def test_a_sweep_asks_about_stale_and_undated_routes_only() -> None:
    later = NOW + RULES.resolved_grace
    assert sweep_request(KEY, used(), later, RULES) is None
    assert sweep_request(KEY, used(resolved=True), later, RULES) == DedupSweep(
        dedup_key=KEY, reason="resolved", last_used_at=NOW, swept_at=later
    )
    assert sweep_request(KEY, BILLING, later, RULES) == DedupSweep(
        dedup_key=KEY, reason="undated", last_used_at=None, swept_at=later
    )


def test_the_stage_decides_again_when_the_sweeps_request_arrives() -> None:
    asked_at = NOW + RULES.resolved_grace
    assert sweep_request(KEY, used(resolved=True), asked_at, RULES) is not None
    # a duplicate resolve came in between: used since, so kept
    reused = route(pagerduty("resolve"), used(resolved=True), asked_at).record
    assert reused is not None
    assert on_sweep(reused, asked_at + timedelta(seconds=1), RULES) == Swept(Tidy.keep)
    assert on_sweep(None, asked_at, RULES) == Swept(None)  # forgotten already: asked twice


def test_an_undated_route_is_dated_once_and_then_ages_as_an_open_incident() -> None:
    """After the upgrade: neither dropped at once (its incident may be open) nor kept forever."""
    dated = on_sweep(BILLING, NOW, RULES)
    assert dated == Swept(Tidy.undated, record=used(NOW))
    assert dated.record is not None
    assert tidy(dated.record, NOW + RULES.idle_max - timedelta(milliseconds=1), RULES) is Tidy.keep
    assert on_sweep(dated.record, NOW + RULES.idle_max, RULES) == Swept(Tidy.idle, drop=True)


def test_a_grace_longer_than_idle_max_is_refused() -> None:
    with pytest.raises(ValueError, match=r"resolved_grace .* must not exceed idle_max"):
        DedupRules(resolved_grace=timedelta(days=40))

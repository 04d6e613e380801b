"""100,000 customers and a regional incident, through the real broker: the worker targets exactly
the set a brute-force pass over the same snapshot computes, and reports the share affected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from factories import T0
from fanout_support import (
    commands,
    incident,
    publish,
    publish_customers,
    reference,
    wait_table,
    wait_targeted,
    with_web_port,
    worker,
)
from forewarn.config import Settings
from forewarn.demo.population import population
from forewarn.processors.ids import notification_id
from forewarn.publish import read_topic
from forewarn.schemas.codec import decode
from forewarn.schemas.models import DeadLetter, ImpactReport

pytestmark = pytest.mark.broker

CUSTOMERS = 100_000
POLICY = {
    "services": {"payments": {"plans": ["pro", "business", "enterprise"], "features": ["payments", "checkout"]}},
    "active_within_hours": 72,
}


def test_regional_incident_over_100k_customers_targets_exactly_the_reference_set(
    settings: Settings, tmp_path: Path
) -> None:
    settings = with_web_port(settings)
    outage = incident(1)
    with worker(settings, tmp_path, POLICY) as proc:  # it boots while the snapshot is made and published
        snapshot = list(population(CUSTOMERS, T0))
        publish_customers(settings, snapshot)
        wait_table(settings, proc, CUSTOMERS, timeout_s=180)
        publish(settings, "incidents", outage)
        wait_targeted(settings, proc, timeout_s=180)
    active_since = T0 - timedelta(hours=72)
    expected = reference(
        snapshot,
        region="eu-west",
        plans=POLICY["services"]["payments"]["plans"],  # type: ignore[index]
        features=["payments", "checkout"],
        active_since=active_since,
    )
    assert 3_000 < len(expected) < 30_000  # the filters cut, but leave a real fan-out

    got = commands(settings)
    assert {(c.customer_id, c.channel.value) for c in got} == expected
    assert {c.notification_id for c in got} == {
        notification_id(outage.incident_id, 1, cid, channel) for cid, channel in expected
    }
    assert {c.incident_version for c in got} == {1}

    reports = [decode(m.value(), ImpactReport) for m in read_topic(settings, "impact")]
    by_partition = {r.partition: r for r in reports}  # a replay may repeat one; the latest wins
    assert set(by_partition) == {0, 1} and {r.partitions for r in reports} == {2}
    assert sum(r.affected for r in by_partition.values()) == len({cid for cid, _ in expected})
    active = sum(1 for s in snapshot if any(t >= active_since for t in s.last_active.values()))
    assert sum(r.active_total for r in by_partition.values()) == active
    letters = [decode(m.value(), DeadLetter) for m in read_topic(settings, "deadletter")]
    assert [(x.stage, x.reason) for x in letters if x.stage in ("customers", "target")] == []

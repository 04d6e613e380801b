"""Two workers share the customer table: fan-out splits across them, and either answers for any customer.

The issue's "targeting that scales out" through the real broker: each worker holds one partition of
``customers``, the targeting request reaches both, and together they emit exactly the set a
brute-force pass over the snapshot computes — no customer twice, none missing. ``customers show``
asked of one worker for a customer the other holds is forwarded to the owner.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from factories import T0
from fanout_support import commands, incident, publish, publish_customers, reference, worker
from forewarn.config import Settings
from forewarn.demo.mailbox import free_port
from forewarn.demo.population import population
from forewarn.process import WorkerProcess
from forewarn.publish import group_caught_up, read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import ImpactReport

pytestmark = pytest.mark.broker

CUSTOMERS = 3_000
POLICY = {
    "services": {"payments": {"plans": ["pro", "business", "enterprise"], "features": ["payments", "checkout"]}},
    "active_within_hours": 72,
}


def _get(settings: Settings, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}{path}", timeout=15) as response:
        return json.load(response)


def _summary(settings: Settings) -> dict[str, Any] | None:
    try:
        body: dict[str, Any] = _get(settings, "/customers")
    except OSError:
        return None
    return body


def test_two_workers_split_the_table_and_together_target_exactly_the_reference_set(
    settings: Settings, tmp_path: Path
) -> None:
    one = settings.model_copy(update={"web_port": free_port(), "data_dir": tmp_path / "one" / "data"})
    two = settings.model_copy(update={"web_port": free_port(), "data_dir": tmp_path / "two" / "data"})
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    outage = incident(1)
    with worker(one, tmp_path / "one", POLICY) as first, worker(two, tmp_path / "two", POLICY) as second:
        snapshot = list(population(CUSTOMERS, T0))
        publish_customers(settings, snapshot)
        procs: list[WorkerProcess] = [first, second]

        def split() -> bool:
            for proc in procs:
                proc.check()
            views = [_summary(one), _summary(two)]
            if any(v is None or not v["ready"] for v in views):
                return False
            held = [set(v["partitions"]) for v in views if v is not None]
            # Every id applied once between them (ids are unique): the table is whole, whatever the
            # group's committed offsets on `customers` say (a re-read after the rebalance is harmless).
            return (
                held[0].isdisjoint(held[1])
                and all(held)  # one partition each, after the second worker's join rebalanced
                and sum(v["customers"] for v in views if v is not None) == CUSTOMERS
            )

        try:
            wait_until(split, 180, "both workers to hold one partition each and the whole table between them", 0.5)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {_summary(one)} / {_summary(two)}") from None
        views = [_summary(one), _summary(two)]
        assert views[0] is not None and views[1] is not None
        assert len(views[0]["workers"]) == 2 and views[0]["workers"] == views[1]["workers"]

        # Any worker answers for any customer: each of these lives on exactly one of the two.
        for segment in snapshot[:40]:
            via_one = _get(one, f"/customers/{segment.customer_id}")
            via_two = _get(two, f"/customers/{segment.customer_id}")
            assert via_one == via_two
            assert via_one["customer"]["customer_id"] == segment.customer_id
        partitions_seen = {_get(one, f"/customers/{s.customer_id}")["index"]["partition"] for s in snapshot[:40]}
        assert partitions_seen == {0, 1}  # so some of those answers were forwarded

        publish(settings, "incidents", outage)

        def targeted() -> bool:
            first.check()
            second.check()
            return group_caught_up(settings, settings.app_id, ["incidents", "targeting"])

        wait_until(targeted, 180, "both workers to target every partition", 0.5)

    expected = reference(
        snapshot,
        region="eu-west",
        plans=POLICY["services"]["payments"]["plans"],  # type: ignore[index]
        features=["payments", "checkout"],
        active_since=T0 - timedelta(hours=72),
    )
    assert len(expected) > 50
    got = commands(settings)
    assert sorted((c.customer_id, c.channel.value) for c in got) == sorted(expected)  # none twice, none missing
    reports = [decode(m.value(), ImpactReport) for m in read_topic(settings, "impact")]
    assert {r.partition for r in reports} == {0, 1}

"""An incident that arrives while the worker is still reading its customer table, through the
real broker: targeting waits until the table holds what the topic held, so the first notice
reaches exactly the reference set, not whoever had been read so far."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Producer

from factories import T0
from fanout_support import (
    commands,
    incident,
    publish,
    publish_customers,
    reference,
    wait_targeted,
    with_web_port,
    worker,
)
from forewarn.config import Settings
from forewarn.demo.population import population
from forewarn.publish import group_caught_up, producer_config, wait_until
from forewarn.schemas.codec import encode
from forewarn.topics import TopicNames

pytestmark = pytest.mark.broker

CUSTOMERS = 30_000


def metric(settings: Settings, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/metrics", timeout=5) as r:
        found = re.search(rf"^{name} (\S+)$", r.read().decode(), re.M)
    assert found, f"{name} is not on /metrics"
    return float(found.group(1))


def test_an_incident_during_the_first_table_load_targets_everyone(settings: Settings, tmp_path: Path) -> None:
    settings = with_web_port(settings)
    snapshot = list(population(CUSTOMERS, T0))
    publish_customers(settings, snapshot)  # all of it queued before the worker reads any
    outage = incident(1)
    with worker(settings, tmp_path) as proc:
        publish(settings, "incidents", outage)  # no wait for the table: that is the point
        wait_targeted(settings, proc, timeout_s=180)
        assert metric(settings, "forewarn_targeting_table_waits_total") >= 1  # the race was there to lose
        assert metric(settings, "forewarn_targeting_table_stale_total") == 0
    expected = reference(snapshot, region="eu-west")
    assert {(c.customer_id, c.channel.value) for c in commands(settings)} == expected


def test_a_table_written_in_a_transaction_does_not_wait_out_the_cap(settings: Settings, tmp_path: Path) -> None:
    """Kafka Connect's exactly-once sources write in transactions: each partition's log then ends
    in a commit marker, an offset no agent is handed. Targeting must see that nothing is left to
    apply instead of waiting the full FOREWARN_TABLE_WAIT_S on every request."""
    settings = with_web_port(settings)
    snapshot = list(population(3_000, T0))
    producer = Producer({**producer_config(settings), "transactional.id": f"{settings.app_id}-loader"})
    producer.init_transactions(30)
    producer.begin_transaction()
    topic = TopicNames(settings.topic_prefix)("customers")
    for segment in snapshot:
        producer.produce(topic, encode(segment), segment.customer_id.encode())
    producer.commit_transaction(30)
    expected = reference(snapshot, region="eu-west")
    # the first start reads the table; the second starts from the group's committed offsets,
    # which stop one short of each partition's end (the marker is never handed over)
    for version, minute in ((1, 0), (2, 45)):
        with worker(settings, tmp_path, env={"FOREWARN_TABLE_WAIT_S": "600"}) as proc:
            publish(settings, "incidents", incident(version, minute))

            def targeted() -> bool:  # the customers group never looks caught up: the marker stays uncommitted
                proc.check()
                return group_caught_up(settings, settings.app_id, ["incidents", "targeting"])

            wait_until(targeted, 120, f"v{version} to be targeted well inside the 600 s cap", interval_s=0.5)
            assert metric(settings, "forewarn_targeting_table_waits_total") >= 1  # the marker left it one short
            assert metric(settings, "forewarn_targeting_table_stale_total") == 0
        told = {(c.customer_id, c.channel.value) for c in commands(settings) if c.incident_version == version}
        assert told == expected

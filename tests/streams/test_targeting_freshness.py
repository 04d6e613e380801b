"""An incident that arrives while the worker is still reading its customer table, through the
real broker: targeting waits until the table holds what the topic held, so the first notice
reaches exactly the reference set, not whoever had been read so far."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

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

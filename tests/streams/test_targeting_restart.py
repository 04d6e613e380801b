"""A worker killed in the middle of a fan-out and started again, through the real broker: every
expected command exists exactly once by notification id (re-sends allowed, gaps not), and a
sink delivers each id once however often it was re-sent. A worker killed while loading the
table leaves a changelog from which a cold worker, with the rest of the topic, holds everyone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from factories import SHORT_SESSION, T0
from fanout_support import (
    PERSONAL,
    commands,
    incident,
    publish,
    publish_customers,
    records_in,
    reference,
    table_size,
    wait_table,
    wait_targeted,
    with_web_port,
    worker,
)
from forewarn.config import Settings
from forewarn.demo.population import population
from forewarn.processors.ids import notification_id
from forewarn.publish import wait_until
from forewarn.schemas.models import Channel, DeliveryStatus, NotificationCommand
from forewarn.sinks.base import Deliverer, ProviderResult, Sink, SqliteDeliveredStore

pytestmark = pytest.mark.broker

CUSTOMERS = 30_000
LOAD = 20_000


class CountingSink(Sink):
    channel = Channel.email
    provider = "counting"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, command: NotificationCommand) -> ProviderResult:
        self.sent.append(command.notification_id)
        return ProviderResult("250 accepted")


def test_kill_mid_fan_out_then_restart_loses_nothing_and_sinks_send_once(settings: Settings, tmp_path: Path) -> None:
    settings = with_web_port(settings)
    snapshot = list(population(CUSTOMERS, T0))
    outage = incident(1)
    expected = reference(snapshot, region="eu-west")
    expected_ids = {notification_id(outage.incident_id, 1, cid, ch) for cid, ch in expected}
    topics = [f"notify.{c}" for c in PERSONAL]

    first = worker(settings, tmp_path, env=SHORT_SESSION).start()
    try:
        publish_customers(settings, snapshot)
        wait_table(settings, first, CUSTOMERS, timeout_s=120)
        publish(settings, "incidents", outage)

        def midway() -> bool:
            first.check()
            return records_in(settings, topics) >= len(expected) // 3

        wait_until(midway, 120, "a third of the fan-out", interval_s=0.05)
    finally:
        first.kill()
    at_kill = records_in(settings, topics)
    assert at_kill < len(expected), "the fan-out finished before the kill; nothing was tested"

    with worker(settings, tmp_path, env=SHORT_SESSION) as second:
        wait_targeted(settings, second, timeout_s=180)

    got = commands(settings)
    ids = [c.notification_id for c in got]
    assert set(ids) == expected_ids  # nothing missing, nothing extra
    assert {(c.customer_id, c.channel.value) for c in got} == expected
    print(f"killed at {at_kill}/{len(expected)} commands; re-sent after restart: {len(ids) - len(expected_ids)}")

    emails = [c for c in got if c.channel is Channel.email]
    sink = CountingSink()
    deliverer = Deliverer(sink, SqliteDeliveredStore(tmp_path / "delivered.sqlite"), clock=lambda: T0)

    async def deliver_all() -> list[DeliveryStatus]:
        return [(await deliverer.deliver(c)).status for c in emails + emails[:100]]  # and a replay on top

    statuses = asyncio.run(deliver_all())
    assert sorted(sink.sent) == sorted({c.notification_id for c in emails})
    assert statuses.count(DeliveryStatus.delivered) == len(sink.sent)
    assert statuses.count(DeliveryStatus.duplicate) == len(statuses) - len(sink.sent)


def test_kill_mid_load_then_a_cold_worker_holds_every_customer(settings: Settings, tmp_path: Path) -> None:
    settings = with_web_port(settings)
    for sub in ("first", "cold"):
        (tmp_path / sub).mkdir()
    first = worker(settings, tmp_path / "first", env=SHORT_SESSION).start()
    try:
        wait_table(settings, first, 0)
        publish_customers(settings, list(population(LOAD, T0)))

        seen: list[int] = []

        def midway() -> bool:
            first.check()
            seen.append(table_size(settings) or 0)
            return seen[-1] >= LOAD // 3

        wait_until(midway, 120, "a third of the table loaded", interval_s=0.05)
    finally:
        first.kill()
    assert seen[-1] < LOAD, "the load finished before the kill; nothing was tested"

    cold = settings.model_copy(update={"data_dir": tmp_path / "cold" / "data"})
    with worker(cold, tmp_path / "cold", env=SHORT_SESSION) as second:
        # the changelog up to the kill, then the customers topic from the committed offset
        wait_table(cold, second, LOAD, timeout_s=180)
    assert "bulk-restored" in (tmp_path / "cold" / "worker.log").read_text()

"""The worker's Kafka consumer: aiokafka's, as faust-streaming builds it, with a short long-poll."""

from __future__ import annotations

from pathlib import Path

from faust.transport.drivers import aiokafka as driver

from forewarn.config import Settings
from forewarn.streams.app import create_app
from forewarn.streams.transport import FETCH_MAX_WAIT_MS, KafkaTransport


async def test_the_consumer_aiokafka_is_given_holds_a_fetch_at_most_the_short_wait(tmp_path: Path) -> None:
    app, _ = create_app(Settings(data_dir=tmp_path), roles=frozenset())
    assert isinstance(app.transport, KafkaTransport)
    consumer = app.consumer  # as the worker builds it
    thread = consumer._new_consumer_thread()
    aiokafka_consumer = thread._create_worker_consumer(app.transport)  # built, not started: no broker
    assert aiokafka_consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS < 1500
    # everything else is faust-streaming's: the same class, the group and offsets it configures
    assert type(aiokafka_consumer) is driver.aiokafka.AIOKafkaConsumer
    assert aiokafka_consumer._group_id == app.conf.id
    assert aiokafka_consumer._enable_auto_commit is False


def test_another_driver_is_left_as_faust_builds_it(tmp_path: Path) -> None:
    app, _ = create_app(Settings(data_dir=tmp_path), roles=frozenset())
    app.conf.broker = "confluent://localhost:9092"
    assert not isinstance(app.transport, KafkaTransport)

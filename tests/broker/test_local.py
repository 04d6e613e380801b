"""The local broker: lifecycle, guard rails, and data that outlives a restart."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from forewarn.broker.admin import create_topics
from forewarn.broker.local import BrokerError, LocalKafka, free_port
from forewarn.config import Settings
from forewarn.topics import TopicNames


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_stop_without_a_broker_is_a_no_op(tmp_path: Path) -> None:
    broker = LocalKafka(tmp_path, port=free_port())
    assert broker.stop() is False
    assert broker.status().running is False


def test_missing_maven_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(BrokerError, match=r"Maven \(mvn\) is needed.*empty-libs"):
        LocalKafka(tmp_path / "home", libs_dir=tmp_path / "empty-libs").ensure_jars()


@pytest.mark.broker  # needs the JVM and the jars, though not the session broker
def test_a_jvm_that_dies_at_start_reports_its_output(tmp_path: Path) -> None:
    # A formatted-looking data dir skips the format step, and a 1 MB heap makes the JVM exit at once.
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "meta.properties").write_text("")
    broker = LocalKafka(tmp_path, port=free_port(), heap_mb=1)
    with pytest.raises(BrokerError, match=r"(?s)exited with code 1.*Too small maximum heap"):
        broker.start(timeout_s=30)
    assert not (tmp_path / "kafka.pid").exists()


@pytest.mark.broker
def test_session_broker_reports_its_status(kafka_broker: LocalKafka) -> None:
    status = kafka_broker.status()
    assert status.running
    assert status.pid is not None
    assert status.bootstrap == kafka_broker.bootstrap
    assert status.log_path.is_file()


@pytest.mark.broker
def test_second_start_on_a_running_home_is_refused(kafka_broker: LocalKafka) -> None:
    intruder = LocalKafka(kafka_broker.home, port=free_port())
    with pytest.raises(BrokerError, match=rf"already running on {kafka_broker.home} \(pid \d+\)"):
        intruder.start()


@pytest.mark.broker
def test_a_taken_port_is_refused(kafka_broker: LocalKafka, tmp_path: Path) -> None:
    squatter = LocalKafka(tmp_path, port=kafka_broker.port)
    with pytest.raises(BrokerError, match=rf"port {kafka_broker.port} .* already in use"):
        squatter.start()
    assert not (tmp_path / "data").exists()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    """A second broker, so restarting it cannot disturb the session one."""
    broker = LocalKafka(tmp_path / "kafka", port=free_port())
    try:
        yield broker
    finally:
        broker.stop()


def _first_record(bootstrap: str, topic: str, timeout_s: float = 30) -> tuple[bytes | None, bytes | None]:
    # assign(), not subscribe(): no consumer group to join, so no rebalance to wait for.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "restart-check", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                return message.key(), message.value()
    finally:
        consumer.close()
    raise AssertionError(f"no record on {topic} at {bootstrap} within {timeout_s} s")


@pytest.mark.broker
def test_data_survives_a_restart_on_the_same_home(own_broker: LocalKafka) -> None:
    own_broker.start()
    settings = Settings(kafka=own_broker.bootstrap, topic_prefix="restart.", partitions=1)
    create_topics(settings)
    topic = TopicNames(settings.topic_prefix)("incidents")
    producer = Producer({"bootstrap.servers": own_broker.bootstrap, "acks": "all"})
    producer.produce(topic, key=b"inc-1", value=b"payments down")
    assert producer.flush(10) == 0
    del producer  # else it logs reconnect failures to stderr while the broker is down
    cluster_id = (own_broker.home / "data" / "meta.properties").read_text()

    assert own_broker.stop() is True
    assert not own_broker.status().running
    assert not (own_broker.home / "kafka.pid").exists()
    own_broker.start()

    assert (own_broker.home / "data" / "meta.properties").read_text() == cluster_id  # not reformatted
    assert create_topics(settings) == []
    assert _first_record(own_broker.bootstrap, topic) == (b"inc-1", b"payments down")

"""Fixtures shared by the whole suite: one real Kafka broker per session, isolated topics per test.

Starting a broker costs ~1.5 s, so the session shares one; each test gets its own topic prefix
and app id instead, which keeps tests independent without paying for a broker each.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.broker.admin import admin_client, create_topics
from forewarn.broker.local import LocalKafka, free_port
from forewarn.config import Settings
from forewarn.topics import TOPICS, TopicNames


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the broker, so ``-m "not broker"`` skips them all."""
    for item in items:
        if "kafka_broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.broker)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    broker = LocalKafka(tmp_path_factory.mktemp("kafka"), port=free_port())
    broker.ensure_jars()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def settings(kafka_broker: LocalKafka, tmp_path: Path) -> Iterator[Settings]:
    tag = uuid.uuid4().hex[:8]
    test_settings = Settings(
        kafka=kafka_broker.bootstrap,
        topic_prefix=f"t{tag}.",
        app_id=f"fw-{tag}",
        data_dir=tmp_path / "data",
        partitions=2,
    )
    create_topics(test_settings)
    yield test_settings
    # Hundreds of tests x 17 topics would otherwise pile up partitions (files, memory) on the
    # shared broker. Only the request is awaited; the broker removes the logs in the background.
    names = TopicNames(test_settings.topic_prefix)
    client = admin_client(test_settings)  # must outlive the futures, or they fail with _DESTROY
    futures = client.delete_topics([names(spec.name) for spec in TOPICS], operation_timeout=0)
    for future in futures.values():
        future.exception(timeout=10)  # a failed cleanup must not fail the test

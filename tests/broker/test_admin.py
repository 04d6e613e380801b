"""Topic administration against the session broker, each test under its own prefix."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.cimpl import NewTopic

from forewarn.broker import admin
from forewarn.broker.admin import TopicAdminError, admin_client, create_topics, describe_topics
from forewarn.config import Settings
from forewarn.topics import TOPICS, TopicNames


def _fresh(settings: Settings) -> Settings:
    """Same broker, a prefix no topic lives under yet."""
    return settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:8]}."})


@pytest.mark.broker
def test_create_is_idempotent(settings: Settings) -> None:
    fresh = _fresh(settings)
    names = TopicNames(fresh.topic_prefix)

    assert create_topics(fresh) == sorted(names(spec.name) for spec in TOPICS)
    assert create_topics(fresh) == []


@pytest.mark.broker
def test_every_topic_has_the_configured_partitions(settings: Settings) -> None:
    rows = describe_topics(settings)

    assert [row.name for row in rows] == [TopicNames(settings.topic_prefix)(spec.name) for spec in TOPICS]
    assert {row.partitions for row in rows} == {settings.partitions}


@pytest.mark.broker
def test_customers_topic_is_compacted(settings: Settings) -> None:
    customers = TopicNames(settings.topic_prefix)("customers")
    resource = ConfigResource(ConfigResource.Type.TOPIC, customers)
    client = admin_client(settings)  # kept alive until the future resolves
    config = client.describe_configs([resource])[resource].result(timeout=10)

    assert config["cleanup.policy"].value == "compact"
    assert config["min.compaction.lag.ms"].value == "0"
    assert {row.name: row.cleanup_policy for row in describe_topics(settings)}[customers] == "compact"


@pytest.mark.broker
def test_missing_topics_are_listed_as_missing(settings: Settings) -> None:
    rows = describe_topics(_fresh(settings))

    assert all(row.partitions is None and row.cleanup_policy is None for row in rows)


@pytest.mark.broker
def test_a_partition_count_that_differs_from_the_spec_is_refused(settings: Settings) -> None:
    fresh = _fresh(settings)
    events = TopicNames(fresh.topic_prefix)("events")
    client = admin_client(fresh)  # kept alive until the future resolves
    client.create_topics([NewTopic(events, num_partitions=5)])[events].result(timeout=10)

    with pytest.raises(TopicAdminError, match=rf"{events} has 5 partitions, expected 2"):
        create_topics(fresh)
    assert {row.name: row.partitions for row in describe_topics(fresh)}[events] == 5  # left as it was


def test_an_unreachable_cluster_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin, "METADATA_TIMEOUT_S", 0.2)
    nowhere = Settings(kafka="127.0.0.1:1")

    with pytest.raises(TopicAdminError, match=r"cannot reach Kafka at 127.0.0.1:1 over PLAINTEXT"):
        create_topics(nowhere)

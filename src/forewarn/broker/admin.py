"""Create and inspect forewarn's topics on any Kafka cluster, local or managed.

Topics are contracts, so they are created up front from ``topics.TOPICS`` rather than by the
broker on first use (the local broker disables auto-creation to catch typos).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

# Public names of confluent_kafka.admin that it re-exports without __all__, which strict mypy
# (no_implicit_reexport) would reject from there.
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._metadata import ClusterMetadata, TopicMetadata
from confluent_kafka.cimpl import NewTopic

from forewarn.config import Settings
from forewarn.topics import TOPICS, TopicNames

TIMEOUT_S = 30.0
METADATA_TIMEOUT_S = 10.0  # a cluster that cannot list its topics this fast is unreachable in practice


class TopicAdminError(RuntimeError):
    """Topics could not be created or described as ``topics.TOPICS`` says."""


@dataclass(frozen=True)
class TopicRow:
    """One of forewarn's topics as the cluster sees it; ``None`` fields mean it does not exist."""

    name: str
    partitions: int | None
    cleanup_policy: str | None


def admin_client(settings: Settings) -> AdminClient:
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.kafka,
        **settings.kafka_security.confluent(),
        # Without a logger librdkafka writes every failed connect to stderr (20 lines a second
        # while a cluster is down). Routed to logging, they are only delivered on poll(), which
        # admin calls never need; failures still reach the caller as TopicAdminError.
        "logger": logging.getLogger(f"{__name__}.librdkafka"),
    }
    return AdminClient(conf)


def create_topics(settings: Settings, names: TopicNames | None = None) -> list[str]:
    """Create every missing topic; return the names created (empty when all existed).

    Existing topics are never altered: a partition count that differs from the spec is an
    error, because keyed state in Faust tables would silently move between partitions.
    Returns only after the new topics have leaders, so callers can produce right away.
    """
    names = names or TopicNames(settings.topic_prefix)
    client = admin_client(settings)
    specs = {names(spec.name): spec for spec in TOPICS}
    wanted = {name: spec.partitions or settings.partitions for name, spec in specs.items()}
    existing = _metadata(client, settings).topics
    _check_partitions(settings, wanted, existing)
    new = [
        NewTopic(name, num_partitions=wanted[name], config=spec.config())
        for name, spec in specs.items()
        if name not in existing
    ]
    if not new:
        return []
    created, raced = [], []
    for name, future in client.create_topics(new, request_timeout=TIMEOUT_S).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicAdminError(f"creating topic {name} on {settings.kafka} failed: {exc}") from exc
            raced.append(name)  # someone else created it since we looked: check theirs too
        else:
            created.append(name)
    visible = _wait_for_leaders(client, settings, created + raced)
    _check_partitions(settings, {name: wanted[name] for name in raced}, visible)
    return sorted(created)


def describe_topics(settings: Settings, names: TopicNames | None = None) -> list[TopicRow]:
    """Every topic in the spec with its partitions and cleanup policy, in spec order."""
    names = names or TopicNames(settings.topic_prefix)
    client = admin_client(settings)
    existing = _metadata(client, settings).topics
    full_names = [names(spec.name) for spec in TOPICS]
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in full_names if n in existing]
    policies: dict[str, str] = {}
    if resources:
        for resource, future in client.describe_configs(resources, request_timeout=TIMEOUT_S).items():
            try:
                policies[resource.name] = future.result()["cleanup.policy"].value
            except KafkaException as exc:
                raise TopicAdminError(f"describing topic {resource.name} on {settings.kafka} failed: {exc}") from exc
    return [
        TopicRow(n, len(existing[n].partitions), policies.get(n)) if n in existing else TopicRow(n, None, None)
        for n in full_names
    ]


def _check_partitions(settings: Settings, wanted: dict[str, int], existing: dict[str, TopicMetadata]) -> None:
    mismatched = [
        f"{name} has {len(existing[name].partitions)} partitions, expected {partitions}"
        for name, partitions in wanted.items()
        if name in existing and len(existing[name].partitions) != partitions
    ]
    if mismatched:
        raise TopicAdminError(f"existing topics on {settings.kafka} differ from the spec: " + "; ".join(mismatched))


def _metadata(client: AdminClient, settings: Settings) -> ClusterMetadata:
    try:
        return client.list_topics(timeout=METADATA_TIMEOUT_S)
    except KafkaException as exc:
        protocol = settings.kafka_security.protocol
        raise TopicAdminError(f"cannot reach Kafka at {settings.kafka} over {protocol}: {exc}") from exc


def _wait_for_leaders(client: AdminClient, settings: Settings, names: list[str]) -> dict[str, TopicMetadata]:
    """The cluster's topics once every one of ``names`` has a leader for each partition.

    The controller acknowledges creation before the broker's metadata cache has the topic;
    producing in that gap fails with UNKNOWN_TOPIC_OR_PART. Each round is one metadata
    request and it rarely takes more than two.
    """
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        topics = _metadata(client, settings).topics
        pending = [
            name
            for name in names
            if name not in topics or any(p.leader < 0 or p.error for p in topics[name].partitions.values())
        ]
        if not pending:
            return topics
        if time.monotonic() > deadline:
            raise TopicAdminError(f"topics on {settings.kafka} still have no leader: {', '.join(pending)}")

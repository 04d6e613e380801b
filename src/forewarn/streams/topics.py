"""Faust topic objects for every spec in ``forewarn.topics``.

Every topic carries raw bytes: agents decode with the Avro codec themselves, so a record
that fails to decode becomes a dead letter instead of crashing Faust's deserializer.
"""

from __future__ import annotations

from typing import Any

import faust

from forewarn.topics import TOPICS, TopicNames


class Topics:
    def __init__(self, app: faust.App, names: TopicNames, partitions: int) -> None:
        self.names = names
        self._topics: dict[str, Any] = {
            spec.name: app.topic(
                names(spec.name),
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
                partitions=spec.partitions or partitions,
            )
            for spec in TOPICS
        }

    def __getitem__(self, short: str) -> Any:
        return self._topics[short]

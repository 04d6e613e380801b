"""Reading a topic back: a leader moving on a busy broker is asked again, anything else is raised."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from forewarn.publish import _watermarks


class Answers:
    """A consumer whose watermark lookups fail with the given codes, then answer (0, 5)."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.calls = 0

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        self.calls += 1
        if self.codes:
            raise KafkaException(KafkaError(self.codes.pop(0)))
        return 0, 5


def test_a_moving_leader_is_asked_again() -> None:
    moving = Answers(KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
    assert _watermarks(moving, TopicPartition("t", 0), time.monotonic() + 10) == (0, 5)  # type: ignore[arg-type]
    assert moving.calls == 3


def test_other_errors_and_a_spent_deadline_are_raised() -> None:
    with pytest.raises(KafkaException, match="UNKNOWN_TOPIC_OR_PART"):
        _watermarks(Answers(KafkaError.UNKNOWN_TOPIC_OR_PART), TopicPartition("t", 0), time.monotonic() + 10)  # type: ignore[arg-type]
    with pytest.raises(KafkaException, match="NOT_LEADER"):
        _watermarks(Answers(KafkaError.NOT_LEADER_FOR_PARTITION), TopicPartition("t", 0), time.monotonic() - 1)  # type: ignore[arg-type]

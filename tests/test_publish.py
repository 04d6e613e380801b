"""Publishing and reading back: a refused record fails the flush; a leader moving on a busy broker is
asked again when reading, anything else is raised."""

from __future__ import annotations

import asyncio
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from factories import command
from forewarn.config import Settings
from forewarn.publish import Publisher, _watermarks
from forewarn.streams.targeting import AcknowledgedSends

COMMAND = command()


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


# -- delivery failures reach the caller (librdkafka reports only those) ------------------------


def test_a_record_the_broker_refuses_fails_the_flush(settings: Settings) -> None:
    publisher = Publisher(settings)
    publisher.send_bytes("audit", b"x" * 100, key=b"fine")
    publisher.send_bytes("audit", b"x" * (2 * 1024 * 1024), key=b"too-big")  # past the topic's 1 MiB
    with pytest.raises(KafkaException, match=r"1 records failed: \['t\w+\.audit: .*(?i:too large)"):
        publisher.flush()
    publisher.send_bytes("audit", b"x" * 100, key=b"fine")
    publisher.close()  # the failure was reported once; what follows is judged on its own


def test_the_fan_out_sender_raises_rather_than_vouching_for_a_refused_record(settings: Settings) -> None:
    sends = AcknowledgedSends(settings)
    sends.send("audit", b"fine", COMMAND)
    asyncio.run(sends.acknowledged())  # everything arrived: no error
    sends.send("audit", b"too-big", COMMAND.model_copy(update={"text": "x" * (2 * 1024 * 1024)}))
    with pytest.raises(KafkaException, match=r"(?i:too large)"):
        asyncio.run(sends.acknowledged())
    sends.send("audit", b"fine", COMMAND)
    asyncio.run(sends.acknowledged())

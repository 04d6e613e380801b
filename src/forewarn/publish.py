"""Publishing records and watching consumer progress from outside the workers.

Used by the CLI (`forewarn produce`, `customers load`), the demo and the tests, so all of
them key and partition records exactly the way the pipeline expects.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from pydantic import ValidationError

from forewarn.config import Settings
from forewarn.schemas.codec import encode
from forewarn.schemas.models import MODELS, DedupSweep, RawSignal, Record
from forewarn.topics import BY_NAME, OVERSIZE_HEADROOM_BYTES, TopicNames


class InputError(ValueError):
    """A line of input that can't be published; the message names the file and line."""


def producer_config(settings: Settings) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.kafka,
        # murmur2 is what Java clients and aiokafka (Faust) use, so a key lands on the
        # same partition whoever produced it.
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "linger.ms": 5,
        "message.max.bytes": OVERSIZE_HEADROOM_BYTES,
        "log.connection.close": False,
        "log_level": 3,  # librdkafka's retry chatter is noise on a person's terminal; errors still show
        **settings.kafka_security.confluent(),
    }


class DeliveryErrors:
    """Failed deliveries of one producer, reported by librdkafka only when a record fails.

    A delivery callback per record made librdkafka hand every acknowledgement back to Python:
    measured here, 8-10 µs a record against 4 µs without, half the producer's throughput on a
    fan-out. With ``delivery.report.only.error`` the one callback runs only for a record that
    failed, and ``flush`` (which returns how many are still unacknowledged) says the rest arrived.
    """

    def __init__(self) -> None:
        self.errors: list[str] = []

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err}")

    def take(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors


def reporting_producer(settings: Settings, errors: DeliveryErrors, **overrides: Any) -> Producer:
    """A producer with forewarn's settings whose failed deliveries land in ``errors``."""
    config = {**producer_config(settings), "on_delivery": errors, "delivery.report.only.error": True}
    return Producer({**config, **overrides})


def produce_queued(
    producer: Producer,
    topic: str,
    value: bytes | None,
    key: bytes | None,
    partition: int | None = None,
    wait_s: float = 0.05,
) -> None:
    """``producer.produce``, waiting while librdkafka's local queue is full (``BufferError``)
    for deliveries to drain, so a burst larger than the queue slows down instead of failing."""
    while True:
        try:
            if partition is None:
                producer.produce(topic, value, key)
            else:
                producer.produce(topic, value, key, partition=partition)
            return
        except BufferError:
            producer.poll(wait_s)


def record_key(short_topic: str, record: Record) -> bytes | None:
    """The partitioning key each topic's contract documents."""
    r: Any = record
    match short_topic:
        case "raw":
            return str(r.source).encode()  # one source's payloads stay in order
        case "events":
            return f"{r.service}|{r.region}".encode()
        case "incidents" | "impact":
            return str(r.incident_id).encode()
        case "signals":
            return f"{r.group}|{r.region}".encode()
        case "operator":
            return str(r.incident_id or r.maintenance_id).encode()
        case "customers":
            return str(r.customer_id).encode()
        case "approvals":
            return str(r.approval_id).encode()
        case "audit":
            return str(r.audit_id).encode()
        case "receipts":
            return str(r.notification_id).encode()
        case "targeting":
            return str(r.request_id).encode()
        case "dedup":  # a PagerDuty event's dedup key (source_ref), or the key a sweep asks about
            return str(r.dedup_key if isinstance(r, DedupSweep) else r.source_ref).encode()
        case "deadletter":
            return None
    if short_topic.startswith("notify."):
        return str(r.notification_id).encode()
    return None


def raw_signal_from_json(obj: Any) -> RawSignal:
    """`{"source", "received_at", "body"}`: body is the source's native payload.

    A JSON object or array body is published as compact JSON; a string body is published
    as its UTF-8 bytes unchanged, so non-JSON or deliberately malformed payloads replay exactly.
    """
    if not isinstance(obj, dict):
        raise InputError(f"expected an object with source, received_at and body, got {type(obj).__name__}")
    missing = [k for k in ("source", "received_at", "body") if k not in obj]
    if missing:
        raise InputError(f"missing {', '.join(missing)}")
    body = obj["body"]
    data = body.encode() if isinstance(body, str) else json.dumps(body, separators=(",", ":")).encode()
    try:
        received_at = datetime.fromisoformat(str(obj["received_at"]).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"received_at {obj['received_at']!r} is not RFC 3339") from exc
    try:
        return RawSignal(source=str(obj["source"]), received_at=received_at, body=data, origin=obj.get("origin"))
    except ValidationError as exc:
        raise InputError(str(exc)) from exc


def record_from_json(short_topic: str, obj: Any) -> Record:
    if short_topic == "raw":
        return raw_signal_from_json(obj)
    model = MODELS[BY_NAME[short_topic].schema]
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise InputError(problems) from exc


def read_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) per non-blank line; a bad line raises InputError naming it."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not JSON: {exc.msg} at column {exc.colno}") from exc


@dataclass
class Publisher:
    """A confluent-kafka producer that speaks forewarn's topics and wire format."""

    settings: Settings

    def __post_init__(self) -> None:
        self.names = TopicNames(self.settings.topic_prefix)
        self._errors = DeliveryErrors()
        self._producer = reporting_producer(self.settings, self._errors)

    def send_bytes(
        self, short_topic: str, value: bytes | None, key: bytes | None = None, partition: int | None = None
    ) -> None:
        produce_queued(self._producer, self.names(short_topic), value, key, partition, wait_s=0.1)
        self._producer.poll(0)

    def send(self, short_topic: str, record: Record, key: bytes | None = None) -> None:
        self.send_bytes(short_topic, encode(record), key if key is not None else record_key(short_topic, record))

    def close(self) -> None:
        """Flush and release the producer, so nothing reconnects to a broker that is stopping."""
        self.flush()
        del self._producer

    def flush(self, timeout_s: float = 30.0) -> None:
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise KafkaException(f"{remaining} records not acknowledged by {self.settings.kafka} in {timeout_s}s")
        if errors := self._errors.take():
            raise KafkaException(f"{len(errors)} records failed: {errors[:3]}")


def group_lags(settings: Settings, group: str, short_topics: Sequence[str]) -> list[int]:
    """Per topic, records not yet committed by the consumer group (all, if it never committed).

    Topics are read one after another in the order given, so for a pipeline listed in stage
    order, all zeros means each stage had finished everything its upstream produced.
    """
    names = TopicNames(settings.topic_prefix)
    conf = {
        "bootstrap.servers": settings.kafka,
        "group.id": group,
        "enable.auto.commit": False,
        "log.connection.close": False,
        **settings.kafka_security.confluent(),
    }
    consumer = Consumer(conf)
    try:
        lags = []
        for short in short_topics:
            topic = names(short)
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            committed = consumer.committed([TopicPartition(topic, p) for p in meta.partitions], timeout=10)
            lag = 0
            for tp in committed:
                low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
                done = tp.offset if tp.offset >= 0 else low
                lag += max(0, high - done)
            lags.append(lag)
        return lags
    finally:
        consumer.close()


def group_caught_up(settings: Settings, group: str, short_topics: Sequence[str]) -> bool:
    """True when the group has committed everything; False also while the coordinator settles."""
    try:
        return not any(group_lags(settings, group, short_topics))
    except KafkaException:
        return False  # e.g. NOT_COORDINATOR right after the group formed: ask again


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    """Poll a condition until it holds or the deadline passes (then say what never happened)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(interval_s)


#: Answers while partition leadership moves: librdkafka does not flag them retriable here.
_LEADER_MOVING = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE})


def _watermarks(consumer: Consumer, tp: TopicPartition, deadline: float) -> tuple[int, int]:
    """Low and high watermark; a retriable broker answer (a leader moving, e.g. NOT_LEADER_FOR_PARTITION
    while a busy broker rebalances leadership) is asked again until the deadline, not raised at once."""
    while True:
        try:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            if not (isinstance(error, KafkaError) and (error.retriable() or error.code() in _LEADER_MOVING)):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def read_topic(settings: Settings, short_topic: str, timeout_s: float = 30.0) -> list[Any]:
    """Every record currently in a topic (from the beginning to the high watermark).

    All or nothing: a partition that does not reach its high watermark in time raises, because
    a silently partial read would make a listing, a report or a test wrong without saying so.
    """
    return read_full_topic(settings, TopicNames(settings.topic_prefix)(short_topic), timeout_s)


def read_full_topic(settings: Settings, topic: str, timeout_s: float = 30.0) -> list[Any]:
    """``read_topic`` for a topic named in full, e.g. a Faust table's changelog."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka,
            "group.id": f"forewarn-read-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            **settings.kafka_security.confluent(),
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends: dict[int, int] = {}
        tps = []
        deadline = time.monotonic() + timeout_s
        for p in meta.partitions:
            low, high = _watermarks(consumer, TopicPartition(topic, p), deadline)
            if high > low:
                ends[p] = high
                tps.append(TopicPartition(topic, p, low))
        if not tps:
            return []
        consumer.assign(tps)
        out: list[Any] = []
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"read {len(out)} records of {topic}, but partitions {sorted(ends)} did not reach "
                    f"their high watermarks {[ends[p] for p in sorted(ends)]} within {timeout_s:.0f}s"
                )
            msg = consumer.poll(0.2)
            if msg is None:
                # Compaction can leave the last offsets before the watermark empty: the fetch
                # position, not the last record seen, says a partition has been read through.
                for tp in consumer.position([TopicPartition(topic, p) for p in list(ends)]):
                    if tp.offset >= ends[tp.partition]:
                        ends.pop(tp.partition)
                continue
            if msg.error():
                continue
            out.append(msg)
            partition, offset = msg.partition(), msg.offset()
            if partition is not None and offset is not None and offset + 1 >= ends.get(partition, 0):
                ends.pop(partition, None)
        return out
    finally:
        consumer.close()

"""`forewarn produce` and `forewarn tail`: put records on a topic, watch a topic live."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import click
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition

from forewarn.config import Settings
from forewarn.deadletters import jsonable
from forewarn.publish import InputError, Publisher, read_json_lines, record_from_json
from forewarn.schemas.codec import DecodeError, decode_any
from forewarn.topics import BY_NAME, TopicNames


def _short(settings: Settings, topic: str) -> str:
    names = TopicNames(settings.topic_prefix)
    short = topic if topic in BY_NAME else names.short(topic)
    if short is None:
        raise click.BadParameter(f"unknown topic {topic!r}; known: {', '.join(BY_NAME)}", param_hint="TOPIC")
    return short


@click.command()
@click.argument("topic")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def produce(topic: str, file: Path) -> None:
    """Publish JSON lines from FILE to TOPIC (short name like `raw` or the full name).

    For `raw`, each line is {"source": ..., "received_at": RFC 3339, "body": <native payload>}.
    Bad lines are reported with their line number and skipped; the exit code is 1 if any were.
    """
    settings = Settings.from_env()
    short = _short(settings, topic)
    publisher = Publisher(settings)
    sent, bad = 0, 0
    try:
        for lineno, obj in read_json_lines(file):
            try:
                publisher.send(short, record_from_json(short, obj))
                sent += 1
            except InputError as exc:
                bad += 1
                click.echo(f"{file}:{lineno}: {exc}", err=True)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        publisher.flush()
    except KafkaException as exc:
        raise click.ClickException(f"publishing to {settings.kafka} failed: {exc}") from exc
    click.echo(f"published {sent} records to {publisher.names(short)}" + (f"; rejected {bad}" if bad else ""))
    if bad:
        sys.exit(1)


def render(msg: Any) -> str:
    header = f"── {msg.topic()}[{msg.partition()}]@{msg.offset()}"
    if msg.key() is not None:
        header += f" key={msg.key().decode(errors='replace')}"
    if msg.value() is None:
        return f"{header}\n(tombstone)"
    try:
        record = decode_any(msg.value())
        body = jsonable(record.model_dump(mode="python"))
        header += f" {type(record).__name__}"
    except DecodeError as exc:
        body = {"undecodable": exc.reason, "bytes": jsonable(msg.value())}
    return header + "\n" + json.dumps(body, indent=2, ensure_ascii=False, default=str)


@click.command()
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest record instead of only new ones.")
@click.option("--limit", type=int, default=None, help="Stop after N records.")
@click.option("--idle-exit", type=float, default=None, help="Stop after S seconds without a record.")
def tail(topic: str, from_beginning: bool, limit: int | None, idle_exit: float | None) -> None:
    """Decode and pretty-print records of TOPIC live (Ctrl-C to stop)."""
    settings = Settings.from_env()
    full = TopicNames(settings.topic_prefix)(_short(settings, topic))
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka,
            "group.id": f"forewarn-tail-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            **settings.kafka_security.confluent(),
        }
    )
    try:
        meta = consumer.list_topics(full, timeout=10).topics.get(full)
        if meta is None or meta.error is not None:
            raise click.ClickException(f"topic {full} does not exist on {settings.kafka}; run `forewarn topics create`")
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(full, p, start) for p in meta.partitions])
        seen, idle = 0, 0.0
        while limit is None or seen < limit:
            msg = consumer.poll(0.5)
            if msg is None:
                idle += 0.5
                if idle_exit is not None and idle >= idle_exit:
                    break
                continue
            if msg.error():
                click.echo(f"error: {msg.error()}", err=True)
                continue
            idle = 0.0
            seen += 1
            click.echo(render(msg))
    except KafkaException as exc:
        raise click.ClickException(f"cannot read {full} from {settings.kafka}: {exc}") from exc
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()

"""The worker's Kafka consumer: aiokafka's, as faust-streaming builds it, with a short long-poll
and eager delivery of each record to its streams."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from faust.transport import consumer as faust_consumer
from faust.transport.drivers import aiokafka as driver

from forewarn.config import Settings
from forewarn.publish import Publisher
from forewarn.streams.app import create_app
from forewarn.streams.transport import FETCH_MAX_WAIT_MS, UPSTREAM_DRAIN_SHA256, KafkaTransport, finish
from forewarn.topics import TopicNames


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


# -- eager delivery ---------------------------------------------------------------------------


def test_the_drain_loop_copy_is_of_the_pinned_upstream_source() -> None:
    """An upgrade that changes faust-streaming's loop must be looked at before this copy runs on."""
    source = inspect.getsource(faust_consumer.Consumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == UPSTREAM_DRAIN_SHA256


async def _started(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Take the coroutine's first step here, as the drain loop does, and finish it as a task."""
    waiting_on = coro.send(None)
    return asyncio.ensure_future(finish(coro, waiting_on))


async def test_a_delivery_that_waited_on_a_future_resumes_with_its_result() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[str] = loop.create_future()

    async def delivery() -> str:
        got = await gate
        await asyncio.sleep(0)  # and a bare yield after it
        return f"{got}, then done"

    task = await _started(delivery())
    await asyncio.sleep(0)
    assert not task.done()  # still waiting on the gate
    gate.set_result("opened")
    assert await task == "opened, then done"


async def test_a_delivery_gets_the_error_of_what_it_waited_on_where_it_waited() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()

    async def delivery() -> str:
        try:
            await gate
        except KeyError as exc:
            return f"caught {exc}"
        return "not reached"

    task = await _started(delivery())
    gate.set_exception(KeyError("full"))
    assert await task == "caught 'full'"


async def test_a_delivery_waiting_inside_asyncio_wait_completes() -> None:
    """The conductor blocks on a full buffer through asyncio.wait, whose own waiter is yielded."""

    async def delivery() -> int:
        other = asyncio.ensure_future(asyncio.sleep(0, result=7))
        done, _ = await asyncio.wait([other])
        return done.pop().result()

    assert await (await _started(delivery())) == 7


async def test_cancelling_the_task_cancels_the_delivery_where_it_waits() -> None:
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[None] = loop.create_future()
    saw: list[str] = []

    async def delivery() -> None:
        try:
            await gate
        except asyncio.CancelledError:
            saw.append("cancelled")
            raise

    task = await _started(delivery())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert saw == ["cancelled"]
    assert gate.cancelled()


def test_every_record_reaches_the_agent_once_in_order_through_a_full_buffer(settings: Settings, tmp_path: Path) -> None:
    topic = TopicNames(settings.topic_prefix)("raw")
    publisher = Publisher(settings)
    sent = [f"r{n}" for n in range(1500)]
    for n, value in enumerate(sent):
        publisher.send_bytes("raw", value.encode(), key=f"k{n % 7}".encode())
    publisher.close()
    out, log = tmp_path / "seen.json", tmp_path / "probe.log"
    probe = Path(__file__).with_name("transport_probe.py")
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(probe), settings.model_dump_json(), topic, str(len(sent)), str(out)],
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
        try:
            proc.wait(180)
        finally:
            proc.kill()
    assert out.exists(), log.read_text()[-3000:]
    result = json.loads(out.read_text())
    seen = result["seen"]
    assert sorted(value for _, _, value in seen) == sorted(sent)  # each once
    for partition in {p for p, _, _ in seen}:
        offsets = [offset for p, offset, _ in seen if p == partition]
        assert offsets == list(range(len(offsets)))  # in order, none skipped
    # A four-record buffer behind an agent slower than one record a turn fills: those deliveries
    # finished as tasks, so the path that waits is the one tested here, not only the usual one.
    assert result["deferred"] > 0

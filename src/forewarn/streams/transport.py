"""The Kafka consumer with a short long-poll: forewarn's stages read what its own stages just wrote.

faust-streaming builds aiokafka's consumer with ``fetch_max_wait_ms=1500`` and no setting to
change it. aiokafka keeps one fetch in flight per broker and leaves a partition out of it while
records fetched for that partition are still buffered. So when ingest stops reading raw
messages, the fetch in flight often names only the raw partitions, which get nothing more, and
the broker holds it the full 1.5 s while the signal batches ingest has just produced sit
unfetched on their partitions. Every internal hop (raw -> signals -> incidents -> targeting ->
commands) could wait that long. bench/ingest.py showed it as the drain after the last raw
message: 1.3 s of a 5.6 s run at fifteen samples a message, 0.03 s with the wait at 100 ms.

A shorter wait only costs an empty fetch response now and then while a topic is idle.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.transport import by_url
from faust.transport.drivers import aiokafka as driver

#: How long the broker may hold a fetch that finds nothing new (aiokafka's default is 500 ms).
FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read when the consumer starts, which is after this: its fetcher is built in start().
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class KafkaTransport(driver.Transport):
    """faust-streaming's aiokafka transport, with ``FETCH_MAX_WAIT_MS`` for its consumer."""

    Consumer = _Consumer


class App(faust.App):
    """A faust.App whose consumer, on the aiokafka driver, uses ``KafkaTransport``.

    The transport is chosen when first needed, from the broker URL then in the settings, as
    faust.App does: another driver (``confluent://``) is left as it is.
    """

    def _new_transport(self) -> Any:
        urls = self.conf.broker_consumer
        if by_url(urls[0]) is driver.Transport:
            return KafkaTransport(urls, self)
        return super()._new_transport()

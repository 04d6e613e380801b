"""The Kafka consumer: a short long-poll, and each fetched record handed on without four tasks.

**The long-poll.** Forewarn's stages read what its own stages just wrote.

faust-streaming builds aiokafka's consumer with ``fetch_max_wait_ms=1500`` and no setting to
change it. aiokafka keeps one fetch in flight per broker and leaves a partition out of it while
records fetched for that partition are still buffered. So when ingest stops reading raw
messages, the fetch in flight often names only the raw partitions, which get nothing more, and
the broker holds it the full 1.5 s while the signal batches ingest has just produced sit
unfetched on their partitions. Every internal hop (raw -> signals -> incidents -> targeting ->
commands) could wait that long. bench/ingest.py showed it as the drain after the last raw
message: 1.3 s of a 5.6 s run at fifteen samples a message, 0.03 s with the wait at 100 ms.

A shorter wait only costs an empty fetch response now and then while a topic is idle.

**Eager delivery.** faust-streaming's consumer hands every fetched record to its streams with
``await self.wait_first(callback(record), self.suspend_flow.wait())``: four tasks (the callback,
the suspend flag, the service's stopped and crashed flags), ``asyncio.wait`` and three
cancellations per record, so that a callback blocked on a full stream buffer gives way when a
rebalance suspends the flow. The callback almost never blocks: it decodes the record and puts
it on a queue that has room. bench/ingest.py's no-op agent spends about a third of its time
there, and forewarn's whole ingest path (decode, normalise, group, detect: ~35 us a message at
fifteen samples) came to 0.68-0.71 of it. With the callback run eagerly (below), the same
no-op agent reads 17-29k messages/s to stock Faust's 6-14k in the same runs, and forewarn
1.06-1.14 of stock at fifteen samples a message.

So ``_Consumer._drain_messages`` is faust-streaming 0.15.3's loop with one change: the callback
coroutine takes its first step in the loop itself, and only when it suspends (a full buffer,
the producer's buffer, flow control) is the rest run as a task under the same ``wait_first``
as before: what Python 3.12's eager tasks do, on 3.11. The loop still gives the event loop a
turn after every record, as the ``wait_first`` did: a stream's iterator takes one event per
turn (it sleeps(0) before each), so a loop handing on more than one per turn outruns it, fills
its buffer, and Faust takes the partition out of the fetch; the next fetch, naming only
partitions that have nothing buffered, then waits out its whole second. Yielding every hundred
records, as upstream's loop also does, the no-op agent stalled for a second at a time and read
7k messages/s to stock Faust's 13k; yielding after each gives the figures above.
``UPSTREAM_DRAIN_SHA256`` pins the source this copy was made from;
tests/streams/test_transport.py fails when an upgrade changes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, cast

import faust
from faust.transport import by_url
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver

#: How long the broker may hold a fetch that finds nothing new (aiokafka's default is 500 ms).
FETCH_MAX_WAIT_MS = 100


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read when the consumer starts, which is after this: its fetcher is built in start().
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


#: The first 16 hex digits of the sha256 of the source of faust-streaming's
#: ``Consumer._drain_messages`` in the release ``_Consumer._drain_messages`` was copied from (0.15.3).
UPSTREAM_DRAIN_SHA256 = "44a2500309e83c63"


async def finish(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """Run to its end a coroutine that suspended on its first step, as a task would have.

    ``waiting_on`` is what that step yielded: a future (then resumed once it is done, with its
    outcome raised where it was awaited) or None (a bare yield: resumed after one turn of the
    loop). Cancelling this task cancels what the coroutine waits on, so the coroutine sees the
    ``CancelledError`` where it waits, as with a task of its own.
    """
    while True:
        thrown: BaseException | None = None
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                # A task clears the flag the awaited future set when it yielded; awaiting it
                # again with the flag still set raises "await wasn't used with future".
                waiting_on._asyncio_future_blocking = False
                await waiting_on
        except asyncio.CancelledError as exc:
            if waiting_on is None or not waiting_on.cancelled():  # this task was cancelled, not it
                thrown = exc
        except Exception:
            pass  # the coroutine gets the future's error where it awaited it, when resumed
        try:
            waiting_on = coro.send(None) if thrown is None else coro.throw(thrown)
        except StopIteration as stop:
            return stop.value


class _Consumer(driver.Consumer):
    #: Records whose delivery suspended and finished as a task (a full buffer, flow control).
    deferred_deliveries = 0

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - the worker's loop
        # faust-streaming 0.15.3's Consumer._drain_messages (BSD-3-Clause), but for the delivery.
        # The conductor's on_message: a coroutine function (ConsumerCallback says Awaitable).
        callback = cast(Callable[[Any], Coroutine[Any, Any, None]], self.callback)
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = getmany(timeout=1.0)
                await self.sleep(0)  # getmany may be called in a loop that never yields
                if not self.should_stop:
                    async for tp, message in ait:
                        await sleep(0)  # one record a turn, as the streams take them (see above)
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            delivery = callback(message)
                            try:
                                waiting_on = delivery.send(None)
                            except StopIteration:
                                pass  # delivered: the usual case, no task needed
                            else:
                                self.deferred_deliveries += 1
                                await self.wait_first(finish(delivery, waiting_on), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


class KafkaTransport(driver.Transport):
    """faust-streaming's aiokafka transport: ``FETCH_MAX_WAIT_MS`` and eager delivery."""

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

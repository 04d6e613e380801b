"""Targeting waits until the customer table holds what its topic held when the request came.

The table is built by the ``customers`` agent from its topic while another agent of the same
worker targets incidents. On a first start, or after downtime with customer changes queued, an
incident could be targeted against a half-loaded table, and the customers not read yet would
miss that update: for a new P1, its first notice. So before a partition fans out (and before
its breakdown counts), it waits until the agent has applied every customer record the
partition's topic held at that moment. Records that arrive later are not waited for, so a busy
topic never holds targeting back for long.

The wait is capped (``FOREWARN_TABLE_WAIT_S``): past it, targeting goes on with the table it
has, logs how far behind it was and counts it on ``/metrics``, because a stalled partition must
not hold every later incident. It also ends when a rebalance stops the flow of records, which
would otherwise hold the rebalance up until the cap, and when the consumer has read past the end
while the agent sits idle (``SETTLE_S``): a log can end in offsets no agent is handed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka.errors import KafkaError
from faust.types import TP

log = logging.getLogger(__name__)

#: How often a wait looks again without a batch to wake it (the cap, a rebalance).
RECHECK_S = 1.0
#: A partition whose consumer has read past the end, and whose agent has applied nothing for
#: this long, has nothing left to apply even if its offsets fall short of the end.
SETTLE_S = 2.0


# Faust keeps the next two in private mappings of its consumer, read here only; a Faust upgrade
# that renames them is mended here.


def committed_offset(app: Any, tp: TP) -> int:
    """The offset Faust's consumer has committed for ``tp`` (0 if none): what the group had
    applied before this process started, when nothing new has arrived since."""
    return int(app.consumer._committed_offset.get(tp) or 0)


def delivered_offset(app: Any, tp: TP) -> int | None:
    """The offset of the last record of ``tp`` Faust handed to a stream (None: none yet)."""
    found = app.consumer._read_offset.get(tp)
    return None if found is None else int(found)


class TableFreshness:
    def __init__(self, app: Any, topic: str, wait_s: float, settle_s: float = SETTLE_S) -> None:
        self.app = app
        self.topic = topic
        self.wait_s = wait_s
        self.settle_s = settle_s
        #: partition -> the offset after the last record the customers agent applied
        self._applied: dict[int, int] = {}
        #: partition -> when it last applied a batch (monotonic)
        self._applied_at: dict[int, float] = {}
        #: partition -> an end offset found drained though short of it (the log ends in records no
        #: agent sees); a later request with the same end need not settle again
        self._drained: dict[int, int] = {}
        self._changed = asyncio.Condition()
        #: Set by the customers agent while it applies a batch.
        self.busy = False
        #: For /metrics: requests that had to wait for the table, and those that went on past the cap.
        self.waited = 0
        self.stale = 0

    def applied(self, partition: int, offset: int) -> None:
        """The customers agent has applied (or dead-lettered) the record at ``offset``."""
        if offset >= self._applied.get(partition, 0):
            self._applied[partition] = offset + 1
        self._applied_at[partition] = time.monotonic()

    async def notify(self) -> None:
        """Wake the waiters after a batch was applied."""
        async with self._changed:
            self._changed.notify_all()

    def _done(self, tp: TP) -> int:
        """The offset up to which nothing of ``tp`` is left to apply, as far as this process knows."""
        return max(
            self._applied.get(tp.partition, 0), committed_offset(self.app, tp), self._drained.get(tp.partition, 0)
        )

    def behind(self, partition: int, end: int) -> int:
        return max(0, end - self._done(TP(self.topic, partition)))

    async def caught_up(self, partition: int, why: str) -> int:
        """Wait until ``partition`` is applied up to the topic's end offset of now.

        Returns how many records were still missing when it went on (0 once caught up).
        """
        tp = TP(self.topic, partition)
        end = (await self.app.consumer.highwaters(tp)).get(tp)
        if end is None or not self.behind(partition, end):
            return 0
        self.waited += 1
        started = time.monotonic()
        log.info(
            "%s waits for customers partition %d: %d records to apply", why, partition, self.behind(partition, end)
        )
        deadline = started + self.wait_s
        async with self._changed:
            while self.behind(partition, end) and self._flowing() and (left := deadline - time.monotonic()) > 0:
                if await self._settled(tp, end, started):
                    self._drained[partition] = end
                    break
                with contextlib.suppress(TimeoutError):  # woken by each batch; looks again at least once a second
                    await asyncio.wait_for(self._changed.wait(), min(left, RECHECK_S, self.settle_s))
        missing = self.behind(partition, end)
        if missing:
            self.stale += 1
            log.warning(
                "%s goes on after %.1fs with customers partition %d still %d records behind%s",
                why,
                time.monotonic() - started,
                partition,
                missing,
                "" if self._flowing() else " (the flow of records stopped: a rebalance or a shutdown)",
            )
            return missing
        log.info("%s: customers partition %d caught up in %.1fs", why, partition, time.monotonic() - started)
        return 0

    async def _settled(self, tp: TP, end: int, started: float) -> bool:
        """Short of ``end`` but nothing left to apply: the consumer has read past it, the agent
        has applied everything it was handed and has been idle a while. A log can end in offsets
        no agent is handed (a transactional producer's commit markers, as Kafka Connect's
        exactly-once sources write), which would otherwise make every request wait out the cap."""
        quiet_since = max(self._applied_at.get(tp.partition, started), started)
        if time.monotonic() - quiet_since < self.settle_s:
            return False
        if self.busy:
            return False  # a batch is being applied (its changelog can take a while to be acknowledged)
        # Faust sets the delivered offset to the committed one when it seeks, and to a record's own
        # offset when it hands it over: short of it, the agent still holds records it was handed.
        delivered = delivered_offset(self.app, tp)
        if delivered is not None and self._done(tp) < delivered:
            return False
        try:
            position = await self.app.consumer.position(tp)
        except KafkaError:  # e.g. not assigned here any more: a rebalance is under way
            return False
        return position is not None and position >= end

    def _flowing(self) -> bool:
        """False during a rebalance: Faust then stops delivering records and waits for the agents
        to finish what they hold, so waiting on would hold the rebalance up to the cap."""
        return bool(getattr(self.app.consumer, "flow_active", True))

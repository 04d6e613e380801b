"""Faust's table recovery, with one race of faust-streaming 0.15.3 mended.

When a rebalance lands while recovery runs (two workers starting together do it), a standby
changelog partition can be added after recovery built its offsets. Faust keeps ``None`` as that
partition's offset, seeks to it when it starts the standbys, and aiokafka's ``seek`` refuses it
(``ValueError: Offset must be a positive integer``): the recovery service crashes and takes the
worker down (seen in bench/fanout.py's cold start of two workers at 1M customers). ``-1`` is
Faust's own "nothing read yet" (it seeks such a partition to 0, and a compacted log then resets
to its earliest offset), so an offset missing or below it is read as that, and only that.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP

#: Faust's offset of a changelog partition of which nothing has been read.
NOTHING_READ = -1


class MendedRecovery(Recovery):
    async def _seek_offsets(self, consumer: Any, tps: set[TP], offsets: Counter[TP], title: str) -> None:
        for tp in tps:
            offset = offsets.get(tp)
            if offset is None or offset < NOTHING_READ:
                offsets[tp] = NOTHING_READ
        await super()._seek_offsets(consumer, tps, offsets, title)


class ForewarnTableManager(TableManager):
    """Faust's table manager with ``MendedRecovery`` as its recovery service."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = MendedRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery

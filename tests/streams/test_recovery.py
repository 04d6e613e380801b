"""The mended recovery seeks a standby partition added mid-recovery (offset None) from the start."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from forewarn.config import Settings
from forewarn.streams.app import create_app
from forewarn.streams.recovery import NOTHING_READ, MendedRecovery


class Seeks:
    def __init__(self) -> None:
        self.asked: dict[TP, int] = {}

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        bad = [o for o in offsets.values() if not isinstance(o, int) or o < 0]
        if bad:  # what aiokafka's seek says
            raise ValueError("Offset must be a positive integer")
        self.asked.update(offsets)


def test_the_worker_app_recovers_with_the_mended_service(tmp_path: Path) -> None:
    app, _ = create_app(Settings(data_dir=tmp_path))
    assert isinstance(app.tables.recovery, MendedRecovery)


@pytest.mark.parametrize("missing", [None, -2])
def test_an_offset_never_built_is_read_from_the_start(tmp_path: Path, missing: Any) -> None:
    app, _ = create_app(Settings(data_dir=tmp_path))
    recovery = app.tables.recovery
    late, known, empty = TP("t-changelog", 0), TP("t-changelog", 1), TP("t-changelog", 2)
    offsets: Counter[TP] = Counter({known: 41, empty: NOTHING_READ})
    offsets[late] = missing
    consumer = Seeks()
    asyncio.run(recovery._seek_offsets(consumer, {late, known, empty}, offsets, "standby"))
    assert consumer.asked == {late: 0, known: 41, empty: 0}
    assert offsets[late] == NOTHING_READ  # Faust's own mark from now on


def test_faust_alone_crashes_on_it(tmp_path: Path) -> None:
    """The race this mends: if faust-streaming fixes it, this fails and the mend can go."""
    from faust.tables.recovery import Recovery

    app, _ = create_app(Settings(data_dir=tmp_path))
    late = TP("t-changelog", 0)
    offsets: Counter[TP] = Counter()
    offsets[late] = None  # type: ignore[assignment]
    with pytest.raises(ValueError, match="positive integer"):
        asyncio.run(Recovery._seek_offsets(app.tables.recovery, Seeks(), {late}, offsets, "standby"))

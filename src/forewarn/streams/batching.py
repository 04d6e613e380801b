"""Batch helpers for the hot agents (ingest, detection).

Faust's per-message cost dominates at tens of thousands of signals a second, so those agents
take events in batches (``take_events`` acks a batch only after the loop body ran, so a crash
re-reads it). Two things then need care: the loop body must not await sends one by one (each
await lets the batch close early, and batches shrink to a few messages: use ``send_soon``,
which the consumer flushes before it commits offsets), and table access must name the
partition it is for.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faust.streams import _current_event


@contextmanager
def acting_for(event: Any) -> Iterator[None]:
    """Table reads and writes inside apply to ``event``'s partition.

    Faust picks a table's partition from the stream's *current* event; inside a batch that is
    the last one taken, whatever its partition. This is the one place that sets it.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)

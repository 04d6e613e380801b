"""Wall-clock time as an object, so tests and replays can pin it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        """Now, in whole milliseconds: what every record keeps of a time (``schemas.models.as_utc``).

        Cut here, once, rather than by each record's validation: a fan-out stamps two records per
        command with the same ``now``, and the cut (a ``replace``) measured 3 % of it."""
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond - now.microsecond % 1000)

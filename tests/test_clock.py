"""The wall clock hands out what records keep of a time: UTC, whole milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from forewarn.clock import SystemClock
from forewarn.schemas.models import as_utc


def test_now_is_utc_in_whole_milliseconds_and_already_what_validation_would_make_it() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    for _ in range(200):  # microseconds vary from call to call; each must come cut
        now = SystemClock().now()
        assert now.tzinfo is UTC and now.microsecond % 1000 == 0
        assert as_utc(now) is now
    assert before <= now <= datetime.now(UTC)

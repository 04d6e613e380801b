"""Hopping event-time windows per metric series, closed by the watermark, never the wall clock.

A window ``[start, start + size)`` starts on a multiple of ``step`` and closes once the
series' watermark (the latest sample time minus the grace) reaches its end. Samples are kept
per step-sized bucket, keyed by their own time, so a duplicate counts once and the order
samples arrive in does not matter as long as each arrives within the grace. A window with no
samples is no evidence either way and is skipped; a sample for an already-closed window is
late and only counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from forewarn.policy_rules import RulesPolicy
from forewarn.processors.detect.state import MILLISECOND, Series


@dataclass(frozen=True, slots=True)
class WindowSpec:
    size: int
    step: int
    grace: int

    @classmethod
    def of(cls, rules: RulesPolicy) -> WindowSpec:
        return cls(rules.window // MILLISECOND, rules.step // MILLISECOND, rules.grace // MILLISECOND)


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    start: int
    end: int
    mean: float
    count: int


def add_sample(series: Series, ts: int, value: float, spec: WindowSpec) -> bool:
    """Put one sample in its bucket; False when every window it belongs to has closed."""
    bucket = ts - ts % spec.step
    if series.next_start is not None and bucket < series.next_start:
        return False
    samples = series.buckets.get(bucket)
    if samples is None:
        series.buckets[bucket] = {ts: value}
    else:
        known = samples.get(ts)
        samples[ts] = value if known is None else max(known, value)  # same time twice: keep one, either order
    if series.max_ts is None or ts > series.max_ts:
        series.max_ts = ts
    return True


def add_until_due(
    series: Series, times: Sequence[int], values: Sequence[float], index: int, spec: WindowSpec
) -> tuple[int, int | None, int, int]:
    """``add_sample`` then ``due`` for each sample from ``index`` on, stopping after the first
    one that makes a window due: (index after it or the end, the latest time added or None,
    late samples, samples that are not finite).

    At ten or fifty samples a message those two calls per sample were most of detection's
    time. Here the test for "due" is one comparison against the latest time that would make
    the next window due, recomputed only when a sample lowers the earliest bucket.
    """
    step, grace, buckets = spec.step, spec.grace, series.buckets
    next_start, max_ts = series.next_start, series.max_ts
    # the next window is due once max_ts reaches ``due_at`` (see ``due``); None: no buckets
    due_at: int | None = None
    if buckets:
        start = next_start if next_start is not None else min(buckets) - spec.size + step
        due_at = start + spec.size + grace
    high: int | None = None
    late = invalid = 0
    open_bucket: int | None = None  # the bucket the last sample went to, and its samples
    samples: dict[int, float] = {}
    end = len(times)
    while index < end:
        ts, value = times[index], values[index]
        index += 1
        if value - value != 0.0:  # NaN or infinite: isfinite without the call
            invalid += 1
            continue
        bucket = ts - ts % step
        if bucket != open_bucket:  # samples come in order, most of a bucket's after one another
            if next_start is not None and bucket < next_start:
                late += 1
                continue
            found = buckets.get(bucket)
            if found is None:
                found = buckets[bucket] = {}
                if next_start is None and (due_at is None or bucket + step + grace < due_at):
                    due_at = bucket + step + grace  # the earliest bucket moved: so did the first window
            open_bucket, samples = bucket, found
        known = samples.get(ts)
        samples[ts] = value if known is None else max(known, value)
        if high is None or ts > high:
            high = ts
        if max_ts is None or ts > max_ts:
            max_ts = ts
        if due_at is not None and max_ts >= due_at:
            break
    series.max_ts = max_ts
    return index, high, late, invalid


def due(series: Series, spec: WindowSpec) -> bool:
    """Cheap test, per sample: has the watermark passed the end of the next window?"""
    if series.max_ts is None or not series.buckets:
        return False
    start = series.next_start if series.next_start is not None else min(series.buckets) - spec.size + spec.step
    return start + spec.size <= series.max_ts - spec.grace


def close_windows(series: Series, spec: WindowSpec) -> list[ClosedWindow]:
    """Evaluate, in order, every window the watermark has passed; drop buckets no window needs."""
    if series.max_ts is None or not series.buckets:
        return []
    watermark = series.max_ts - spec.grace
    start = series.next_start if series.next_start is not None else min(series.buckets) - spec.size + spec.step
    closed: list[ClosedWindow] = []
    while start + spec.size <= watermark:
        total, count = 0.0, 0
        for bucket in range(start, start + spec.size, spec.step):
            samples = series.buckets.get(bucket)
            if samples:
                total += sum(samples.values())
                count += len(samples)
        if count:
            closed.append(ClosedWindow(start, start + spec.size, total / count, count))
            start += spec.step
            continue
        later = [b for b in series.buckets if b >= start + spec.size]
        if not later:  # nothing ahead: jump to the first window the watermark has not passed
            start = max(start, (watermark - spec.size) // spec.step * spec.step + spec.step)
            break
        start = min(later) - spec.size + spec.step  # skip the empty stretch
    series.next_start = start
    for bucket in [b for b in series.buckets if b < start]:
        del series.buckets[bucket]
    return closed

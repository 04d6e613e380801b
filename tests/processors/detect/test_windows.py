import copy
import math
from datetime import timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from forewarn.policy_rules import RulesPolicy
from forewarn.processors.detect.state import Series
from forewarn.processors.detect.windows import WindowSpec, add_sample, add_until_due, close_windows, due

TUMBLING = WindowSpec(size=60_000, step=60_000, grace=30_000)
HOPPING = WindowSpec(size=120_000, step=60_000, grace=0)


def feed(series: Series, spec: WindowSpec, points: list[tuple[int, float]]) -> list[tuple[int, int, float, int]]:
    closed = []
    for ts, value in points:
        assert add_sample(series, ts, value, spec)
        if due(series, spec):
            closed += [(w.start, w.end, w.mean, w.count) for w in close_windows(series, spec)]
    return closed


def test_window_closes_only_when_watermark_passes_its_end() -> None:
    series = Series()
    # the window [0, 60s) stays open until a sample at >= 90s (end + grace) arrives
    assert feed(series, TUMBLING, [(0, 1.0), (30_000, 3.0), (89_999, 5.0)]) == []
    assert feed(series, TUMBLING, [(90_000, 7.0)]) == [(0, 60_000, 2.0, 2)]


def test_samples_within_grace_count_whatever_their_order() -> None:
    in_order, shuffled = Series(), Series()
    points = [(0, 1.0), (20_000, 2.0), (50_000, 3.0), (70_000, 9.0), (200_000, 0.0)]
    a = feed(in_order, TUMBLING, points)
    b = feed(shuffled, TUMBLING, [points[1], points[2], points[0], points[3], points[4]])
    assert a == b == [(0, 60_000, 2.0, 3), (60_000, 120_000, 9.0, 1)]


def test_late_sample_is_refused_and_duplicate_counts_once() -> None:
    series = Series()
    feed(series, TUMBLING, [(0, 1.0), (100_000, 1.0)])  # closes [0, 60s)
    assert not add_sample(series, 10_000, 50.0, TUMBLING)
    assert add_sample(series, 100_000, 1.0, TUMBLING)  # same sample again
    assert add_sample(series, 110_000, 4.0, TUMBLING)
    closed = feed(series, TUMBLING, [(200_000, 0.0)])
    assert closed == [(60_000, 120_000, 2.5, 2)]


def test_hopping_windows_share_samples_and_empty_stretches_are_skipped() -> None:
    series = Series()
    closed = feed(series, HOPPING, [(0, 2.0), (60_000, 4.0), (120_000, 6.0), (3_600_000, 1.0)])
    starts = [(start, mean) for start, _, mean, _ in closed]
    # [-60s, 60s) holds only the first sample; no window is evaluated across the empty hour
    assert starts == [(-60_000, 2.0), (0, 3.0), (60_000, 5.0), (120_000, 6.0)]
    assert list(series.buckets) == [3_600_000]


def test_spec_from_policy() -> None:
    rules = RulesPolicy(window=timedelta(minutes=2), step=timedelta(minutes=1), grace=timedelta(seconds=5))
    assert WindowSpec.of(rules) == WindowSpec(120_000, 60_000, 5_000)


_specs = st.sampled_from([TUMBLING, HOPPING, WindowSpec(size=180_000, step=60_000, grace=45_000)])
_points = st.lists(
    st.tuples(
        # on the grid of steps and graces, where windows fall due exactly, or anywhere
        st.one_of(st.integers(min_value=0, max_value=60).map(lambda k: k * 15_000), st.integers(0, 900_000)),
        st.one_of(st.floats(min_value=-1e6, max_value=1e6), st.sampled_from([math.nan, math.inf, -math.inf])),
    ),
    max_size=40,
)


@given(_specs, _points, _points)
@example(TUMBLING, [], [(90_000, 1.0), (0, 1.0), (5_000, 1.0)])  # an earlier bucket makes [0, 60s) due
def test_bulk_add_is_add_sample_then_due_per_sample(
    spec: WindowSpec, before: list[tuple[int, float]], run: list[tuple[int, float]]
) -> None:
    """``add_until_due`` stops exactly where the per-sample pair would first find a window due,
    leaving the same series and counting the same late and non-finite samples."""
    series = Series()
    for ts, value in before:  # some history: closed windows, a next_start, open buckets
        if math.isfinite(value) and add_sample(series, ts, value, spec) and due(series, spec):
            close_windows(series, spec)
    bulk, single = copy.deepcopy(series), copy.deepcopy(series)
    times, values = [ts for ts, _ in run], [v for _, v in run]
    index = 0
    while index < len(run):
        expected_late = expected_invalid = 0
        expected_high: int | None = None
        stop = index
        while stop < len(run):
            ts, value = run[stop]
            stop += 1
            if not math.isfinite(value):
                expected_invalid += 1
            elif not add_sample(single, ts, value, spec):
                expected_late += 1
            else:
                expected_high = ts if expected_high is None else max(expected_high, ts)
                if due(single, spec):
                    break
        assert add_until_due(bulk, times, values, index, spec) == (stop, expected_high, expected_late, expected_invalid)
        assert bulk == single
        if due(single, spec):
            assert close_windows(bulk, spec) == close_windows(single, spec)
        index = stop

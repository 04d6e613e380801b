"""Any interleaving, duplication and batching of the same signals yields the same incidents.

Kafka keeps one key's records in order but interleaves keys arbitrarily, redelivers after a
crash (one record again, or the whole run since the last committed offset), and ingest batches
whatever arrived together. Metric samples may also arrive out of
order by up to the grace period. None of that may change what detection publishes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forewarn.policy import Policy
from forewarn.processors.detect.detector import Detector, pack
from forewarn.processors.detect.state import GroupState
from forewarn.schemas.models import Incident, ObservabilityEvent, SampleRun, SignalBatch

from ._support import alert, at_ms

GRACE_MS = 30_000
SLOW, FAST = 2000.0, 200.0


@dataclass(frozen=True)
class Sample:
    service: str
    ts: int
    value: float


Item = Sample | ObservabilityEvent


@st.composite
def key_signals(draw: st.DrawFn, service: str) -> list[Item]:
    """One key's signals in arrival order: samples jittered within the grace between alerts."""
    minutes = draw(st.integers(min_value=4, max_value=30))
    values = draw(st.lists(st.sampled_from([SLOW, FAST]), min_size=minutes, max_size=minutes))
    samples = [Sample(service, at_ms(m) + half * 30_000, v) for m, v in enumerate(values) for half in (0, 1)]
    alert_minutes = sorted(draw(st.lists(st.integers(0, minutes - 1), max_size=3, unique=True)))
    symptom = draw(st.sampled_from(["outage", "latency"]))
    alerts = [
        alert(
            "firing" if i % 2 == 0 else "resolved",
            minute=m,
            service=service,
            symptom=symptom,
            severity="error",
            source_ref=f"{service}-a",
        )
        for i, m in enumerate(alert_minutes)
    ]
    items: list[Item] = []
    for event, minute in [*zip(alerts, alert_minutes, strict=True), (None, minutes)]:
        segment = [s for s in samples if s.ts < at_ms(minute) and s not in items]
        jitter = draw(st.lists(st.integers(0, GRACE_MS), min_size=len(segment), max_size=len(segment)))
        arrival = sorted(range(len(segment)), key=lambda i: segment[i].ts + jitter[i])
        items += [segment[i] for i in arrival]
        if event is not None:
            items.append(event)
    return items


def to_batches(items: list[Item], cuts: list[int]) -> list[SignalBatch]:
    batches, start = [], 0
    for end in [*sorted(set(c for c in cuts if 0 < c < len(items))), len(items)]:
        events: list[ObservabilityEvent] = []
        runs: list[SampleRun] = []
        for item in items[start:end]:
            if isinstance(item, ObservabilityEvent):
                events.append(item)
                continue
            if runs and runs[-1].after_events == len(events) and runs[-1].service == item.service:
                last = runs[-1]
                runs[-1] = last.model_copy(
                    update={
                        "count": last.count + 1,
                        "timestamps": last.timestamps + pack([item.ts], "q"),
                        "values": last.values + pack([item.value], "d"),
                    }
                )
            else:
                runs.append(
                    SampleRun(
                        service=item.service,
                        metric="latency_p99_ms",
                        after_events=len(events),
                        count=1,
                        timestamps=pack([item.ts], "q"),
                        values=pack([item.value], "d"),
                    )
                )
        batches.append(
            SignalBatch(
                group=items[start].service,
                region="eu-west",
                events=events,
                runs=runs,
            )
        )
        start = end
    return batches


def detect(deliveries: list[tuple[str, SignalBatch]]) -> dict[str, list[Incident]]:
    detector, states = Detector(Policy()), defaultdict(GroupState)
    out: dict[str, list[Incident]] = defaultdict(list)
    for key, batch in deliveries:
        out[key] += detector.apply_batch(states[key], batch).incidents
    return dict(out)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_interleaving_duplication_and_batching_do_not_change_incidents(data: st.DataObject) -> None:
    services = ["api", "search", "ledger"]
    signals = {s: data.draw(key_signals(s), label=s) for s in services}
    reference = detect([(s, b) for s in services for b in to_batches(sorted_in_time(signals[s]), [])])
    one_by_one = detect([(s, b) for s in services for b in to_batches(signals[s], list(range(len(signals[s]))))])
    assert one_by_one == reference  # jitter within the grace changes nothing

    queues = {}
    for s in services:
        cuts = data.draw(st.lists(st.integers(0, len(signals[s])), max_size=8), label=f"cuts {s}")
        batches = to_batches(signals[s], cuts)
        redelivered = data.draw(st.lists(st.integers(0, len(batches) - 1), max_size=3), label=f"again {s}")
        # A crash after batch `end` whose offsets were committed only up to `start`: the state
        # already holds batches start..end, and they arrive again, in order, after a restart.
        replays = data.draw(
            st.lists(st.tuples(st.integers(0, len(batches) - 1), st.integers(0, len(batches) - 1)), max_size=2),
            label=f"replays {s}",
        )
        queue = []
        for i, batch in enumerate(batches):
            queue.append(batch)
            queue += [batches[j] for j in redelivered if j == i]  # at-least-once: delivered again
            for start, end in replays:
                if end == i:
                    queue += batches[min(start, end) : end + 1]
        queues[s] = queue
    order = data.draw(st.permutations([s for s in services for _ in queues[s]]), label="interleaving")
    cursor = dict.fromkeys(services, 0)
    deliveries = []
    for s in order:
        deliveries.append((s, queues[s][cursor[s]]))
        cursor[s] += 1
    assert detect(deliveries) == reference


def sorted_in_time(items: list[Item]) -> list[Item]:
    """The same signals with samples in exact time order (alerts stay where they were)."""
    out: list[Item] = []
    pending: list[Sample] = []
    for item in items:
        if isinstance(item, Sample):
            pending.append(item)
        else:
            out += sorted(pending, key=lambda s: s.ts)
            pending = []
            out.append(item)
    return out + sorted(pending, key=lambda s: s.ts)

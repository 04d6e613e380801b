"""From normalised events to signal batches: one per thread group and region, order kept.

Ingest normalises a take() batch of raw messages and hands every signal here; metric samples
(the bulk, mostly already packed per series as ``normalize.Samples``) are folded into runs,
everything else travels as a whole event. Each batch records where its runs sat among its
events (``after_events``), so detection applies them in the order they arrived however the
stream was cut into batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.rules import METRIC_SYMPTOMS
from forewarn.processors.normalize import Samples
from forewarn.schemas.models import ObservabilityEvent, SampleRun, SignalBatch

from .detector import pack

#: Keep each Kafka record well under the broker's 1 MiB default (16 bytes a sample).
MAX_SAMPLES_PER_BATCH = 40_000
MAX_EVENTS_PER_BATCH = 500


@dataclass
class _Run:
    service: str
    metric: str
    after_events: int
    timestamps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


@dataclass
class _Pending:
    group: str
    region: str
    events: list[ObservabilityEvent] = field(default_factory=list)
    runs: list[_Run] = field(default_factory=list)
    samples: int = 0


class SignalGrouper:
    """Collects one take() batch's events per ``group|region`` key."""

    def __init__(self, graph: ServiceGraph) -> None:
        self.graph = graph
        self._pending: dict[tuple[str, str], list[_Pending]] = {}  # (service, region) -> its group's chunks
        self._by_key: dict[str, list[_Pending]] = {}
        #: Observability events added so far (each sample of a Samples is one).
        self.count = 0

    def add(self, signals: Iterable[ObservabilityEvent | Samples]) -> None:
        """Events and packed :class:`Samples`, in arrival order; each sample is its plain-sample event."""
        pending_of = self._pending
        for signal in signals:
            chunks = pending_of.get((signal.service, signal.region))
            if chunks is None:
                group = self.graph.group(signal.service)
                chunks = pending_of[(signal.service, signal.region)] = self._chunks(group, signal.region)
            if isinstance(signal, Samples):
                self._samples(chunks, signal.service, signal.metric, signal.at, signal.values)
                self.count += len(signal.at)
                continue
            self.count += 1
            if is_sample(signal):
                # datetimes here are whole milliseconds, so rounding the float is exact (and 3x cheaper)
                at = round(signal.occurred_at.timestamp() * 1000)
                value = signal.value if signal.value is not None else float("nan")
                self._samples(chunks, signal.service, signal.metric or "", [at], [value])
                continue
            pending = chunks[-1]
            if len(pending.events) >= MAX_EVENTS_PER_BATCH:
                pending = _Pending(pending.group, pending.region)
                chunks.append(pending)
            pending.events.append(signal)

    def _chunks(self, group: str, region: str) -> list[_Pending]:
        """Services of one group share the group's chunk list, so their order is kept."""
        key = f"{group}|{region}"
        shared = self._by_key.get(key)
        if shared is None:
            shared = self._by_key[key] = [_Pending(group, region)]
        return shared

    def _samples(self, chunks: list[_Pending], service: str, metric: str, at: list[int], values: list[float]) -> None:
        """Onto the key's open run (or a new one), spilling into a new chunk at the size limit."""
        start, end = 0, len(at)
        while start < end:
            pending = chunks[-1]
            room = MAX_SAMPLES_PER_BATCH - pending.samples
            if room <= 0:
                pending = _Pending(pending.group, pending.region)
                chunks.append(pending)
                room = MAX_SAMPLES_PER_BATCH
            runs = pending.runs
            run = runs[-1] if runs else None
            if run is None or run.after_events != len(pending.events) or run.service != service or run.metric != metric:
                run = _Run(service, metric, len(pending.events))
                runs.append(run)
            stop = min(end, start + room)
            if start == 0 and stop == end:
                run.timestamps += at
                run.values += values
            else:
                run.timestamps += at[start:stop]
                run.values += values[start:stop]
            pending.samples += stop - start
            start = stop

    def batches(self) -> Iterator[tuple[bytes, SignalBatch]]:
        """(key, batch) per key in first-seen order; a key's batches in arrival order."""
        for key, chunks in self._by_key.items():
            for pending in chunks:
                yield (
                    key.encode(),
                    SignalBatch(
                        group=pending.group,
                        region=pending.region,
                        events=pending.events,
                        runs=[
                            SampleRun(
                                service=r.service,
                                metric=r.metric,
                                after_events=r.after_events,
                                count=len(r.timestamps),
                                timestamps=pack(r.timestamps, "q"),
                                values=pack(r.values, "d"),
                            )
                            for r in pending.runs
                        ],
                    ),
                )
        self._pending.clear()
        self._by_key.clear()


def is_sample(event: ObservabilityEvent) -> bool:
    """A plain metric sample: windowed, carried packed. Flagged or per-customer ones stay events."""
    return event.metric in METRIC_SYMPTOMS and event.value is not None and not event.flags and event.customer_id is None

"""Builders for detection tests: samples and alerts at minutes after T0, batches of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from factories import T0, event
from forewarn.policy import Policy
from forewarn.processors.detect.detector import Detector, Outcome, pack
from forewarn.processors.detect.maintenance import Window
from forewarn.processors.detect.state import GroupState, to_ms
from forewarn.processors.ids import stable_id
from forewarn.schemas.models import Incident, ObservabilityEvent, SampleRun, SignalBatch

MINUTE_MS = 60_000


def at_ms(minute: float) -> int:
    return to_ms(T0) + int(minute * MINUTE_MS)


def run(service: str, metric: str, points: Iterable[tuple[float, float]], *, after_events: int = 0) -> SampleRun:
    """Samples at (minute after T0, value)."""
    points = list(points)
    return SampleRun(
        service=service,
        metric=metric,
        after_events=after_events,
        count=len(points),
        timestamps=pack([at_ms(m) for m, _ in points], "q"),
        values=pack([v for _, v in points], "d"),
    )


def alert(status: str = "firing", *, minute: float = 0, **extra: Any) -> ObservabilityEvent:
    """An alert at ``minute``; its id, like a normalised one, is its identity, status and time."""
    built = event(status, minute=0, **extra)
    at = T0 + timedelta(minutes=minute)
    fields: dict[str, Any] = {"occurred_at": at, "received_at": at, **extra}
    fields["event_id"] = stable_id(built.source, built.source_ref, status, at.isoformat(), built.service, built.symptom)
    return ObservabilityEvent(**{**built.model_dump(), **fields})


def batch(
    *, region: str = "eu-west", events: Sequence[ObservabilityEvent] = (), runs: Sequence[SampleRun] = ()
) -> SignalBatch:
    return SignalBatch(group="g", region=region, events=list(events), runs=list(runs))


def every_minute(values: Sequence[float], start: int = 0, per_minute: int = 1) -> list[tuple[float, float]]:
    """One value per minute (repeated per_minute times at even spacing) from ``start``."""
    return [(start + i + k / per_minute, v) for i, v in enumerate(values) for k in range(per_minute)]


class Harness:
    """A detector and one group state: feed batches, collect every version published."""

    def __init__(self, policy: Policy | None = None, windows: Sequence[Window] = ()) -> None:
        self.detector = Detector(policy or Policy())
        self.state = GroupState()
        self.windows = list(windows)
        self.published: list[Incident] = []
        self.outcomes: list[Outcome] = []

    def feed(self, *batches: SignalBatch) -> list[Incident]:
        new: list[Incident] = []
        for b in batches:
            outcome = self.detector.apply_batch(self.state, b, self.windows)
            self.outcomes.append(outcome)
            new += outcome.incidents
        self.published += new
        return new

    def timeline(self) -> list[tuple[str, int, str, str, bool, str]]:
        """(service|symptom, version, change, phase, internal, HH:MM) per published version."""
        return [
            (
                f"{i.service}|{i.symptom}",
                i.version,
                i.change,
                i.phase.value,
                i.internal,
                i.updated_at.strftime("%H:%M"),
            )
            for i in self.published
        ]

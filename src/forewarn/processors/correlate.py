"""Signals to incidents, one signal at a time: the simple face of ``processors.detect``.

The stream runs ``Detector.apply_batch`` over whole signal batches; this keeps the original
one-event API for callers (and tests) that have a single alert in hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from forewarn.policy import Policy
from forewarn.processors.detect.detector import Detector
from forewarn.processors.detect.state import GroupState
from forewarn.processors.detect.versions import dedup_key
from forewarn.schemas.models import Incident, ObservabilityEvent, SignalBatch

__all__ = ["Correlation", "correlate", "dedup_key"]


@dataclass(frozen=True)
class Correlation:
    """The group state after the signal, and the incident versions to publish (0 or more)."""

    state: GroupState
    published: tuple[Incident, ...] = ()


def correlate(current: GroupState | None, event: ObservabilityEvent, policy: Policy) -> Correlation:
    state = current.model_copy(deep=True) if current is not None else GroupState()
    batch = SignalBatch(group=event.service, region=event.region, events=[event])
    outcome = Detector(policy).apply_batch(state, batch)
    return Correlation(state, tuple(outcome.incidents))

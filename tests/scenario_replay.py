"""Recorded scenarios (tests/streams/fixtures) replayed through the pure stages, and the
helpers the broker tests share to replay them for real and read back the timelines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from forewarn.config import Settings
from forewarn.policy import Policy, load_policy
from forewarn.processors.detect.dedup import DedupRoute, keyed_by_dedup, route
from forewarn.processors.detect.detector import Detector
from forewarn.processors.detect.signals import SignalGrouper
from forewarn.processors.detect.state import GroupState
from forewarn.processors.normalize import NormalizeError, normalize
from forewarn.publish import Publisher, group_caught_up, raw_signal_from_json, read_json_lines, read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import Incident, ObservabilityEvent

FIXTURES = Path(__file__).resolve().parent / "streams" / "fixtures"
POLICY_FILE = FIXTURES / "policy.yaml"
#: Every topic detection reads or feeds, for "has the worker finished?" checks.
DETECTION_TOPICS = ("raw", "events", "dedup", "signals", "operator", "control", "incidents", "impact", "targeting")

Row = tuple[str, int, str, str, bool, str, str, str, str | None, str]


def fixture(name: str) -> Path:
    return FIXTURES / f"{name}.jsonl"


def scenario_policy() -> Policy:
    return load_policy(POLICY_FILE)


def pure_replay(paths: Iterable[Path], policy: Policy) -> list[Incident]:
    """What detection publishes for these recordings, computed without Kafka (one raw message a
    batch; PagerDuty events placed by the dedup stage on the way, as the worker does)."""
    detector, states = Detector(policy), defaultdict(GroupState)
    grouper = SignalGrouper(detector.graph)
    routes: dict[str, DedupRoute] = {}
    out: list[Incident] = []
    for path in paths:
        for _, line in read_json_lines(path):
            try:
                events = normalize(raw_signal_from_json(line))
            except NormalizeError:
                continue
            for event in events:
                placed: ObservabilityEvent | None = event
                if keyed_by_dedup(event):
                    # a replay runs faster than any grace: no route is forgotten in it
                    routed = route(event, routes.get(event.source_ref), event.received_at)
                    if routed.record is not None:
                        routes[event.source_ref] = routed.record
                    placed = routed.event
                if placed is not None:
                    grouper.add([placed])
            for key, batch in grouper.batches():
                out += detector.apply_batch(states[key], batch).incidents
    return out


def publish_recording(settings: Settings, path: Path) -> int:
    """Replay one recording in its own order: one key, so one partition of the raw topic."""
    publisher = Publisher(settings)
    count = 0
    for _, line in read_json_lines(path):
        publisher.send("raw", raw_signal_from_json(line), key=path.stem.encode())
        count += 1
    publisher.close()
    return count


def wait_detection_quiet(settings: Settings, check: object, timeout_s: float = 120.0) -> None:
    """Every detection topic fully consumed, seen twice in a row (a loop may still be in flight)."""
    streak = [0]

    def quiet() -> bool:
        if callable(check):
            check()
        streak[0] = streak[0] + 1 if group_caught_up(settings, settings.app_id, DETECTION_TOPICS) else 0
        return streak[0] >= 2

    wait_until(quiet, timeout_s, "detection to consume every signal and command", interval_s=0.5)


def read_incidents(settings: Settings) -> list[Incident]:
    return [decode(m.value(), Incident) for m in read_topic(settings, "incidents")]


def hhmm(at: datetime | None) -> str | None:
    return None if at is None else at.strftime("%H:%M")


def timeline(incidents: Iterable[Incident]) -> list[Row]:
    """One row per version, by incident (in order of opening) then version."""
    versions = sorted(incidents, key=lambda i: (i.opened_at, i.incident_id, i.version))
    return [
        (
            f"{i.service}|{i.region}|{i.symptom}",
            i.version,
            i.change,
            i.phase.value,
            i.internal,
            i.severity.value,
            i.kind.value,
            hhmm(i.updated_at) or "",
            hhmm(i.eta),
            ",".join(i.flags),
        )
        for i in versions
    ]

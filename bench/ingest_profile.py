"""Where forewarn's own ingest -> detection time goes, in one process, with no broker.

``bench/ingest.py`` measures the whole worker against a broker, where Faust, the Kafka client
and a shared machine add noise of the same size as the code being tuned. This feeds the same
kind of RawSignal bytes straight through the real stage objects (``Ingest.normalize_batch``
in batches of ``ingest.BATCH``, the captured ``signals`` records into ``Detect.on_signals`` in batches of
500), with topics that only collect what is sent and a dict for the detection table, so the
time measured is forewarn's: decode, normalise, group, SignalBatch encode/decode, windows,
state load/dump.

Workloads: ``json`` (``--samples`` metric samples a message, ``--keys`` series, as in
bench/ingest.py) and ``alertmanager`` (webhooks of ``--alerts`` alerts, firing then resolved).

    .venv/bin/python bench/ingest_profile.py [--workload json|alertmanager|all] [--messages N]
        [--samples 50] [--profile [--sort tottime] [--top 30]]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

T0 = datetime(2026, 11, 23, tzinfo=UTC)


class Message:
    """The attributes of a Faust message the stages read."""

    __slots__ = ("__weakref__", "key", "offset", "partition", "topic", "value")

    def __init__(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = topic, partition, offset, key, value


class Event:
    """A Faust event wrapping a message; ``acting_for`` takes a weak reference to it."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, message: Message) -> None:
        self.message = message


class CollectingTopic:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[bytes | None, bytes]] = []

    def send_soon(self, *, key: bytes | None = None, value: bytes, partition: int | None = None) -> None:
        self.sent.append((key, value))

    async def send(self, *, key: bytes | None = None, value: bytes, partition: int | None = None) -> None:
        self.sent.append((key, value))


class CollectingTopics:
    def __init__(self) -> None:
        self.topics: dict[str, CollectingTopic] = {}

    def __getitem__(self, short: str) -> CollectingTopic:
        return self.topics.setdefault(short, CollectingTopic(short))


def json_workload(messages: int, samples: int, keys: int) -> list[tuple[bytes, bytes]]:
    from ingest import workload

    return workload(messages, samples, keys)


def alertmanager_workload(messages: int, alerts: int, keys: int) -> list[tuple[bytes, bytes]]:
    """Webhooks of ``alerts`` alerts each; every other webhook resolves the previous one's alerts."""
    from forewarn.schemas.codec import encode
    from forewarn.schemas.models import RawSignal

    out = []
    for n in range(messages):
        key = n % keys
        service, region = f"svc{key % 20}", f"region-{key // 20}"
        round_ = n // keys
        started = T0 + timedelta(seconds=(round_ // 2) * 60)
        resolved = round_ % 2 == 1
        body = {
            "version": "4",
            "status": "resolved" if resolved else "firing",
            "receiver": "forewarn",
            "groupLabels": {"service": service},
            "commonLabels": {"service": service, "region": region},
            "alerts": [
                {
                    "status": "resolved" if resolved else "firing",
                    "labels": {
                        "alertname": f"Pod{i}HighLatency",
                        "service": service,
                        "region": region,
                        "severity": "warning",
                        "pod": f"pod-{i}",
                    },
                    "annotations": {"summary": f"latency high on pod-{i}"},
                    "startsAt": started.isoformat().replace("+00:00", "Z"),
                    "endsAt": (started + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
                    if resolved
                    else "0001-01-01T00:00:00Z",
                    "fingerprint": f"{key:04x}{i:04x}",
                }
                for i in range(alerts)
            ],
        }
        raw = RawSignal(
            source="alertmanager",
            received_at=started + timedelta(seconds=31 if resolved else 1),
            body=json.dumps(body, separators=(",", ":")).encode(),
        )
        out.append((f"{service}|{region}".encode(), encode(raw)))
    return out


class Pipeline:
    def __init__(self, partitions: int = 4) -> None:
        from forewarn.clock import SystemClock
        from forewarn.config import Settings
        from forewarn.policy import Policy
        from forewarn.streams.context import StreamContext
        from forewarn.streams.detect import Detect
        from forewarn.streams.ingest import Ingest

        settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="forewarn-profile-")), partitions=partitions)
        self.topics = CollectingTopics()
        ctx = StreamContext(settings, Policy(), self.topics, SystemClock())  # type: ignore[arg-type]
        self.ingest = Ingest(ctx)
        self.groups: dict[bytes, bytes] = {}
        self.detect = Detect(ctx, self.groups, {}, {})
        self.partitions = partitions
        self.ingest_s = self.detect_s = 0.0

    async def run(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        from forewarn.streams.detect import BATCH as DETECT_BATCH
        from forewarn.streams.ingest import BATCH as INGEST_BATCH

        signals = self.topics["signals"]
        for start in range(0, len(raw), INGEST_BATCH):
            chunk = [
                Message("raw", 0, start + i, key, value)
                for i, (key, value) in enumerate(raw[start : start + INGEST_BATCH])
            ]
            began = time.perf_counter()
            await self.ingest.normalize_batch(chunk)
            self.ingest_s += time.perf_counter() - began
            produced, signals.sent = signals.sent, []
            # One detection batch per partition, as each partition's agent would take them.
            per_partition: dict[int, list[Event]] = {}
            for offset, (key, value) in enumerate(produced):
                partition = hash(key) % self.partitions
                per_partition.setdefault(partition, []).append(Event(Message("signals", partition, offset, key, value)))
            began = time.perf_counter()
            for events in per_partition.values():
                for i in range(0, len(events), DETECT_BATCH):
                    await self.detect.on_signals(events[i : i + DETECT_BATCH])
            self.detect_s += time.perf_counter() - began


def measure(name: str, raw: list[tuple[bytes, bytes]], events: int, profile: cProfile.Profile | None) -> dict[str, Any]:
    pipeline = Pipeline()
    warm = raw[: min(len(raw), 2000)]
    asyncio.run(Pipeline().run(warm))  # imports, schema parsing, first-use caches
    began = time.perf_counter()
    if profile is not None:
        profile.enable()
    asyncio.run(pipeline.run(raw))
    if profile is not None:
        profile.disable()
    took = time.perf_counter() - began
    dead = sum(pipeline.detect.ctx.dead_letters.values())
    result = {
        "workload": name,
        "messages": len(raw),
        "events": events,
        "events_per_s": round(events / took),
        "messages_per_s": round(len(raw) / took),
        "ingest_s": round(pipeline.ingest_s, 3),
        "detect_s": round(pipeline.detect_s, 3),
        "dead_letters": dead,
        "incidents": len(pipeline.topics["incidents"].sent),
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=["json", "json1", "alertmanager", "all"], default="all")
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--keys", type=int, default=40)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()

    profile = cProfile.Profile() if args.profile else None
    chosen = ["json", "json1", "alertmanager"] if args.workload == "all" else [args.workload]
    for name in chosen:
        if name == "json":
            measure(name, json_workload(args.messages, args.samples, args.keys), args.messages * args.samples, profile)
        elif name == "json1":
            measure(name, json_workload(args.messages * 5, 1, args.keys), args.messages * 5, profile)
        else:
            measure(
                name, alertmanager_workload(args.messages, args.alerts, args.keys), args.messages * args.alerts, profile
            )
    if profile is not None:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()

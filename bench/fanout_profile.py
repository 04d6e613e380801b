"""Where forewarn's own fan-out time goes, in one process, with no broker.

``bench/fanout.py`` measures the whole worker against a broker, where Faust, librdkafka and a
shared 2-core machine add noise of the same size as the code being tuned. This drives the real
``Targeting`` stage (``target`` for each partition's TargetingRequest of one regional P1, under
the same ungated policy as the bench) over a synthetic population held in dict tables, with a
producer that only counts what ``AcknowledgedSends`` hands it. What is timed is forewarn's:
filtering the index, cadence, decoding segments, drafting, validation, routing, building and
encoding each command and audit record, and recording the ledger.

    .venv/bin/python bench/fanout_profile.py [--customers 100000] [--partitions 4]
        [--profile [--sort tottime] [--top 40]]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import pstats
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

#: Fixed, so ``--digest`` runs compare; the incident, the population and the clock all count from it.
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Table(dict[bytes, bytes]):
    """A customers or cadence table: Faust's ``data`` is the store itself."""

    @property
    def data(self) -> Table:
        return self


class Message:
    """The attributes of a Faust message the stage reads."""

    def __init__(self, topic: str, partition: int, key: bytes, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = topic, partition, 0, key, value
        self.timestamp = T0.timestamp()


class FixedClock:
    """``--digest`` runs: every record's timestamps are the same from run to run."""

    def now(self) -> datetime:
        return T0


class CountingProducer:
    """librdkafka's ``Producer`` as ``AcknowledgedSends`` uses it: counts records and bytes per topic."""

    def __init__(self, digest: bool = False) -> None:
        self.records: Counter[str] = Counter()
        self.bytes = 0
        self.sample: dict[str, bytes] = {}
        self.digest = hashlib.sha256() if digest else None

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Callable[..., None] | None = None) -> None:
        self.records[topic] += 1
        self.bytes += len(value)
        self.sample.setdefault(topic, value)
        if self.digest is not None:
            self.digest.update(b"%d|%s|%s|%s" % (len(value), topic.encode(), key, value))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def staged(customers: int, partitions: int, digest: bool = False) -> tuple[Any, CountingProducer, list[Message]]:
    """A Targeting stage holding ``customers`` customers, and the P1's targeting requests."""
    import fanout
    from ingest_profile import CollectingTopics

    from forewarn.clock import SystemClock
    from forewarn.config import Settings
    from forewarn.demo.population import population
    from forewarn.policy import Policy
    from forewarn.processors.target import plan_targeting
    from forewarn.schemas.codec import encode
    from forewarn.streams.changelog import MappingWrites
    from forewarn.streams.context import StreamContext
    from forewarn.streams.targeting import Targeting

    fanout.T0 = T0
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="forewarn-fanout-profile-")), partitions=partitions)
    policy = Policy.model_validate({"gates": {"default": "never"}})  # as bench/fanout.py runs its workers
    clock = FixedClock() if digest else SystemClock()
    ctx = StreamContext(settings, policy, CollectingTopics(), clock)  # type: ignore[arg-type]
    customers_table = Table()
    targeting = Targeting(ctx, customers_table, Table(), MappingWrites(customers_table))
    producer = CountingProducer(digest)
    targeting.out._producer = producer  # type: ignore[assignment]

    async def load() -> None:
        batch = []
        for n, segment in enumerate(population(customers, T0)):
            key = segment.customer_id.encode()
            batch.append(Message("customers", n % partitions, key, encode(segment)))
            if len(batch) == 2000:
                await targeting.upsert_customers(batch)
                batch = []
        await targeting.upsert_customers(batch)

    asyncio.run(load())
    requests = [
        Message("targeting", request.partition, request.request_id.encode(), encode(request))
        for request in plan_targeting(fanout.outage(), policy, partitions)
    ]
    return targeting, producer, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--digest", action="store_true", help="hash every record sent and the cadence table")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()

    began = time.perf_counter()
    targeting, producer, requests = staged(args.customers, args.partitions, args.digest)
    load_s = time.perf_counter() - began
    warm, _, warm_requests = staged(2000, args.partitions)  # imports, schema parsing, template compiling

    async def run(stage: Any, messages: list[Message]) -> None:
        for message in messages:
            await stage.target(message)

    asyncio.run(run(warm, warm_requests))
    profile = cProfile.Profile() if args.profile else None
    began = time.perf_counter()
    if profile is not None:
        profile.enable()
    asyncio.run(run(targeting, requests))
    if profile is not None:
        profile.disable()
    took = time.perf_counter() - began
    commands = sum(n for topic, n in producer.records.items() if ".notify." in topic or topic.startswith("notify."))
    result = {
        "customers": args.customers,
        "load_s": round(load_s, 1),
        "fanout_s": round(took, 2),
        "commands": commands,
        "records": sum(producer.records.values()),
        "commands_per_s": round(commands / took),
        "bytes": producer.bytes,
        "topics": dict(sorted(producer.records.items())),
    }
    if producer.digest is not None:
        for key, value in sorted(targeting.cadence.items()):
            producer.digest.update(b"%d|%s|%s" % (len(value), key, value))
        result["digest"] = producer.digest.hexdigest()
    print(json.dumps(result), flush=True)
    if profile is not None:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()

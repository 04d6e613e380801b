"""Where a worker's cold recovery of the customer table goes, without the fan-out bench around it.

Starts its own broker and writes a synthetic population (``--customers``, default 200,000)
straight to the customer table's changelog, as a worker would have left it (same keys, same
murmur2 partitions). Then it starts a worker on an empty data dir and reports, from the worker's
own log: process start to the first changelog record, the changelog apply (records/s), the
index rebuild, and the wait until ``/customers`` says ready. A second start on the same data
dir gives the warm figure. Prints one JSON line at the end.

    .venv/bin/python bench/recovery.py [--customers 200000] [--partitions 4]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import peak_rss_mb, start_workers, wait_tables

T0 = datetime.now(UTC).replace(microsecond=0)
REBUILT = re.compile(r"segment index rebuilt: (\d+) customers .* in ([\d.]+)s")
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+)\]")
#: In the order a cold start passes them.
MILESTONES = {
    "start": "[^Worker]: Starting...",
    "assigned": "Executing _on_partitions_assigned",
    "restoring": "Restoring state from changelog topics",
    "restored": "Restore complete!",
    "indexed": "segment index rebuilt",
    "ready": "[^Worker]: Ready",
}


def publish_changelog(settings: Any, customers: int) -> None:
    """The changelog a worker that loaded ``customers`` would have written."""
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from forewarn.demo.population import population
    from forewarn.publish import producer_config
    from forewarn.schemas.codec import encode

    topic = f"{settings.app_id}-customers-changelog"
    admin = AdminClient({"bootstrap.servers": settings.kafka})
    for future in admin.create_topics(
        [NewTopic(topic, num_partitions=settings.partitions, config={"cleanup.policy": "compact"})]
    ).values():
        future.result()
    producer = Producer(producer_config(settings))
    for segment in population(customers, T0):
        while True:
            try:
                producer.produce(topic, encode(segment), segment.customer_id.encode())
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def cpu_s(worker: Any) -> float:
    """User + system CPU seconds the worker process has used (all threads)."""
    if worker.proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{worker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phases(log: str) -> dict[str, float]:
    """Seconds between the worker's own milestones (Faust's recovery log lines, ours)."""
    at: dict[str, float] = {}
    for line in log.splitlines():
        stamp = STAMP.match(line)
        if stamp is None:
            continue
        when = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        for name, text in MILESTONES.items():
            if text in line:
                at.setdefault(name, when)
    figures: dict[str, float] = {}
    steps = list(MILESTONES)
    for first, then in itertools.pairwise(steps):
        if first in at and then in at:
            figures[f"{first}_to_{then}_s"] = round(at[then] - at[first], 1)
    return figures


def run(settings: Any, scratch: Path, customers: int, tag: str, label: str) -> dict[str, float]:
    log_path = scratch / f"{tag}-0.log"
    (worker,) = start_workers(settings, scratch, 1, tag)
    try:
        total = wait_tables([worker], customers, 1800)
        figures = {"serving_s": round(total, 1), "peak_rss_mb": round(peak_rss_mb(worker)), "cpu_s": cpu_s(worker)}
    finally:
        worker.stop(120)
    log = log_path.read_text(errors="replace")
    log_path.rename(scratch / f"{tag}-0.{label}.log")
    found = REBUILT.findall(log)
    if found:
        figures["index_rebuild_s"] = float(found[-1][1])
    figures.update(phases(log))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from forewarn.broker.admin import create_topics
    from forewarn.broker.local import LocalKafka, free_port
    from forewarn.config import Settings

    scratch = Path(tempfile.mkdtemp(prefix="forewarn-recovery-"))
    broker = LocalKafka(scratch / "kafka", port=free_port())
    broker.start()
    try:
        settings = Settings(
            kafka=broker.bootstrap, topic_prefix="bench.", app_id="forewarn-bench-recovery",
            data_dir=scratch / "worker", partitions=args.partitions,
        )  # fmt: skip
        create_topics(settings)
        t = time.monotonic()
        publish_changelog(settings, args.customers)
        print(f"{args.customers:,} customers written to the changelog in {time.monotonic() - t:.0f}s; "
              f"scratch {scratch}", flush=True)  # fmt: skip
        cold = run(settings, scratch, args.customers, "cold", "cold")
        print(f"cold: {cold}", flush=True)
        warm = run(settings, scratch, args.customers, "cold", "warm")
        print(f"warm: {warm}", flush=True)
        print(json.dumps({"customers": args.customers, "cold": cold, "warm": warm}))
    finally:
        broker.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

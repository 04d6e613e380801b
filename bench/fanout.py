"""How fast, and in how much memory, forewarn fans one regional incident out to its customers.

Starts its own broker, publishes a synthetic population (``--customers``, default 1,000,000;
about 31 % of it in eu-west) to the customers topic, runs real forewarn workers (``--workers``,
pipeline role) until their tables hold everyone, then publishes one P1 outage in eu-west and
measures, from the incident record to the last notification command on the channel topics:

* ``seconds_to_last_command`` and ``commands_per_s`` (commands / that time);
* ``peak_rss_mb``: the largest peak resident set (VmHWM) of a worker over the whole run;
* ``recovery_s``: cold recovery — a worker with an empty data dir restoring the table from its
  changelog and rebuilding the index, from process start until it serves targeting again
  (``warm_recovery_s``: the same after a clean restart on the same data dir).

Baselines in the same run, on the same broker: ``bare_producer_per_s``, a librdkafka producer
writing the same number of command-sized records (the broker's ceiling here), and the load rate
of the table (``load_customers_per_s``). The last line is one JSON object.

    .venv/bin/python bench/fanout.py [--customers 1000000] [--partitions 4] [--workers 2]

Workers split the partitions between them, one process per core by default (two here). The
incident goes out once the workers are idle: a second worker's standby replica of the other's
table catches up on its changelog after the active partitions are loaded, and measured while it
did, two workers looked slower than one. ``broker_cpu_s`` and ``worker_cpu_s`` are the CPU each
side spent from the incident to the last command; ``peak_rss_mb`` is the largest worker's,
``total_rss_mb`` the sum over workers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime.now(UTC).replace(microsecond=0)
PERSONAL = ("email", "inapp", "sms", "slack", "teams")


def publish_population(settings: Any, customers: int) -> Counter[str]:
    """Publish the population and count the commands a P1 outage in eu-west should produce, per channel."""
    from forewarn.demo.population import population
    from forewarn.policy import Policy
    from forewarn.processors.target import channels_for, plan_targeting, profile_of
    from forewarn.publish import Publisher
    from forewarn.schemas.codec import encode

    (request,) = plan_targeting(outage(), Policy(), 1)
    publisher = Publisher(settings)
    expected: Counter[str] = Counter()
    for n, segment in enumerate(population(customers, T0)):
        publisher.send_bytes("customers", encode(segment), key=segment.customer_id.encode())
        if "eu-west" in segment.regions:
            expected["customers"] += 1
            expected.update(c.value for c in channels_for(profile_of(segment), request, Policy()))
        if n % 100_000 == 99_999:
            print(f"  published {n + 1:,} customers", flush=True)
    publisher.close()
    return expected


def outage() -> Any:
    from forewarn.schemas.models import Incident, IncidentKind, Phase, Severity

    return Incident(
        incident_id="inc-bench", version=1, dedup_key="payments|eu-west|outage", title="Payments outage in EU-WEST",
        service="payments", region="eu-west", symptom="outage", phase=Phase.investigating, severity=Severity.P1,
        kind=IncidentKind.regional_outage, change="opened", opened_at=T0, updated_at=T0, first_signal_at=T0,
    )  # fmt: skip


def table_status(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/customers", timeout=10) as response:
            return dict(json.load(response))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def wait_tables(workers: list[Any], customers: int, timeout_s: float, show: bool = False) -> float:
    """Seconds until the workers' indexes hold every customer between them."""
    started, last_shown = time.monotonic(), 0.0
    while True:
        for w in workers:
            w.check()
        statuses = [table_status(w.settings.web_port) for w in workers]
        held = sum(s["customers"] for s in statuses if s and s["ready"])
        if held >= customers and all(s and s["ready"] for s in statuses):
            return time.monotonic() - started
        if show and time.monotonic() - last_shown > 15:
            last_shown = time.monotonic()
            print(f"  tables hold {held:,} customers after {last_shown - started:.0f}s", flush=True)
        if time.monotonic() - started > timeout_s:
            raise SystemExit(f"tables held {held} of {customers} customers after {timeout_s:.0f}s")
        time.sleep(0.5)


def watermarks(settings: Any, short_topics: list[str]) -> tuple[int, list[tuple[str, int, int]]]:
    from confluent_kafka import Consumer, TopicPartition

    from forewarn.topics import TopicNames

    names = TopicNames(settings.topic_prefix)
    consumer = Consumer({"bootstrap.servers": settings.kafka, "group.id": "bench-marks", "enable.auto.commit": False})
    try:
        total, parts = 0, []
        for short in short_topics:
            topic = names(short)
            for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                total += high - low
                if high > low:
                    parts.append((topic, p, high))
        return total, parts
    finally:
        consumer.close()


def last_timestamp(settings: Any, parts: list[tuple[str, int, int]]) -> float:
    """The newest record's CreateTime (set by the worker's producer) over the given partitions."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka, "group.id": "bench-last", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, p, high - 1) for topic, p, high in parts])
        newest, pending = 0.0, len(parts)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            newest = max(newest, message.timestamp()[1] / 1000)
            pending -= 1
        return newest
    finally:
        consumer.close()


def bare_producer_rate(settings: Any, records: int) -> float:
    """Command-sized records per second one librdkafka producer gets through this broker."""
    from confluent_kafka import Producer

    from forewarn.publish import producer_config
    from forewarn.topics import TopicNames

    topic = TopicNames(settings.topic_prefix)("notify.internal")
    producer = Producer(producer_config(settings))
    value = b"x" * 900
    started = time.perf_counter()
    for n in range(records):
        while True:
            try:
                producer.produce(topic, value, f"ntf_{n:024d}".encode())
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)
    return records / (time.perf_counter() - started)


def cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process (all its threads) so far; 0 once it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(pids: list[int | None], timeout_s: float, busy_below: float = 0.15) -> float:
    """Seconds until the workers are idle: a second worker's standby replica of the other's
    table may still be catching up on its changelog after the active partitions are loaded."""
    started = time.monotonic()
    before = [cpu_s(pid) for pid in pids]
    while time.monotonic() - started < timeout_s:
        time.sleep(2.0)
        now = [cpu_s(pid) for pid in pids]
        if max(b - a for a, b in zip(before, now, strict=True)) / 2.0 < busy_below:
            break
        before = now
    return time.monotonic() - started


def peak_rss_mb(worker: Any) -> float:
    if worker.proc is None:
        return 0.0
    try:
        status = Path(f"/proc/{worker.proc.pid}/status").read_text()
    except OSError:
        return 0.0
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return kb / 1024


def start_workers(settings: Any, scratch: Path, count: int, tag: str) -> list[Any]:
    from forewarn.demo.mailbox import free_port
    from forewarn.process import WorkerProcess

    workers = []
    for i in range(count):
        own = settings.model_copy(update={"data_dir": scratch / f"{tag}-{i}", "web_port": free_port()})
        policy = scratch / "policy.yaml"
        # Fan-out to the channel topics is what is measured: no draft waits for a person (the
        # default policy holds every category for approval).
        policy.write_text("gates:\n  default: never\n")
        workers.append(WorkerProcess(own, scratch / f"{tag}-{i}.log", roles="pipeline,web", policy=policy).start())
    return workers


def recovery(settings: Any, scratch: Path, workers: int, customers: int, tag: str) -> float:
    started = time.monotonic()
    restarted = start_workers(settings, scratch, workers, tag)
    try:
        wait_tables(restarted, customers, 1800)
        return time.monotonic() - started
    finally:
        for w in restarted:
            w.stop(120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, data)")
    args = parser.parse_args()

    from forewarn.broker.admin import create_topics
    from forewarn.broker.local import LocalKafka, free_port
    from forewarn.config import Settings
    from forewarn.publish import Publisher

    scratch = Path(tempfile.mkdtemp(prefix="forewarn-fanout-"))
    broker = LocalKafka(scratch / "kafka", port=free_port())
    broker.start()
    workers: list[Any] = []
    try:
        settings = Settings(
            kafka=broker.bootstrap, topic_prefix="bench.", app_id="forewarn-bench-fanout",
            data_dir=scratch / "worker", partitions=args.partitions,
        )  # fmt: skip
        create_topics(settings)
        print(f"{args.customers:,} customers, {args.partitions} partitions, {args.workers} worker(s); "
              f"scratch {scratch}", flush=True)  # fmt: skip
        workers = start_workers(settings, scratch, args.workers, "worker")
        started = time.monotonic()
        expected = publish_population(settings, args.customers)
        commands = sum(expected[c] for c in PERSONAL)
        wait_tables(workers, args.customers, 3600, show=True)
        load_s = time.monotonic() - started
        print(f"table loaded in {load_s:.0f}s ({args.customers / load_s:,.0f} customers/s); expecting "
              f"{expected['customers']:,} affected, {commands:,} commands {dict(expected)}", flush=True)  # fmt: skip

        pids = [w.proc.pid if w.proc else None for w in workers]
        print(f"workers idle after {wait_quiet(pids, 600):.0f}s more", flush=True)
        publisher = Publisher(settings)
        cpu_before = [cpu_s(pid) for pid in [broker.status().pid, *pids]]
        incident_at = time.time()
        publisher.send("incidents", outage())
        publisher.close()
        topics = [f"notify.{c}" for c in PERSONAL]
        deadline = time.monotonic() + 3600
        while True:
            for w in workers:
                w.check()
            seen, parts = watermarks(settings, topics)
            if seen >= commands:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {seen} of {commands} commands after an hour")
            time.sleep(1.0)
        to_last = last_timestamp(settings, parts) - incident_at
        cpu_after = [cpu_s(pid) for pid in [broker.status().pid, *pids]]
        cpu = [after - before for after, before in zip(cpu_after, cpu_before, strict=True)]
        held = watermarks(settings, ["approvals"])[0]
        peaks = [peak_rss_mb(w) for w in workers]
        rss, total_rss = max(peaks), sum(peaks)
        print(f"{seen:,} commands ({held} held for approval); last one {to_last:.1f}s after the incident "
              f"= {seen / to_last:,.0f} commands/s; peak RSS {rss:,.0f} MB; CPU meanwhile: broker {cpu[0]:.1f}s, "
              f"worker(s) {sum(cpu[1:]):.1f}s", flush=True)  # fmt: skip

        for w in workers:
            w.stop(120)
        warm_s = recovery(settings, scratch, args.workers, args.customers, "worker")
        print(f"warm restart (same data dir): serving again after {warm_s:.1f}s", flush=True)
        cold_s = recovery(settings, scratch, args.workers, args.customers, "cold")
        print(f"cold recovery (empty data dir, table from its changelog): serving again after {cold_s:.1f}s",
              flush=True)  # fmt: skip
        bare = bare_producer_rate(settings, min(seen, 300_000))
        print(f"baseline: one bare librdkafka producer writes {bare:,.0f} command-sized records/s here", flush=True)
        result = {
            "customers": args.customers,
            "affected": expected["customers"],
            "seconds_to_last_command": round(to_last, 1),
            "commands_per_s": round(seen / to_last),
            "peak_rss_mb": round(rss),
            "total_rss_mb": round(total_rss),
            "recovery_s": round(cold_s, 1),
            "warm_recovery_s": round(warm_s, 1),
            "commands": seen,
            "load_customers_per_s": round(args.customers / load_s),
            "broker_cpu_s": round(cpu[0], 1),
            "worker_cpu_s": round(sum(cpu[1:]), 1),
            "bare_producer_per_s": round(bare),
            "partitions": args.partitions,
            "workers": args.workers,
        }
        print(json.dumps(result))
    finally:
        for w in workers:
            w.stop(60)
        broker.stop()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

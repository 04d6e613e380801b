"""How fast forewarn turns raw observability messages into detection state, on this machine.

One broker (started here), one prefilled raw topic, four consumers of it side by side:

* ``forewarn``: a real forewarn worker's ingest path (decode -> normalise -> group -> signals
  topic -> detection windows and correlation), timed from its first raw batch until detection
  has applied every event;
* ``noop_faust``: a Faust agent on the same topic that only counts (``take_events``, as ours),
  on faust-streaming as it ships: the baseline the ratio target is set against;
* ``noop_forewarn_transport``: the same no-op agent on forewarn's transport
  (``streams/transport.py``: a short long-poll and eager delivery of each record, which takes
  about a third of stock Faust's per-record cost away), so the cost of forewarn's own logic
  shows on its own too (``ratio_vs_noop_forewarn_transport``);
* ``bare_consumer``: a confluent-kafka consumer that only decodes each record.

Workload: JSON metric samples for ``--keys`` service/region series, ``--samples`` per message
(the JSON format takes an array), values under every threshold so detection windows all of
them without opening incidents. The first workload is the headline, the one the targets are
judged on together: forewarn at >= 0.8 of the no-op agent's messages/s *and* >= 50k events/s.
The stock no-op agent reads 3-14k messages/s here (the machine's speed drifts), so 50k
events/s takes about fifteen samples a message on a slow spell; the default is 15, then one
sample a message (per-message costs dominate, so the transport's gain shows most) and fifty
(events/s' best case and the ratio's hardest: per-message costs amortise, per-sample work is
the cost). Each workload runs ``--repeat`` times (3) on fresh topics and reports medians, the
ratios the medians of each run's own (``median_of`` says why); ``runs`` lists the ratios vs
stock Faust. The last line is one JSON object: the headline's figures, then every workload's.
``--transport confluent`` tries faust-streaming's confluent driver for the Faust consumers
(here, with faust-streaming 0.15.3, its no-op agent consumed nothing in ten minutes).

    .venv/bin/python bench/ingest.py [--messages 20000] [--samples 15,1,50] [--keys 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 23, tzinfo=UTC)


def workload(messages: int, samples: int, keys: int) -> list[tuple[bytes, bytes]]:
    """(key, encoded RawSignal) per message; each series' samples one second apart."""
    from forewarn.schemas.codec import encode
    from forewarn.schemas.models import RawSignal

    out = []
    for n in range(messages):
        key, round_ = n % keys, n // keys
        service, region = f"svc{key % 20}", f"region-{key // 20}"
        first = T0 + timedelta(seconds=round_ * samples)
        millis = int(first.timestamp() * 1000)
        body = [
            {"service": service, "region": region, "metric": "latency_p99_ms", "value": 120.0 + (i % 7),
             "timestamp": millis + i * 1000}
            for i in range(samples)
        ]  # fmt: skip
        raw = RawSignal(
            source="json",
            received_at=first + timedelta(seconds=samples),
            body=json.dumps(body, separators=(",", ":")).encode(),
        )
        out.append((f"{service}|{region}".encode(), encode(raw)))
    return out


def bare_consumer(settings: Any, expected: int) -> float:
    """Messages per second a plain confluent-kafka consumer reads and decodes."""
    from confluent_kafka import Consumer, TopicPartition

    from forewarn.schemas.codec import decode
    from forewarn.schemas.models import RawSignal
    from forewarn.topics import TopicNames

    topic = TopicNames(settings.topic_prefix)("raw")
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka, "group.id": "bench-bare", "enable.auto.commit": False,
         "fetch.max.bytes": 64 * 1024 * 1024}
    )  # fmt: skip
    meta = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
    seen, started = 0, None
    try:
        while seen < expected:
            for message in consumer.consume(1000, timeout=1.0):
                if message.error():
                    continue
                if started is None:
                    started = time.perf_counter()
                decode(message.value(), RawSignal)
                seen += 1
        return seen / (time.perf_counter() - (started or time.perf_counter()))
    finally:
        consumer.close()


# -- the two Faust consumers run as child processes (a Faust worker owns its event loop) ----------


def child(
    mode: str, transport: str, settings_json: str, expected_messages: int, expected_events: int, out: Path
) -> None:
    from forewarn.config import Settings

    settings = Settings.model_validate_json(settings_json)
    broker = f"{transport}://{settings.kafka}"
    marks: dict[str, float] = {}

    def finish() -> None:
        out.write_text(json.dumps(marks))
        os.kill(os.getpid(), signal.SIGTERM)

    if mode in ("noop", "noop_forewarn"):
        app = _noop_app(settings, broker, expected_messages, marks, finish, forewarn_transport=mode == "noop_forewarn")
    else:
        from forewarn.streams.app import tune_collector

        app = _forewarn_app(settings, broker, expected_messages, expected_events, marks, finish)
        tune_collector()  # as run_worker does once the app is built
    import faust

    worker = faust.Worker(app, loglevel="error", quiet=True, redirect_stdouts=False)
    worker.spinner = None  # both as run_worker starts ours: the spinner turns every debug() call into a record
    profile = os.environ.get("FOREWARN_BENCH_PROFILE")
    if profile:  # where a child's time goes: FOREWARN_BENCH_PROFILE=/tmp/p python bench/ingest.py
        import cProfile

        cProfile.runctx("worker.execute_from_commandline()", globals(), {"worker": worker}, f"{profile}.{mode}")
    else:
        worker.execute_from_commandline()


def _noop_app(
    settings: Any, broker: str, expected: int, marks: dict[str, float], finish: Any, *, forewarn_transport: bool
) -> Any:
    import faust

    from forewarn.streams.transport import App
    from forewarn.topics import OVERSIZE_HEADROOM_BYTES, TopicNames

    app = (App if forewarn_transport else faust.App)(
        f"{settings.app_id}-noop{'-fw' if forewarn_transport else ''}",
        broker=broker,
        store="memory://",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        topic_disable_leader=True,
        consumer_max_fetch_size=OVERSIZE_HEADROOM_BYTES,
    )
    raw = app.topic(TopicNames(settings.topic_prefix)("raw"), key_type=bytes, value_type=bytes,
                    key_serializer="raw", value_serializer="raw")  # fmt: skip
    counted = [0]

    @app.agent(raw, name="noop")
    async def noop(stream: Any) -> None:
        async for events in stream.take_events(2000, within=0.05):
            marks.setdefault("first", time.perf_counter())
            marks["batches"] = marks.get("batches", 0) + 1
            counted[0] += len(events)
            if counted[0] >= expected:
                marks["last"] = time.perf_counter()
                finish()

    return app


def _forewarn_app(
    settings: Any, broker: str, expected_messages: int, expected_events: int, marks: dict[str, float], finish: Any
) -> Any:
    from forewarn.streams.agents import PIPELINE
    from forewarn.streams.app import create_app

    app, stages = create_app(settings, roles=frozenset({PIPELINE}))
    if not broker.startswith("kafka://"):
        app.conf.broker = broker
    ingest, detect = stages.ingest, stages.detect
    normalize_batch, apply_batch, on_signals = ingest.normalize_batch, detect.detector.apply_batch, detect.on_signals
    applied, normalized = [0], [0]

    async def timed_normalize(messages: Any) -> None:
        marks.setdefault("first", time.perf_counter())
        started = time.perf_counter()
        await normalize_batch(messages)
        marks["ingest_batches"] = marks.get("ingest_batches", 0) + 1
        marks["ingest_s"] = marks.get("ingest_s", 0) + time.perf_counter() - started
        normalized[0] += len(messages)
        if normalized[0] >= expected_messages:  # from here on, the drain: signals -> detection
            marks["ingested"] = time.perf_counter()

    def counted_apply(state: Any, batch: Any, windows: Any = ()) -> Any:
        outcome = apply_batch(state, batch, windows)
        marks["signal_batches"] = marks.get("signal_batches", 0) + 1
        applied[0] += len(batch.events) + sum(run.count for run in batch.runs)
        if applied[0] >= expected_events and "last" not in marks:
            marks["last"] = time.perf_counter()
            finish()
        return outcome

    async def timed_detect(events: Any) -> None:
        started = time.perf_counter()
        await on_signals(events)
        marks["detect_batches"] = marks.get("detect_batches", 0) + 1
        marks["detect_s"] = marks.get("detect_s", 0) + time.perf_counter() - started

    detect.on_signals = timed_detect  # type: ignore[method-assign]
    ingest.normalize_batch = timed_normalize  # type: ignore[method-assign]
    detect.detector.apply_batch = counted_apply  # type: ignore[method-assign]
    return app


def run_child(
    mode: str, transport: str, settings: Any, messages: int, events: int, scratch: Path, timeout_s: float
) -> float:
    out = scratch / f"{mode}.json"
    args = [mode, transport, settings.model_dump_json(), str(messages), str(events), str(out)]
    proc = subprocess.Popen(
        [sys.executable, __file__, "child", *args],
        stdout=subprocess.DEVNULL,
        stderr=(scratch / f"{mode}.log").open("wb"),
        cwd=ROOT,
    )
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise SystemExit(f"{mode} did not finish in {timeout_s:.0f}s; see {scratch / (mode + '.log')}") from None
    if not out.exists():
        raise SystemExit(f"{mode} exited with {proc.returncode} without a result; see {scratch / (mode + '.log')}")
    marks = json.loads(out.read_text())
    if "ingested" in marks:  # how much of the time is the pipeline's tail, not its throughput
        marks["drain_s"] = marks["last"] - marks["ingested"]
    shown = {k: round(v, 3) for k, v in marks.items() if k not in ("first", "last", "ingested")}
    print(f"  ({mode}: {json.dumps(shown)})")
    return marks["last"] - marks["first"]


def measure(
    broker: Any, scratch: Path, messages: int, samples: int, keys: int, partitions: int, transport: str, rep: int
) -> dict[str, Any]:
    """One workload on its own topics: the three consumers, one after another, on the same records."""
    from forewarn.broker.admin import create_topics
    from forewarn.config import Settings
    from forewarn.publish import Publisher

    settings = Settings(
        kafka=broker.bootstrap, topic_prefix=f"bench{samples}r{rep}.", app_id=f"forewarn-bench{samples}r{rep}",
        data_dir=scratch / f"worker{samples}r{rep}", partitions=partitions,
    )  # fmt: skip
    create_topics(settings)
    publisher = Publisher(settings)
    for key, value in workload(messages, samples, keys):
        publisher.send_bytes("raw", value, key=key)
    publisher.close()
    events = messages * samples
    print(f"\n{messages} raw messages x {samples} samples = {events} events, {keys} series, "
          f"{partitions} partitions, transport {transport}, run {rep + 1}", flush=True)  # fmt: skip
    bare = bare_consumer(settings, messages)
    print(f"bare confluent-kafka consumer (decode only): {bare:10,.0f} messages/s", flush=True)
    noop = messages / run_child("noop", transport, settings, messages, events, scratch, 600)
    print(f"no-op Faust agent (take_events):             {noop:10,.0f} messages/s", flush=True)
    noop_fw = messages / run_child("noop_forewarn", transport, settings, messages, events, scratch, 600)
    print(f"  the same on forewarn's transport:          {noop_fw:10,.0f} messages/s", flush=True)
    ours_s = run_child("forewarn", transport, settings, messages, events, scratch, 1200)
    ours = messages / ours_s
    print(f"forewarn ingest -> detection:                {ours:10,.0f} messages/s "
          f"= {events / ours_s:,.0f} events/s ({ours / noop:.2f} of no-op Faust, "
          f"{ours / noop_fw:.2f} of it on forewarn's transport)", flush=True)  # fmt: skip
    return {
        "events_per_s": round(events / ours_s),
        "messages_per_s": round(ours),
        "noop_faust_messages_per_s": round(noop),
        "bare_consumer_messages_per_s": round(bare),
        "ratio_vs_noop_faust": round(ours / noop, 3),
        "noop_forewarn_transport_messages_per_s": round(noop_fw),
        "ratio_vs_noop_forewarn_transport": round(ours / noop_fw, 3),
        "samples_per_message": samples,
        "messages": messages,
    }


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs, the ratio the median of each run's own ratio.

    This machine's speed drifts by tens of percent within a minute (the no-op agent has read
    4.5k and 6.5k messages/s in consecutive runs), and the two Faust consumers of one run, back
    to back, share a spell more often than runs minutes apart do: a run's own ratio is the
    steadier figure, and the median keeps one odd run from deciding.
    """
    figures = (
        "events_per_s", "messages_per_s", "noop_faust_messages_per_s", "bare_consumer_messages_per_s",
        "noop_forewarn_transport_messages_per_s",
    )  # fmt: skip
    middle = {key: round(statistics.median(run[key] for run in runs)) for key in figures}
    ratios = {
        key: round(statistics.median(run[key] for run in runs), 3)
        for key in ("ratio_vs_noop_faust", "ratio_vs_noop_forewarn_transport")
    }
    return {**runs[0], **middle, **ratios, "runs": [run["ratio_vs_noop_faust"] for run in runs]}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), Path(sys.argv[7]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000, help="raw messages per workload")
    parser.add_argument(
        "--samples",
        default="15,1,50",
        help="metric samples per raw message, one workload each; the first is the headline (default 15,1,50)",
    )
    parser.add_argument("--keys", type=int, default=40, help="service/region series")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--transport", choices=["kafka", "confluent"], default="kafka")
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload; the medians count")
    args = parser.parse_args()

    from forewarn.broker.local import LocalKafka
    from forewarn.demo.mailbox import free_port

    os.chdir(ROOT)
    scratch = Path(tempfile.mkdtemp(prefix="forewarn-bench-"))
    broker = LocalKafka(scratch / "kafka", port=free_port())
    broker.start()
    try:
        results = []
        for n in args.samples.split(","):
            runs = [
                measure(broker, scratch, args.messages, int(n), args.keys, args.partitions, args.transport, rep)
                for rep in range(args.repeat)
            ]
            results.append(median_of(runs))
            middle = results[-1]
            print(f"median of {args.repeat} at {n} samples a message: {middle['events_per_s']:,} events/s, "
                  f"{middle['ratio_vs_noop_faust']:.2f} of no-op Faust (runs: {middle['runs']}), "
                  f"{middle['ratio_vs_noop_forewarn_transport']:.2f} of it on forewarn's transport",
                  flush=True)  # fmt: skip
    finally:
        broker.stop()
    # The headline is the first workload, where both targets are judged; every workload's
    # figures follow (events/s is best at the most samples a message).
    headline = results[0]
    print(json.dumps({**headline, "transport": args.transport, "workloads": results}))


if __name__ == "__main__":
    main()

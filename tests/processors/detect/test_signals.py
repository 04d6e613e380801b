from datetime import timedelta

from factories import T0, event
from forewarn.policy import ServicePolicy
from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.detector import unpack
from forewarn.processors.detect.signals import MAX_EVENTS_PER_BATCH, MAX_SAMPLES_PER_BATCH, SignalGrouper
from forewarn.processors.detect.state import to_ms
from forewarn.processors.normalize import Samples
from forewarn.schemas.models import ObservabilityEvent

GRAPH = ServiceGraph({"api": ServicePolicy(depends_on=["db"]), "db": ServicePolicy()})


def sample(service: str, second: int, value: float, region: str = "eu-west") -> ObservabilityEvent:
    at = T0 + timedelta(seconds=second)
    return event(
        service=service,
        region=region,
        symptom="latency",
        metric="latency_p99_ms",
        value=value,
        severity="info",
        occurred_at=at,
        received_at=at,
        event_id=f"{service}-{second}",
    )


def test_samples_become_packed_runs_and_alerts_keep_their_place() -> None:
    grouper = SignalGrouper(GRAPH)
    alert = event(service="api", region="eu-west")
    grouper.add([sample("db", 0, 10.0), sample("db", 1, 11.0), alert, sample("api", 2, 12.0), sample("db", 3, 13.0)])
    ((key, batch),) = list(grouper.batches())
    assert key == b"api|eu-west" and (batch.group, batch.region) == ("api", "eu-west")  # db and api: one group
    assert batch.events == [alert]
    runs = [(r.service, r.after_events, r.count) for r in batch.runs]
    assert runs == [("db", 0, 2), ("api", 1, 1), ("db", 1, 1)]
    assert list(unpack(batch.runs[0].timestamps, "q")) == [to_ms(T0), to_ms(T0) + 1000]
    assert list(unpack(batch.runs[0].values, "d")) == [10.0, 11.0]


def test_keys_per_group_and_region_and_size_limits() -> None:
    grouper = SignalGrouper(GRAPH)
    grouper.add([sample("search", 0, 1.0), sample("search", 0, 1.0, region="us-east"), sample("db", 0, 1.0)])
    assert [k for k, _ in grouper.batches()] == [b"search|eu-west", b"search|us-east", b"api|eu-west"]
    assert list(grouper.batches()) == []  # emptied
    grouper.add(sample("db", s, 1.0) for s in range(MAX_SAMPLES_PER_BATCH + 5))
    sizes = [sum(r.count for r in b.runs) for _, b in grouper.batches()]
    assert sizes == [MAX_SAMPLES_PER_BATCH, 5]


def test_a_key_fills_up_over_many_messages() -> None:
    """Ingest adds one message at a time: a key's chunk fills up in a later add() than its first."""
    grouper = SignalGrouper(GRAPH)
    for n in range(MAX_EVENTS_PER_BATCH + 3):
        grouper.add([event(service="api", region="eu-west", event_id=f"e{n}")])
    for s in range(MAX_SAMPLES_PER_BATCH + 2):
        grouper.add([Samples("db", "eu-west", "latency_p99_ms", [to_ms(T0) + s], [1.0])])
    batches = [b for _, b in grouper.batches()]
    # a key's chunks keep arrival order: later signals never go back into an earlier chunk
    assert [(len(b.events), sum(r.count for r in b.runs)) for b in batches] == [
        (MAX_EVENTS_PER_BATCH, 0),
        (3, MAX_SAMPLES_PER_BATCH),
        (0, 2),
    ]
    assert {(b.group, b.region) for b in batches} == {("api", "eu-west")}


def test_a_sample_groups_as_the_event_it_stands_for() -> None:
    alert = event(service="api", region="eu-west")
    events = [sample("db", 0, 10.0), sample("db", 1, 11.0), alert, sample("api", 2, 12.0), sample("db", 3, 13.0)]
    packed = [
        e if e is alert else Samples(e.service, e.region, e.metric or "", [to_ms(e.occurred_at)], [e.value or 0.0])
        for e in events
    ]
    as_events, as_samples = SignalGrouper(GRAPH), SignalGrouper(GRAPH)
    as_events.add(events)
    as_samples.add(packed)
    assert list(as_events.batches()) == list(as_samples.batches())


def test_a_series_larger_than_a_batch_spills_into_the_next_chunk_in_order() -> None:
    grouper = SignalGrouper(GRAPH)
    first = to_ms(T0)
    grouper.add([Samples("db", "eu-west", "latency_p99_ms", [first], [0.0])])
    size = MAX_SAMPLES_PER_BATCH * 2 + 7
    at = [first + 1 + n for n in range(size)]
    grouper.add([Samples("db", "eu-west", "latency_p99_ms", at, [float(n) for n in range(size)])])
    assert grouper.count == size + 1
    batches = [b for _, b in grouper.batches()]
    assert [[r.count for r in b.runs] for b in batches] == [[MAX_SAMPLES_PER_BATCH]] * 2 + [[8]]
    times = [t for b in batches for r in b.runs for t in unpack(r.timestamps, "q")]
    assert times == [first, *at]

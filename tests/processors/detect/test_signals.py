from datetime import timedelta

from factories import T0, event
from forewarn.policy import ServicePolicy
from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.detector import unpack
from forewarn.processors.detect.signals import MAX_SAMPLES_PER_BATCH, SignalGrouper
from forewarn.processors.detect.state import to_ms
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

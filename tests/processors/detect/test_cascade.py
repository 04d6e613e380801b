from forewarn.policy import Policy, ServicePolicy
from forewarn.processors.detect.cascade import Member, ServiceGraph, parents
from forewarn.schemas.models import SampleRun

from ._support import Harness, batch, every_minute, run

SERVICES = {
    "db": ServicePolicy(customer_facing=False),
    "api": ServicePolicy(customer_facing=False, depends_on=["db"]),
    "payments": ServicePolicy(depends_on=["api"]),
    "search": ServicePolicy(depends_on=["db"]),
    "blog": ServicePolicy(),
}


def test_connected_services_share_a_group_named_by_the_first() -> None:
    graph = ServiceGraph(SERVICES)
    assert {s: graph.group(s) for s in ("db", "api", "payments", "search", "blog", "unknown")} == {
        "db": "api",
        "api": "api",
        "payments": "api",
        "search": "api",
        "blog": "blog",
        "unknown": "unknown",
    }
    assert graph.above("db") == {"api", "payments", "search"}
    assert graph.above("payments") == frozenset()


def test_components_join_the_topmost_customer_facing_incident() -> None:
    graph = ServiceGraph(SERVICES)
    members = [Member("i-db", "db", 0), Member("i-api", "api", 1), Member("i-pay", "payments", 2)]
    assert parents(members, graph) == {"i-db": "i-pay", "i-api": "i-pay", "i-pay": None}
    # with search open too, db joins whichever customer-facing incident opened first
    both = [*members, Member("i-search", "search", 3)]
    assert parents(both, graph)["i-db"] == "i-pay"
    assert parents(members[:2], graph) == {"i-db": None, "i-api": None}  # api is not customer-facing


def test_cycles_do_not_loop() -> None:
    graph = ServiceGraph({"a": ServicePolicy(depends_on=["b"]), "b": ServicePolicy(depends_on=["a"])})
    assert graph.above("a") == {"b"} and parents([Member("1", "a", 0), Member("2", "b", 1)], graph) == {
        "1": None,
        "2": None,
    }


def interleaved(values: dict[str, list[float]]) -> list[SampleRun]:
    """Error-rate samples of several services as they would arrive: minute by minute."""
    runs = []
    for minute in range(max(len(v) for v in values.values())):
        for service, series in values.items():
            if minute < len(series):
                runs.append(run(service, "error_rate", every_minute([series[minute]], minute, per_minute=2)))
    return runs


def test_cascade_db_api_payments_is_one_customer_thread() -> None:
    h = Harness(Policy(services=SERVICES))
    bad, ok = 0.5, 0.0
    h.feed(
        batch(
            runs=interleaved(
                {
                    "db": [ok, bad, bad, bad, bad, bad, bad, bad, bad, ok, ok, ok, ok, ok],
                    "api": [ok, ok, bad, bad, bad, bad, bad, bad, bad, bad, ok, ok, ok, ok, ok],
                    "payments": [ok, ok, ok, bad, bad, bad, bad, bad, bad, bad, bad, ok, ok, ok, ok, ok],
                }
            )
        )
    )
    timeline = [(i.service, i.version, i.change, i.internal, i.parent_incident_id is not None) for i in h.published]
    payments = next(i for i in h.published if i.service == "payments")
    assert timeline == [
        ("db", 1, "opened", True, False),
        ("api", 1, "opened", False, False),  # db failing too: a second signal
        ("db", 2, "confirmed", False, False),
        ("payments", 1, "opened", False, False),
        ("db", 3, "update", True, True),  # now a sub-issue of the payments thread
        ("api", 2, "update", True, True),
        ("db", 4, "resolved", True, True),
        ("api", 3, "resolved", True, True),
        ("payments", 2, "resolved", False, False),
    ]
    assert payments.affected_services == ["api", "db", "payments"]
    children = [i for i in h.published if i.parent_incident_id is not None]
    assert {i.parent_incident_id for i in children} == {payments.incident_id}

"""Recorded incidents replayed through the real broker and a worker process, each timeline exact.

One worker replays every recording (each on its own raw partition, in recorded order, as fast
as the broker takes it: a day of checkout metrics goes through in seconds). The incidents topic
must then hold exactly the versions the pure stages compute for the same recordings, and those
must be the stories below.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.broker.admin import create_topics
from forewarn.broker.local import LocalKafka
from forewarn.config import Settings
from forewarn.demo.mailbox import free_port
from forewarn.process import WorkerProcess
from forewarn.publish import read_topic
from forewarn.schemas.codec import decode
from forewarn.schemas.models import DeadLetter, Incident
from scenario_replay import (
    POLICY_FILE,
    fixture,
    hhmm,
    publish_recording,
    pure_replay,
    read_incidents,
    scenario_policy,
    timeline,
    wait_detection_quiet,
)

pytestmark = pytest.mark.broker

RECORDINGS = ("flapping_latency", "regional_outage", "cascade", "false_positive", "pagerduty", "bad_input")


@pytest.fixture(scope="module")
def replayed(
    kafka_broker: LocalKafka, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, list[Incident]]]:
    tag = uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp("scenarios")
    settings = Settings(
        kafka=kafka_broker.bootstrap,
        topic_prefix=f"s{tag}.",
        app_id=f"fw-s{tag}",
        data_dir=root / "data",
        partitions=2,
        web_port=free_port(),
    )
    create_topics(settings)
    with WorkerProcess(settings, root / "worker.log", roles="pipeline", policy=POLICY_FILE) as worker:
        for name in RECORDINGS:
            publish_recording(settings, fixture(name))
        wait_detection_quiet(settings, worker.check, timeout_s=180)
        assert worker.running
    yield settings, read_incidents(settings)


def of(incidents: list[Incident], *services: str) -> list[Incident]:
    return [i for i in incidents if i.service in services]


def test_broker_replay_publishes_exactly_what_the_pure_stages_compute(
    replayed: tuple[Settings, list[Incident]],
) -> None:
    _, published = replayed
    expected = pure_replay([fixture(n) for n in RECORDINGS], scenario_policy())
    assert sorted(published, key=lambda i: (i.incident_id, i.version)) == sorted(
        expected, key=lambda i: (i.incident_id, i.version)
    )
    for incident_id in {i.incident_id for i in published}:
        versions = [i.version for i in published if i.incident_id == incident_id]
        assert versions == list(range(1, len(versions) + 1))  # in order on the topic, none missing


def test_flapping_latency_is_one_incident(replayed: tuple[Settings, list[Incident]]) -> None:
    assert timeline(of(replayed[1], "search")) == [
        ("search|us-east|latency", 1, "opened", "investigating", True, "P2", "local_degradation", "09:12", None, ""),
        (
            "search|us-east|latency",
            2,
            "confirmed",
            "investigating",
            False,
            "P2",
            "local_degradation",
            "09:17",
            None,
            "",
        ),
        ("search|us-east|latency", 3, "resolved", "resolved", False, "P2", "local_degradation", "09:42", None, ""),
    ]


def test_regional_outage_in_one_region_only(replayed: tuple[Settings, list[Incident]]) -> None:
    # the CheckoutDown alert (symptom outage) and the availability rule breaching on the same
    # service and region are one customer impact: the rule joins the alert's incident, and it
    # resolves once both cleared (alert resolved 14:41, third clean availability window 14:43)
    assert timeline(of(replayed[1], "checkout")) == [
        ("checkout|eu-west|outage", 1, "opened", "investigating", False, "P1", "regional_outage", "14:01", None, ""),
        # the update promised at 14:01 for 14:31 (P1: 30 min), kept though nothing changed
        ("checkout|eu-west|outage", 2, "progress", "investigating", False, "P1", "regional_outage", "14:31", None, ""),
        ("checkout|eu-west|outage", 3, "resolved", "resolved", False, "P1", "regional_outage", "14:43", None, ""),
    ]
    assert len({i.incident_id for i in of(replayed[1], "checkout")}) == 1


def test_cascade_is_one_customer_thread(replayed: tuple[Settings, list[Incident]]) -> None:
    incidents = of(replayed[1], "db", "api", "payments")
    # every failing component shows P1 (declared share 0.3 > 25 %) as a local degradation (an
    # error rate, not an outage); db (once confirmed) and api are customer-visible only until payments opens
    # above them at 08:16 and they join its thread
    db, api, pay = "db|ap-south|error_rate", "api|ap-south|error_rate", "payments|ap-south|error_rate"
    local = "local_degradation"
    assert timeline(incidents) == [
        (db, 1, "opened", "investigating", True, "P1", local, "08:12", None, ""),
        (db, 2, "confirmed", "investigating", False, "P1", local, "08:14", None, ""),
        (db, 3, "update", "investigating", True, "P1", local, "08:16", None, ""),
        (db, 4, "resolved", "resolved", True, "P1", local, "08:43", None, ""),
        (api, 1, "opened", "investigating", False, "P1", local, "08:14", None, ""),
        (api, 2, "update", "investigating", True, "P1", local, "08:16", None, ""),
        (api, 3, "resolved", "resolved", True, "P1", local, "08:44", None, ""),
        (pay, 1, "opened", "investigating", False, "P1", local, "08:16", None, ""),
        (pay, 2, "resolved", "resolved", False, "P1", local, "08:45", None, ""),
    ]
    payments = next(i for i in incidents if i.service == "payments")
    assert payments.affected_services == ["api", "db", "payments"]
    attached = {(i.service, i.version): i.parent_incident_id for i in incidents if i.parent_incident_id}
    assert set(attached.values()) == {payments.incident_id}
    assert ("db", 3) in attached and ("api", 2) in attached


def test_false_positive_never_reaches_customers(replayed: tuple[Settings, list[Incident]]) -> None:
    assert timeline(of(replayed[1], "recs")) == [
        ("recs|eu-west|latency", 1, "opened", "investigating", True, "P3", "local_degradation", "12:12", None, ""),
        ("recs|eu-west|latency", 2, "resolved", "resolved", True, "P3", "local_degradation", "12:16", None, ""),
    ]


def in_region(incidents: list[Incident], region: str) -> list[Incident]:
    return [i for i in incidents if i.region == region]


def test_pagerduty_trigger_ack_resolve(replayed: tuple[Settings, list[Incident]]) -> None:
    billing = in_region(of(replayed[1], "billing"), "eu-central")
    assert timeline(billing) == [
        ("billing|eu-central|outage", 1, "opened", "investigating", False, "P1", "regional_outage", "16:00", None, ""),
        ("billing|eu-central|outage", 2, "phase", "identified", False, "P1", "regional_outage", "16:06", None, ""),
        ("billing|eu-central|outage", 3, "resolved", "resolved", False, "P1", "regional_outage", "16:31", None, ""),
    ]  # the trigger delivered twice opened one incident
    # the acknowledge at 16:06 is the time to acknowledge; the resolved version keeps it
    assert [hhmm(i.acknowledged_at) for i in sorted(billing, key=lambda i: i.version)] == [None, "16:06", "16:06"]


def test_pagerduty_own_dedup_key_reaches_the_triggers_incident(replayed: tuple[Settings, list[Incident]]) -> None:
    """``srv01/mysql`` names no service or region: the key-only acknowledge and resolve are placed
    by the dedup stage on the trigger's billing/us-west incident, not on a 'srv01/mysql' guess."""
    settings, published = replayed
    billing = sorted(in_region(of(published, "billing"), "us-west"), key=lambda i: i.version)
    assert timeline(billing) == [
        ("billing|us-west|outage", 1, "opened", "investigating", False, "P1", "regional_outage", "16:10", None, ""),
        ("billing|us-west|outage", 2, "phase", "identified", False, "P1", "regional_outage", "16:14", None, ""),
        ("billing|us-west|outage", 3, "resolved", "resolved", False, "P1", "regional_outage", "16:40", None, ""),
    ]
    assert [hhmm(i.acknowledged_at) for i in billing] == [None, "16:14", "16:14"]
    assert [hhmm(i.resolved_at) for i in billing] == [None, None, "16:40"]
    assert {i.rule for i in billing} == {"pagerduty:srv01/mysql"}
    assert not [i for i in published if "srv01" in i.service]
    # a resolve for a key no trigger used is not guessed at: it is a dead letter with the key
    (stray,) = [d for d in dead_letters(settings) if d.stage == "dedup"]
    assert stray.error_type == "invalid" and stray.key == b"srv99/redis"
    assert stray.reason.startswith("dedup_key: 'srv99/redis' (resolved) names no trigger seen")


def dead_letters(settings: Settings) -> list[DeadLetter]:
    return [decode(m.value(), DeadLetter) for m in read_topic(settings, "deadletter")]


def test_bad_input_is_dead_lettered_with_reasons(replayed: tuple[Settings, list[Incident]]) -> None:
    settings, _ = replayed
    letters = [d for d in dead_letters(settings) if d.stage != "dedup"]  # the stray PagerDuty resolve
    reasons = sorted((d.error_type, d.reason.split(":")[1].strip()) for d in letters)
    assert reasons == [
        ("invalid", "timestamp"),  # a day in the future
        ("invalid", "timestamp"),  # over a year old
        ("invalid", "value"),  # NaN
        ("unknown_source", "source"),
        ("wrong_type", "value"),
    ]
    assert all(d.stage == "normalize" and d.value for d in letters)


def test_recordings_match_their_generator(tmp_path: Path) -> None:
    """The fixtures are generated by fixtures/record.py; a hand edit would make these tests lie."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("record", fixture("cascade").parent / "record.py")
    assert spec is not None and spec.loader is not None
    record = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record)
    record.write(tmp_path)
    for name in [*RECORDINGS, "maintenance_overrun"]:
        assert (tmp_path / f"{name}.jsonl").read_text() == fixture(name).read_text(), name

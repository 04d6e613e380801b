"""The audit store against a real embedded engine: replays never double-count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from forewarn.db.client import Warehouse, open_clickhouse, parse_dsn
from forewarn.db.migrations import migrate
from forewarn.schemas.codec import encode
from forewarn.schemas.models import AuditRecord, Incident, IncidentKind, Phase, Severity
from forewarn.sinks.clickhouse import (
    AUDIT_COLUMNS,
    INCIDENT_COLUMNS,
    AuditStore,
    AvroAudit,
    Stored,
    WarehouseQueryError,
    WarehouseUnavailable,
)
from forewarn.sinks.progress import RESERVE, Claims

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def audit(audit_id: str, **fields: Any) -> AuditRecord:
    values: dict[str, Any] = {"recorded_at": T0, "stage": "deliver", "action": "delivered", "incident_id": "inc-1"}
    values.update(fields)
    return AuditRecord(audit_id=audit_id, **values)


def incident(version: int, phase: Phase, at: datetime, **fields: Any) -> Incident:
    values: dict[str, Any] = {
        "incident_id": "inc-1",
        "version": version,
        "dedup_key": "payments|eu-west|outage",
        "title": "Payments down in eu-west",
        "service": "payments",
        "region": "eu-west",
        "symptom": "outage",
        "phase": phase,
        "severity": Severity.P1,
        "kind": IncidentKind.regional_outage,
        "change": "opened" if version == 1 else "phase",
        "opened_at": T0,
        "updated_at": at,
        "first_signal_at": minutes(-2),
    }
    values.update(fields)
    return Incident(**values)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        migrate(wh)
        yield wh


@pytest.fixture
def store(warehouse: Warehouse) -> AuditStore:
    return AuditStore(warehouse)


def count(warehouse: Warehouse, sql: str) -> int:
    return int(warehouse.query(sql).scalar())


def test_same_audit_batch_twice_is_stored_once(store: AuditStore, warehouse: Warehouse) -> None:
    batch = [audit(f"a{i}", recorded_at=minutes(i)) for i in range(50)]
    assert store.write_audit(batch) == Stored(audit=50)
    assert store.write_audit(batch) == Stored(skipped=50)
    assert store.write_audit([*batch[:10], audit("a-new")]) == Stored(audit=1, skipped=10)
    assert count(warehouse, "SELECT count() FROM audit") == 51  # no FINAL: nothing to fold
    assert count(warehouse, "SELECT count() FROM audit FINAL") == 51


def test_odd_ids_are_recognised_on_replay(store: AuditStore) -> None:
    batch = [audit(audit_id) for audit_id in ("it's", "back\\slash", "new\nline", "tab\tbed", "")]
    assert store.write_audit(batch) == Stored(audit=5)
    assert store.write_audit(batch) == Stored(skipped=5)


def test_replay_recorded_later_is_still_recognised(warehouse: Warehouse) -> None:
    """recorded_at is the processing clock: a replay after an outage carries a later time."""
    store = AuditStore(warehouse, replay_horizon=timedelta(days=2))
    store.write_audit([audit("a1", recorded_at=T0)])
    assert store.write_audit([audit("a1", recorded_at=T0 + timedelta(days=1))]) == Stored(skipped=1)
    # beyond the horizon the check does not look; FINAL still folds the copy for analysts
    assert store.write_audit([audit("a1", recorded_at=T0 + timedelta(days=40))]) == Stored(audit=1)
    assert count(warehouse, "SELECT count() FROM audit FINAL") == 1


def test_replay_check_scales_to_large_batches(store: AuditStore) -> None:
    """A constant IN set of 50,000 ids took ClickHouse 26.9 nearly a minute; the subquery form is linear."""
    batch = [audit(f"{i:032x}") for i in range(50_000)]
    assert store.write_audit(batch) == Stored(audit=50_000)
    assert store.write_audit(batch) == Stored(skipped=50_000)


def test_repeats_inside_one_batch_are_stored_once(store: AuditStore, warehouse: Warehouse) -> None:
    first = audit("a1", action="delivered")
    assert store.write_audit([first, audit("a2"), audit("a1", action="failed")]) == Stored(audit=2, skipped=1)
    assert warehouse.query("SELECT action FROM audit WHERE audit_id = 'a1'").rows == [("delivered",)]


def test_same_incident_versions_twice_are_stored_once(store: AuditStore, warehouse: Warehouse) -> None:
    versions = [incident(1, Phase.investigating, T0), incident(2, Phase.identified, minutes(10))]
    assert store.write_incidents(versions) == Stored(incidents=2)
    assert store.write_incidents([*versions, incident(3, Phase.resolved, minutes(45))]) == Stored(
        incidents=1, skipped=2
    )
    assert count(warehouse, "SELECT count() FROM incidents") == 3
    assert warehouse.query("SELECT version FROM incidents ORDER BY version").rows == [(1,), (2,), (3,)]


def test_mixed_batch_goes_to_both_tables(store: AuditStore, warehouse: Warehouse) -> None:
    stored = store.write([audit("a1"), incident(1, Phase.investigating, T0), audit("a2")])
    assert stored == Stored(audit=2, incidents=1)
    assert store.write([]) == Stored()


def test_every_field_round_trips(store: AuditStore, warehouse: Warehouse) -> None:
    record = AuditRecord(
        audit_id="full",
        recorded_at=datetime(2026, 11, 23, 9, 0, 1, 123000, tzinfo=UTC),
        stage="approve",
        action="approved",
        incident_id="inc-9",
        incident_version=4,
        notification_id="ntf-9",
        customer_ref="c0ffee",
        channel="email",
        severity="P2",
        kind="sla_breach",
        phase="monitoring",
        rule="sla.p95",
        signal_at=datetime(2026, 11, 23, 8, 59, 0, 5000, tzinfo=UTC),
        draft_source="model",
        draft_version=2,
        verdicts=["tone:ok", "facts:ok"],
        approver="oncall@example",
        sent_at=None,
        provider_response="it's \\ fine",
        detail={"template": "sla", "language": "de"},
    )
    version = incident(
        7,
        Phase.resolved,
        minutes(50),
        resolved_at=minutes(49),
        eta=minutes(60),
        cause="bad deploy",
        signal_ids=["s1", "s2"],
        affected_services=["payments", "checkout"],
        customer_id="cust-1",
        share_affected=0.25,
        flags=["sla"],
        internal=True,
    )
    store.write([record, version])
    [audit_row] = warehouse.query(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit")
    assert AuditRecord(**dict(zip(AUDIT_COLUMNS, audit_row, strict=True))) == record
    [incident_row] = warehouse.query(f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM incidents")
    assert Incident(**dict(zip(INCIDENT_COLUMNS, incident_row, strict=True))) == version


def test_views_count_once_even_when_copies_reach_the_table(store: AuditStore, warehouse: Warehouse) -> None:
    """Two writers on one server can race past the replay filter; the views must not care."""
    receipts = [
        audit("d1", channel="email", customer_ref="r1", sent_at=minutes(3)),
        audit("d2", channel="email", customer_ref="r2", action="failed", sent_at=minutes(4)),
        audit("d3", channel="slack", customer_ref="r1", sent_at=minutes(5)),
    ]
    versions = [incident(1, Phase.investigating, T0), incident(2, Phase.resolved, minutes(30), resolved_at=minutes(28))]
    store.write([*receipts, *versions])
    for _ in range(2):  # straight to the tables, bypassing the store's filter
        warehouse.insert(
            "audit", [[getattr(r, c) for r in receipts] for c in AUDIT_COLUMNS], AUDIT_COLUMNS, column_oriented=True
        )
        warehouse.insert(
            "incidents",
            [[getattr(v, c) for v in versions] for c in INCIDENT_COLUMNS],
            INCIDENT_COLUMNS,
            column_oriented=True,
        )
    assert count(warehouse, "SELECT count() FROM audit FINAL") == 3
    per_channel = warehouse.query(
        "SELECT channel, notifications, delivered, failed, customers_reached "
        "FROM notifications_per_channel ORDER BY channel"
    )
    assert per_channel.rows == [("email", 2, 1, 1, 1), ("slack", 1, 1, 0, 1)]
    [(versions_seen, mttr_s)] = warehouse.query("SELECT versions, mttr_s FROM incident_mttr").rows
    assert (versions_seen, mttr_s) == (2, 30 * 60)


def test_incident_mttr_for_a_hand_made_incident(store: AuditStore, warehouse: Warehouse) -> None:
    store.write(
        [
            incident(1, Phase.investigating, T0, severity=Severity.P2),
            incident(2, Phase.identified, minutes(10)),
            incident(3, Phase.monitoring, minutes(40)),
            incident(4, Phase.resolved, minutes(46), resolved_at=minutes(45)),
            # only successful external sends count as "customers were told"
            audit("x-failed", action="failed", channel="email", sent_at=minutes(0.5)),
            audit("x-internal", channel="internal", sent_at=minutes(1)),
            audit("x-target", stage="target", action="drafted", channel="email", recorded_at=minutes(1)),
            audit("told-email", channel="email", sent_at=minutes(3)),
            audit("told-slack", channel="slack", sent_at=minutes(6)),
            audit("told-no-sent-at", channel="sms", recorded_at=minutes(4)),
            # a second incident nobody was told about yet
            incident(1, Phase.investigating, minutes(20), incident_id="inc-2", first_signal_at=minutes(19)),
        ]
    )
    mttr = warehouse.query(
        "SELECT incident_id, severity, kind, phase, opened_at, first_signal_at, first_notified_at, identified_at, "
        "resolved_at, time_to_notify_s, time_to_identify_s, mttr_s FROM incident_mttr ORDER BY incident_id"
    )
    rows = [dict(zip(mttr.columns, row, strict=True)) for row in mttr]
    assert rows[0] == {
        "incident_id": "inc-1",
        "severity": "P1",  # from the latest version
        "kind": "regional_outage",
        "phase": "resolved",
        "opened_at": T0,
        "first_signal_at": minutes(-2),
        "first_notified_at": minutes(3),
        "identified_at": minutes(10),
        "resolved_at": minutes(45),
        "time_to_notify_s": 5 * 60,
        "time_to_identify_s": 12 * 60,
        "mttr_s": 47 * 60,
    }
    assert rows[1]["incident_id"] == "inc-2"
    assert (rows[1]["first_notified_at"], rows[1]["time_to_notify_s"], rows[1]["mttr_s"]) == (None, None, None)


class _Unreachable:
    """Stands in for a clickhouse-connect client whose server went away mid-run."""

    def query(self, *args: Any, **kwargs: Any) -> Any:
        raise OperationalError("Error HTTPConnectionPool(host='ch', port=8443): Connection refused")

    insert = command = query

    def close(self) -> None:
        pass


def test_unreachable_server_raises_warehouse_unavailable() -> None:
    warehouse = Warehouse(_Unreachable(), parse_dsn("https://u:p@ch:8443/db"))  # type: ignore[arg-type]
    with pytest.raises(WarehouseUnavailable, match=r"https://u:\*\*\*@ch:8443/db is unavailable"):
        AuditStore(warehouse).write([audit("a1")])


# -- audit records in their wire form (the recording path) --------------------------------


def wire(*records: AuditRecord) -> AvroAudit:
    batch = AvroAudit()
    for record in records:
        assert batch.add(encode(record))
    return batch


def full_record(audit_id: str = "full") -> AuditRecord:
    return AuditRecord(
        audit_id=audit_id,
        recorded_at=datetime(2026, 11, 23, 9, 0, 1, 123000, tzinfo=UTC),
        stage="approve",
        action="approved",
        incident_id="inc-9",
        incident_version=4,
        notification_id="ntf-9",
        customer_ref="c0ffee",
        channel="email",
        severity="P2",
        kind="sla_breach",
        phase="monitoring",
        rule="sla.p95",
        signal_at=datetime(2026, 11, 23, 8, 59, 0, 5000, tzinfo=UTC),
        draft_source="model",
        draft_version=2,
        verdicts=["tone:ok", "facts:ok"],
        approver="oncall@example",
        sent_at=None,
        provider_response="it's \\ fine",
        detail={"template": "sla", "language": "de"},
    )


def test_wire_records_round_trip_every_column(store: AuditStore, warehouse: Warehouse) -> None:
    """ClickHouse decodes the Avro itself: every column must come out as the model went in."""
    sparse = audit("sparse", recorded_at=minutes(-90), customer_ref=None, channel=None, detail={})
    long_id = audit("x" * 300, recorded_at=minutes(5), provider_response="é" * 20_000)  # multi-byte lengths
    assert store.write_avro(wire(full_record(), sparse, long_id)) == Stored(audit=3)
    stored = warehouse.query(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit ORDER BY recorded_at")
    assert [AuditRecord(**dict(zip(AUDIT_COLUMNS, row, strict=True))) for row in stored] == [
        sparse,
        full_record(),
        long_id,
    ]


def test_wire_replays_and_in_batch_repeats_are_stored_once(store: AuditStore, warehouse: Warehouse) -> None:
    assert store.write_audit([audit("a1")]) == Stored(audit=1)  # stored by the model path
    batch = wire(audit("a1"), audit("a2", action="delivered"), audit("a2", action="failed"), audit("a3"))
    assert store.write_avro(batch) == Stored(audit=2, skipped=2)
    assert store.write_avro(batch) == Stored(skipped=4)
    assert warehouse.query("SELECT action FROM audit WHERE audit_id = 'a2'").rows == [("delivered",)]
    assert count(warehouse, "SELECT count() FROM audit") == 3
    assert store.write_avro(AvroAudit()) == Stored()


def test_wire_form_refuses_what_it_cannot_vouch_for() -> None:
    batch = AvroAudit()
    good = encode(audit("a1"))
    refused = [
        b"",
        b"\x00\x00",
        b'{"audit_id": "a1"}',
        encode(incident(1, Phase.investigating, T0)),  # another schema id
        good[:5],  # header only
        good[:5] + b"\x03",  # negative string length
        good[:5] + b"\x10ab",  # id runs past the end
        good[:5] + good[5:8],  # id cut short
        good[:5] + b"\x02\xff",  # not UTF-8
        good[:5] + b"\x02a\xff\xff",  # time varint cut short
    ]
    assert [batch.add(message) for message in refused] == [False] * len(refused)
    assert len(batch) == 0
    assert batch.add(good) and batch.ids == ["a1"]


def test_a_body_clickhouse_cannot_read_fails_the_whole_insert(store: AuditStore, warehouse: Warehouse) -> None:
    batch = wire(audit("a1"))
    damaged = encode(audit("a2", provider_response="250 accepted"))
    assert batch.add(damaged[:-8])  # the header and leading fields parse; the body ends too early
    with pytest.raises(WarehouseQueryError):
        store.write_avro(batch)
    assert count(warehouse, "SELECT count() FROM audit") == 0


# -- the replay check follows the partition marks ----------------------------------------


class Spy:
    """The real embedded warehouse as the store sees it, counting id lookups; can refuse row inserts."""

    def __init__(self, inner: Warehouse) -> None:
        self.inner = inner
        self.lookups = 0
        self.refuse_rows = False

    @contextmanager
    def exclusive(self) -> Iterator[Spy]:
        with self.inner.exclusive():
            yield self

    def query(self, sql: str, parameters: Any = None) -> Any:
        if "SELECT DISTINCT audit_id" in sql:
            self.lookups += 1
        return self.inner.query(sql, parameters)

    def insert(self, *args: Any, **kwargs: Any) -> int:
        return self.inner.insert(*args, **kwargs)

    def insert_encoded(self, *args: Any, **kwargs: Any) -> None:
        if self.refuse_rows:
            raise WarehouseUnavailable("ClickHouse at http://127.0.0.1:8123 is unavailable: connection reset")
        self.inner.insert_encoded(*args, **kwargs)


def placed(first_offset: int, *records: AuditRecord, partition: int = 0) -> AvroAudit:
    batch = AvroAudit(topic="forewarn.audit")
    for offset, record in enumerate(records, first_offset):
        assert batch.add(encode(record), partition, offset)
    return batch


def marks(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    """The latest claim per partition: (partition, revision, through offset)."""
    return warehouse.query(
        "SELECT partition, max(revision), argMax(through_offset, revision) FROM audit_progress "
        "GROUP BY partition ORDER BY partition"
    ).rows


def test_records_past_what_a_writer_stored_skip_the_lookup(warehouse: Warehouse) -> None:
    spy = Spy(warehouse)
    store = AuditStore(spy, claims=Claims(reserve=10))  # type: ignore[arg-type]
    assert store.write_avro(placed(0, audit("a0"), audit("a1"))) == Stored(audit=2)
    assert spy.lookups == 1  # a partition nobody claimed yet: checked, then claimed through 1 + 10
    assert marks(warehouse) == [(0, 1, 11)]
    assert store.write_avro(placed(2, audit("a2"), audit("a3"))) == Stored(audit=2)
    assert spy.lookups == 1 and marks(warehouse) == [(0, 1, 11)]  # inside its own claim: no lookup, no write
    assert store.write_avro(placed(4, *(audit(f"a{i}") for i in range(4, 13)))) == Stored(audit=9)
    assert spy.lookups == 1 and marks(warehouse) == [(0, 2, 22)]  # past the reservation: the next one first
    # Faust hands the same records again (a retry within this run): at or below what it stored
    assert store.write_avro(placed(11, audit("a11"), audit("a12"), audit("a13"))) == Stored(audit=1, skipped=2)
    assert spy.lookups == 2
    assert count(warehouse, "SELECT count() FROM audit") == 14


def test_a_restarted_writer_checks_everything_its_predecessor_claimed(warehouse: Warehouse) -> None:
    AuditStore(warehouse, claims=Claims(reserve=10)).write_avro(placed(0, audit("a0"), audit("a1"), audit("a2")))
    # the worker died before committing offset 3; the new run gets Kafka's redelivery from 1
    spy = Spy(warehouse)
    restarted = AuditStore(spy, claims=Claims(reserve=10))  # type: ignore[arg-type]
    assert restarted.write_avro(placed(1, audit("a1"), audit("a2"), audit("a3"))) == Stored(audit=1, skipped=2)
    assert spy.lookups == 1
    assert marks(warehouse) == [(0, 2, 22)]  # its own claim, past the predecessor's through 12
    assert restarted.write_avro(placed(13, audit("a13"))) == Stored(audit=1)  # past the claim it found
    assert spy.lookups == 1
    assert count(warehouse, "SELECT count() FROM audit") == 5


def test_a_writer_notices_another_wrote_its_partition_in_between(warehouse: Warehouse) -> None:
    """A rebalance moved partition 0 away and back: what the other writer stored is checked."""
    spy = Spy(warehouse)
    first = AuditStore(spy, claims=Claims(reserve=10))  # type: ignore[arg-type]
    first.write_avro(placed(0, audit("a0")))
    other = AuditStore(warehouse, claims=Claims(reserve=10))
    assert other.write_avro(placed(1, audit("a1"), audit("a2"))) == Stored(audit=2)  # committed only offset 1
    lookups = spy.lookups
    assert first.write_avro(placed(2, audit("a2"), audit("a3"))) == Stored(audit=1, skipped=1)
    assert spy.lookups == lookups + 1
    assert marks(warehouse) == [(0, 3, 30)]  # claims after the other's (through 20)


def test_partitions_are_claimed_apart_and_records_without_a_position_are_checked(warehouse: Warehouse) -> None:
    spy = Spy(warehouse)
    store = AuditStore(spy)  # type: ignore[arg-type]
    store.write_avro(placed(0, audit("p0-a"), partition=0))
    store.write_avro(placed(0, audit("p1-a"), partition=1))
    lookups = spy.lookups
    assert store.write_avro(placed(1, audit("p0-b"), partition=0)) == Stored(audit=1)
    assert spy.lookups == lookups
    assert store.write_avro(placed(0, audit("p1-a"), partition=1)) == Stored(skipped=1)  # its own, redelivered
    assert store.write_avro(wire(audit("p0-b"))) == Stored(skipped=1)  # no position: always checked
    assert [(p, through) for p, _, through in marks(warehouse)] == [(0, RESERVE), (1, RESERVE)]


def test_a_claim_stored_before_a_failed_insert_costs_only_a_check(warehouse: Warehouse) -> None:
    """Rows that may have gone in when the INSERT failed are checked on the retry, and stored once."""
    spy = Spy(warehouse)
    store = AuditStore(spy, claims=Claims(reserve=10))  # type: ignore[arg-type]
    store.write_avro(placed(0, audit("a0")))
    batch = placed(1, audit("a1"), audit("a2"))
    spy.refuse_rows = True
    with pytest.raises(WarehouseUnavailable):
        store.write_avro(batch)
    spy.refuse_rows = False
    lookups = spy.lookups
    assert store.write_avro(batch) == Stored(audit=2)
    assert spy.lookups == lookups + 1
    assert store.write_avro(batch) == Stored(skipped=2)

"""The audit writer's batch step without a broker: wire-form records in, rows out, bad input dead-lettered.

``record_audit`` is what the ``audit-writer`` agent runs per batch. The context is the real
``StreamContext`` decoding logic with dead letters captured instead of sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from clickhouse_standin import StandIn
from factories import T0
from forewarn.db.client import Warehouse, open_clickhouse
from forewarn.db.errors import WarehouseUnavailable
from forewarn.db.migrations import migrate
from forewarn.demo.mailbox import free_port
from forewarn.schemas.codec import encode
from forewarn.schemas.models import AuditRecord
from forewarn.sinks.clickhouse import AuditStore, AvroAudit, Stored
from forewarn.streams.context import StreamContext
from forewarn.streams.recording import record_audit


@dataclass(frozen=True)
class Message:
    value: bytes
    offset: int
    topic: str = "forewarn.audit"
    partition: int = 0
    key: bytes | None = None


@dataclass(frozen=True)
class Event:
    message: Message


class Captured(StreamContext):
    """The real decode/dead-letter decisions; dead letters are kept here instead of sent."""

    def __init__(self) -> None:
        self.rejected: list[tuple[int, str]] = []

    async def reject(self, message: Any, stage: str, error_type: str, reason: str) -> None:
        self.rejected.append((message.offset, error_type))


class Flaky(AuditStore):
    """ClickHouse unreachable for the first ``failures`` wire inserts."""

    def __init__(self, warehouse: Warehouse, failures: int) -> None:
        super().__init__(warehouse)
        self.failures = failures
        self.calls = 0

    def write_avro(self, batch: AvroAudit) -> Stored:
        self.calls += 1
        if self.calls <= self.failures:
            raise WarehouseUnavailable("ClickHouse at http://127.0.0.1:8123 is unavailable: connection refused")
        return super().write_avro(batch)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        migrate(wh)
        yield wh


def record(i: int, **fields: Any) -> AuditRecord:
    values: dict[str, Any] = {"recorded_at": T0 + timedelta(seconds=i), "stage": "deliver", "action": "delivered"}
    values.update(fields)
    return AuditRecord(audit_id=f"a{i}", customer_ref=f"ref{i}", **values)


def events(values: list[bytes]) -> list[Event]:
    return [Event(Message(value, offset)) for offset, value in enumerate(values)]


def stored(warehouse: Warehouse) -> list[tuple[Any, ...]]:
    return warehouse.query("SELECT audit_id, action, customer_ref FROM audit ORDER BY audit_id").rows


async def test_good_records_are_stored_and_bad_input_dead_lettered(warehouse: Warehouse) -> None:
    ctx = Captured()
    values = [
        encode(record(1)),
        b'{"audit_id": "a9"}',  # not Avro
        encode(record(2)),
        encode(record(1, action="failed")),  # a repeat: the first copy wins
        b"\x00\x00\x00\x00\x08",  # our schema id, no body
    ]
    await record_audit(ctx, AuditStore(warehouse), events(values))
    assert ctx.rejected == [(1, "undecodable"), (4, "undecodable")]
    assert stored(warehouse) == [("a1", "delivered", "ref1"), ("a2", "delivered", "ref2")]
    await record_audit(ctx, AuditStore(warehouse), events(values))  # Kafka redelivers after a crash
    assert warehouse.query("SELECT count() FROM audit").scalar() == 2


async def test_a_damaged_body_is_dead_lettered_and_the_rest_stored(warehouse: Warehouse) -> None:
    """The wire form passes it (header and leading fields read), ClickHouse cannot: redone record by record."""
    ctx = Captured()
    damaged = encode(record(2, provider_response="250 accepted"))[:-6]
    assert AvroAudit().add(damaged)
    await record_audit(ctx, AuditStore(warehouse), events([encode(record(1)), damaged, encode(record(3))]))
    assert ctx.rejected == [(1, "undecodable")]
    assert stored(warehouse) == [("a1", "delivered", "ref1"), ("a3", "delivered", "ref3")]


async def test_the_batch_is_held_while_clickhouse_is_unreachable(warehouse: Warehouse) -> None:
    store = Flaky(warehouse, failures=1)
    await record_audit(Captured(), store, events([encode(record(i)) for i in range(100)]))
    assert store.calls == 2  # returned (so Faust may ack) only after the retry stored the rows
    assert warehouse.query("SELECT count(), uniqExact(audit_id) FROM audit").rows == [(100, 100)]


def test_wire_records_reach_a_clickhouse_server(tmp_path: Path) -> None:
    """A server gets the Avro as the body of ``INSERT … FROM input()``; the stand-in speaks that too."""
    standin = StandIn(free_port(), tmp_path / "clickhouse", tmp_path / "standin.log").start()
    try:
        with open_clickhouse(standin.dsn) as server:
            migrate(server)
            store = AuditStore(server)
            batch = AvroAudit()
            for i in range(50):
                assert batch.add(encode(record(i, detail={"n": str(i)}, verdicts=["ok"])))
            assert store.write_avro(batch) == Stored(audit=50)
            assert store.write_avro(batch) == Stored(skipped=50)
            rows = server.query("SELECT count(), uniqExact(audit_id), sum(length(detail)) FROM audit").rows
            assert rows == [(50, 50, 50)]
    finally:
        standin.kill()

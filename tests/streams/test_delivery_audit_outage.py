"""ClickHouse unavailable for a while: the audit writer holds the batch, retries, and stores it once.

The injected store is the real ``AuditStore`` on an embedded warehouse behind a switch that
raises ``WarehouseUnavailable`` (what the client raises when a server DSN is down) while the
'outage' lasts. ``store_until_accepted`` must not return — so Faust must not ack the offsets —
until the rows are stored, and a replay of the same batch after a crash adds nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from clickhouse_standin import StandIn
from factories import SHORT_SESSION, T0, command
from forewarn.config import Settings, SmtpSettings
from forewarn.db.client import Warehouse, open_clickhouse
from forewarn.db.errors import WarehouseQueryError, WarehouseUnavailable
from forewarn.db.migrations import migrate
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, group_caught_up, group_lags, wait_until
from forewarn.schemas.models import AuditRecord, Incident
from forewarn.sinks.clickhouse import AuditStore, Stored
from forewarn.streams.recording import store_until_accepted


class Outage:
    """The store, unreachable for the first ``failures`` writes."""

    def __init__(self, store: AuditStore, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.calls = 0

    def write(self, batch: Sequence[AuditRecord | Incident]) -> Stored:
        self.calls += 1
        if self.calls <= self.failures:
            raise WarehouseUnavailable("ClickHouse at http://127.0.0.1:8123 is unavailable: connection refused")
        return self.store.write(batch)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        migrate(wh)
        yield wh


def batch(n: int) -> list[AuditRecord]:
    return [
        AuditRecord(audit_id=f"a{i}", recorded_at=T0 + timedelta(milliseconds=i), stage="deliver", action="delivered")
        for i in range(n)
    ]


async def test_batch_is_held_through_the_outage_and_stored_once(warehouse: Warehouse) -> None:
    outage = Outage(AuditStore(warehouse), failures=3)
    task = asyncio.create_task(store_until_accepted("audit insert", outage.write, batch(500)))
    while outage.calls < 2:
        await asyncio.sleep(0.05)
    assert not task.done()  # still holding the batch: its offsets are not acked yet
    assert warehouse.query("SELECT count() FROM audit").scalar() == 0
    await asyncio.wait_for(task, 60)
    assert outage.calls == 4
    assert warehouse.query("SELECT count() FROM audit").scalar() == 500


async def test_a_replay_after_the_outage_adds_nothing(warehouse: Warehouse) -> None:
    store = AuditStore(warehouse)
    await store_until_accepted("audit insert", Outage(store, failures=1).write, batch(300))
    await store_until_accepted("audit insert", store.write, batch(300))  # Kafka redelivers after a crash
    assert warehouse.query("SELECT count(), uniqExact(audit_id) FROM audit").rows == [(300, 300)]


def test_worker_rides_out_a_clickhouse_outage_without_losing_or_doubling_audit_rows(
    settings: Settings, tmp_path: Path
) -> None:
    """Through the broker: a worker writes audit rows to a ClickHouse server (the stand-in), the
    server is SIGKILLed mid-run while deliveries go on, and comes back: every row arrives once."""
    standin = StandIn(free_port(), tmp_path / "clickhouse", tmp_path / "standin.log").start()
    try:
        with Mailbox() as mailbox:
            live = settings.model_copy(
                update={"clickhouse": standin.dsn, "smtp": SmtpSettings(port=mailbox.port), "web_port": free_port()}
            )
            publisher = Publisher(live)
            for i in range(40):
                publisher.send("notify.email", command(f"ntf_out_{i}"))
            publisher.flush()
            with WorkerProcess(live, tmp_path / "worker.log", roles="sinks,audit") as worker:
                mailbox.wait_for(5, 120, worker.check)
                standin.kill()  # ClickHouse goes away mid-run
                for i in range(40, 80):
                    publisher.send("notify.email", command(f"ntf_out_{i}"))
                publisher.flush()
                mailbox.wait_for(80, 120, worker.check)  # delivery does not wait for the record
                wait_until(
                    lambda: bool(worker.check() or group_lags(live, live.app_id, ["audit"])[0] > 0),
                    60,
                    "audit rows to wait, uncommitted, for ClickHouse",
                )
                assert group_lags(live, live.app_id, ["audit"])[0] > 0
                standin.start()  # ClickHouse is back
                wait_until(
                    lambda: bool(worker.check() or group_caught_up(live, live.app_id, ["notify.email", "audit"])),
                    180,
                    "the audit writer to catch up",
                )
    finally:
        standin.kill()
    with open_clickhouse(f"chdb://{tmp_path / 'clickhouse'}") as wh:
        delivered = wh.query(
            "SELECT count(), uniqExact(notification_id) FROM audit WHERE stage = 'deliver' AND action = 'delivered'"
        ).rows
        total, distinct = wh.query("SELECT count(), uniqExact(audit_id) FROM audit").rows[0]
    assert delivered == [(80, 80)]  # nothing lost, nothing doubled (raw table, no FINAL)
    assert total == distinct


def test_audit_writer_killed_between_storing_and_committing_stores_each_row_once(
    settings: Settings, tmp_path: Path
) -> None:
    """Through the broker: the audit writer is SIGKILLed right after its first rows are stored,
    before Faust committed their offsets; the restarted writer gets them again from Kafka, finds
    its predecessor's claim on the partitions, checks those records and stores each row once."""
    standin = StandIn(free_port(), tmp_path / "clickhouse", tmp_path / "standin.log").start()
    try:
        live = settings.model_copy(update={"clickhouse": standin.dsn})
        publisher = Publisher(live)
        for record in batch(3000):
            publisher.send("audit", record)
        publisher.flush()
        with open_clickhouse(standin.dsn) as server:

            def stored() -> int:
                try:
                    return int(server.query("SELECT count() FROM audit").scalar())
                except WarehouseQueryError:
                    return 0  # the worker has not migrated yet

            worker = WorkerProcess(live, tmp_path / "worker.log", roles="audit", extra_env=SHORT_SESSION).start()
            try:
                wait_until(lambda: bool(worker.check() or stored()), 120, "the first audit rows")
            finally:
                worker.kill()  # SIGKILL: no commit, no clean shutdown
            at_kill = stored()
            committed = 3000 - group_lags(live, live.app_id, ["audit"])[0]
            assert at_kill > committed, "every stored row was committed before the kill; the test proves nothing"
            with WorkerProcess(live, tmp_path / "worker-2.log", roles="audit", extra_env=SHORT_SESSION) as again:
                wait_until(
                    lambda: bool(again.check() or group_caught_up(live, live.app_id, ["audit"])),
                    120,
                    "the restarted audit writer to commit everything",
                )
            assert server.query("SELECT count(), uniqExact(audit_id) FROM audit").rows == [(3000, 3000)]
            assert server.query("SELECT uniqExact(writer) FROM audit_progress").scalar() == 2
    finally:
        standin.kill()

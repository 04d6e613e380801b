"""Build the Faust app for a deployment and run it as a worker.

``create_app`` is a factory (no module-level app) so tests, the demo and replays can run
isolated pipelines side by side on one broker, each under its own app id and prefix.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
from faust.types import TP

from forewarn.clock import Clock, SystemClock
from forewarn.config import Settings
from forewarn.db.client import open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.policy import Policy
from forewarn.sinks.base import Deliverer, Outbox, SqliteDeliveredStore
from forewarn.sinks.clickhouse import AuditStore
from forewarn.sinks.email import EmailSink
from forewarn.streams.agents import AUDIT, ROLES, SINKS, register
from forewarn.streams.topics import Topics
from forewarn.streams.wiring import Wiring
from forewarn.topics import TopicNames

log = logging.getLogger(__name__)


def _table(app: faust.App, name: str, partitions: int) -> Any:
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def partition_keys(table: Any) -> dict[int, Iterator[bytes]]:
    """Keys of each active partition of a RocksDB-backed table.

    Faust exposes no per-partition iteration, but its RocksDB store keeps one database
    per partition; this is the one place that reaches into it.
    """
    store = table.data
    actives = table.app.assignor.assigned_actives()
    topic = table.changelog_topic_name
    return {
        partition: store._visible_keys(db)
        for partition, db in list(store._dbs.items())
        if TP(topic=topic, partition=partition) in actives
    }


def build_deliverers(settings: Settings, clock: Clock) -> dict[str, Deliverer]:
    state = settings.data_dir / "sinks"
    outbox = Outbox(settings.data_dir / "outbox.jsonl")
    email = EmailSink(settings.smtp, unsubscribe_url=f"{settings.status_page_url}/unsubscribe")
    return {
        "email": Deliverer(
            email,
            SqliteDeliveredStore(state / "email-delivered.sqlite"),
            clock=clock.now,
            outbox=outbox,
            dry_run=settings.dry_run,
        )
    }


def create_app(
    settings: Settings,
    *,
    policy: Policy | None = None,
    roles: frozenset[str] = ROLES,
    clock: Clock | None = None,
    warehouse: Any | None = None,
) -> tuple[faust.App, Wiring]:
    clock = clock or SystemClock()
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka}",
        broker_credentials=_credentials(settings),
        store="rocksdb://",
        datadir=str(Path(settings.data_dir) / "faust"),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        producer_acks=-1,
    )
    topics = Topics(app, TopicNames(settings.topic_prefix), settings.partitions)
    deliverers = build_deliverers(settings, clock) if SINKS in roles else {}
    wiring = Wiring(
        settings,
        policy or Policy(),
        topics,
        clock=clock,
        open_incidents=_table(app, "open-incidents", settings.partitions),
        customers=_table(app, "customers", settings.partitions),
        deliverers=deliverers,
    )

    @wiring.customers.on_recover
    async def _rebuild_segment_index() -> None:
        wiring.rebuild_index(partition_keys(wiring.customers))
        log.info("segment index rebuilt: %d customers", len(wiring.index))

    register(app, wiring, roles, warehouse if AUDIT in roles else None)
    return app, wiring


def _credentials(settings: Settings) -> Any:
    sec = settings.kafka_security
    if sec.protocol == "PLAINTEXT":
        return None
    if sec.sasl_mechanism:
        ssl_context = None
        if sec.protocol == "SASL_SSL":
            ssl_context = ssl.create_default_context(cafile=sec.ssl_cafile)
        return faust.SASLCredentials(
            username=sec.sasl_username,
            password=sec.sasl_password,
            mechanism=sec.sasl_mechanism,
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl.create_default_context(cafile=sec.ssl_cafile))


def run_worker(
    settings: Settings, *, policy: Policy | None = None, roles: frozenset[str] = ROLES, loglevel: str = "warning"
) -> None:
    """Run until SIGTERM/SIGINT; the audit role owns the embedded ClickHouse for its lifetime."""
    warehouse = None
    if AUDIT in roles:
        warehouse = open_clickhouse(settings.clickhouse_dsn)
        migrate(warehouse)
    store = AuditStore(warehouse) if warehouse is not None else None
    app, _ = create_app(settings, policy=policy, roles=roles, warehouse=store)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        if warehouse is not None:
            warehouse.close()

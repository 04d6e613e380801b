"""Build the Faust app for a deployment and run it as a worker.

``create_app`` is a factory (no module-level app) so tests, the demo and replays can run
isolated pipelines side by side on one broker, each under its own app id and prefix.
"""

from __future__ import annotations

import gc
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from forewarn.clock import Clock, SystemClock
from forewarn.config import Settings
from forewarn.db.client import Warehouse, open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.policy import Policy
from forewarn.sinks import channels
from forewarn.sinks.base import Deliverer
from forewarn.sinks.clickhouse import AuditStore
from forewarn.streams import approvals, dedup, delivery, detect, ingest, internal, recording, targeting
from forewarn.streams.agents import AUDIT, PIPELINE, ROLES, SINKS, WEB
from forewarn.streams.approvals import Approvals
from forewarn.streams.context import StreamContext
from forewarn.streams.dedup import Dedup
from forewarn.streams.delivery import Delivery
from forewarn.streams.detect import Detect
from forewarn.streams.freshness import TableFreshness
from forewarn.streams.ingest import Ingest
from forewarn.streams.internal import Internal
from forewarn.streams.recovery import ForewarnTableManager
from forewarn.streams.restore import BulkRestoredTable
from forewarn.streams.targeting import Targeting
from forewarn.streams.topics import Topics
from forewarn.streams.transport import App
from forewarn.topics import OVERSIZE_HEADROOM_BYTES, TopicNames
from forewarn.web.features import features
from forewarn.web.server import WebContext, WebServer

log = logging.getLogger(__name__)


#: Faust's RocksDB defaults reserve a 2 GiB block cache (+ 500 MiB compressed) and 3 x 64 MiB
#: memtables per partition database; with millions of customers that alone would exceed the
#: worker's memory budget, and the tables are read through in-memory indexes anyway.
ROCKSDB_OPTIONS = {
    "block_cache_size": 8 * 1024**2,
    "block_cache_compressed_size": 8 * 1024**2,
    "write_buffer_size": 8 * 1024**2,
    "max_write_buffer_number": 2,
}


def _table(app: faust.App, name: str, partitions: int, *, bulk_restore: Settings | None = None) -> Any:
    """A bytes -> bytes RocksDB table; ``bulk_restore`` for the big ones (see ``streams.restore``)."""
    kwargs: dict[str, Any] = dict(
        key_type=bytes,  # bytes key and value types make Faust use the raw codec for the changelog
        value_type=bytes,
        partitions=partitions,
        options=dict(ROCKSDB_OPTIONS),  # Faust's store pops keys from it: one dict per table
    )
    if bulk_restore is None:
        return app.Table(name, **kwargs)
    # What app.Table does, with our class
    return app.tables.add(BulkRestoredTable(app, name=name, beacon=app.tables.beacon, settings=bulk_restore, **kwargs))


def build_deliverers(settings: Settings, clock: Clock) -> dict[str, Deliverer]:
    """The sinks of the channels this worker delivers (``FOREWARN_CHANNELS``); see ``sinks.channels``."""
    return channels.build_deliverers(settings, clock)


@dataclass
class Stages:
    """The stage glue a worker runs (None where its role is off), for tests to inspect."""

    ctx: StreamContext
    ingest: Ingest | None = None
    dedup: Dedup | None = None
    detect: Detect | None = None
    targeting: Targeting | None = None
    delivery: Delivery | None = None
    internal: Internal | None = None
    approvals: Approvals | None = None


def create_app(
    settings: Settings,
    *,
    policy: Policy | None = None,
    roles: frozenset[str] = ROLES,
    clock: Clock | None = None,
    warehouse: Warehouse | None = None,
) -> tuple[faust.App, Stages]:
    clock = clock or SystemClock()
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)  # Faust won't create it for a pipeline-only worker
    app = App(
        settings.app_id,
        broker=f"kafka://{settings.kafka}",
        broker_credentials=_credentials(settings),
        store="rocksdb://",
        datadir=str(Path(settings.data_dir) / "faust"),
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        web_enabled=WEB in roles,
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
        producer_acks=-1,
        producer_max_request_size=OVERSIZE_HEADROOM_BYTES,
        consumer_max_fetch_size=OVERSIZE_HEADROOM_BYTES,
        TableManager=ForewarnTableManager,  # a recovery race mended (streams/recovery.py)
    )
    ctx = StreamContext(
        settings, policy or Policy(), Topics(app, TopicNames(settings.topic_prefix), settings.partitions), clock
    )
    stages = Stages(ctx)
    if PIPELINE in roles:
        stages.ingest = Ingest(ctx)
        ingest.register(app, stages.ingest)
        stages.dedup = Dedup(ctx, _table(app, "dedup-routes", settings.partitions))
        dedup.register(app, stages.dedup)
        stages.detect = Detect(
            ctx,
            _table(app, "detection", settings.partitions),
            _table(app, "incident-routes", settings.partitions),
            _table(app, "maintenance", settings.partitions),
        )
        detect.register(app, stages.detect)
        stages.targeting = Targeting(
            ctx,
            _table(app, "customers", settings.partitions, bulk_restore=settings),
            _table(app, "cadence", settings.partitions),
            freshness=TableFreshness(app, TopicNames(settings.topic_prefix)("customers"), settings.table_wait_s),
        )
        targeting.register(app, stages.targeting)
        stages.internal = Internal(
            ctx,
            _table(app, "internal-rooms", settings.partitions),
            stages.targeting,
            pending=_table(app, "internal-pending", settings.partitions),
        )
        internal.register(app, stages.internal)
        stages.approvals = Approvals(ctx, _table(app, "approval-state", settings.partitions))
        approvals.register(app, stages.approvals)
    if SINKS in roles:
        stages.delivery = Delivery(ctx, build_deliverers(settings, clock))
        delivery.register(app, stages.delivery)
    if AUDIT in roles and warehouse is not None:
        recording.register(app, ctx, AuditStore(warehouse))
    if WEB in roles:
        web_context = WebContext(settings, stages, warehouse=warehouse if AUDIT in roles else None)
        app.web_server(WebServer(web_context, features()))
    return app, stages


def _credentials(settings: Settings) -> Any:
    """Faust's credentials for the validated ``KafkaSecurity`` (the same settings confluent-kafka gets)."""
    sec = settings.kafka_security
    if sec.protocol == "PLAINTEXT":
        return None
    if sec.protocol == "SSL":
        return faust.SSLCredentials(ssl.create_default_context(cafile=sec.ssl_cafile))
    ssl_context = ssl.create_default_context(cafile=sec.ssl_cafile) if sec.protocol == "SASL_SSL" else None
    return faust.SASLCredentials(
        username=sec.sasl_username,
        password=sec.sasl_password,
        mechanism=sec.sasl_mechanism,
        ssl_context=ssl_context,
    )


def tune_collector() -> None:
    """Garbage collection for a worker whose start-up is done (the benches call it too).

    What start-up built (modules, compiled templates, the policy) lives as long as the worker:
    frozen, the collector stops re-scanning it; and a young generation of 10k objects instead
    of 700 lets a batch's short-lived records die before a collection. Measured in
    bench/ingest_profile.py: Alertmanager batches +20 % (GC was a quarter of that workload).
    """
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def run_worker(
    settings: Settings, *, policy: Policy | None = None, roles: frozenset[str] = ROLES, loglevel: str = "warning"
) -> None:
    """Run until SIGTERM/SIGINT; the audit role owns the embedded ClickHouse for its lifetime."""
    warehouse = None
    if AUDIT in roles:
        warehouse = open_clickhouse(settings.clickhouse_dsn)
        migrate(warehouse)
    app, _ = create_app(settings, policy=policy, roles=roles, warehouse=warehouse)
    tune_collector()
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    # At warning level Faust's terminal spinner sets the root logger to DEBUG so it can spin on every
    # record: every send and fetch then builds a log record nobody prints (~30 µs a message).
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    finally:
        if warehouse is not None:
            warehouse.close()

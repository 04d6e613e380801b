"""The one place that reaches into Faust's RocksDB store: one database per table partition.

Faust offers a table as one mapping, written record by record. Reading a partition's items
(index rebuilds, sweeps) and writing a partition in one batch (bulk restore, the customer
table's writes) need the per-partition databases behind it; these helpers are all the code that
knows where they are, so a Faust upgrade that moves them is mended here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from faust.types import TP


def partition_items(table: Any) -> dict[int, Iterator[tuple[bytes, bytes]]]:
    """Stored items of each active partition of a RocksDB-backed table."""
    store = table.data
    actives = table.app.assignor.assigned_actives()
    topic = table.changelog_topic_name
    return {
        partition: store._visible_items(db)
        for partition, db in list(store._dbs.items())
        if TP(topic=topic, partition=partition) in actives
    }


def store_batch(store: Any) -> Any:
    """The write-batch type of the store's RocksDB driver, as Faust's own apply uses."""
    if store.use_rocksdict:
        rocksdict = importlib.import_module("rocksdict")
        return lambda: rocksdict.WriteBatch(raw_mode=True)
    return importlib.import_module("rocksdb").WriteBatch


def write_batch(store: Any, partition: int, batch: Any) -> None:
    """Apply one write batch to the database of ``partition``."""
    store._db_for_partition(partition).write(batch)

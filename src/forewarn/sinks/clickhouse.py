"""Audit and incident records into ClickHouse, stored once however often Kafka replays them.

After a crash the worker re-reads everything since its last committed offset, so every batch
may repeat rows that are already stored. ReplacingMergeTree folds such copies only when parts
merge, which may be never for a small table; so within one lock hold the store asks which ids
are already present and inserts only the rest, one columnar INSERT per table per batch. The
analyst views stay correct even if a copy slips through (two processes writing to one server),
because they read through FINAL or aggregate copies away.

The recording path hands audit records over as they came off Kafka (``AvroAudit``): the store
reads only each record's id and time in Python and lets ClickHouse decode the Avro bodies
itself, which is what makes it fast; see ``AvroAudit``. It also knows where each record was
read, so it asks about stored ids only for what Kafka may be redelivering (``progress``): in
steady state a batch costs one tiny lookup of the partition claims instead of a search of the
last week's ids.

A ``WarehouseUnavailable`` from here means the batch may be stored in part or not at all: the
caller must not commit its offsets and should retry the same batch later, which the replay
check makes safe.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from forewarn.db.client import StringList, Warehouse
from forewarn.db.errors import WarehouseQueryError, WarehouseUnavailable
from forewarn.schemas.codec import avro_schema_json, schema_id
from forewarn.schemas.models import AuditRecord, Incident
from forewarn.sinks.progress import Claims, Mark

__all__ = [
    "AUDIT_COLUMNS",
    "AVRO_INSERT_SETTINGS",
    "INCIDENT_COLUMNS",
    "AuditStore",
    "AvroAudit",
    "Stored",
    "WarehouseQueryError",
    "WarehouseUnavailable",
]

#: Table columns, named exactly as the model fields (and so as the Avro contract).
AUDIT_COLUMNS: tuple[str, ...] = tuple(AuditRecord.model_fields)
INCIDENT_COLUMNS: tuple[str, ...] = tuple(Incident.model_fields)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def _is_timestamp(annotation: object) -> bool:
    """``datetime``, possibly ``Optional`` and ``Annotated`` with validators."""
    if annotation is datetime:
        return True
    if get_origin(annotation) in (Annotated, Union, UnionType):
        return any(_is_timestamp(arg) for arg in get_args(annotation))
    return False


def _timestamp_columns(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, field in model.model_fields.items() if _is_timestamp(field.annotation))


_TIMESTAMPS = {AuditRecord: _timestamp_columns(AuditRecord), Incident: _timestamp_columns(Incident)}


@dataclass(frozen=True)
class Stored:
    """What one batch added; ``skipped`` counts replays and in-batch repeats left out."""

    audit: int = 0
    incidents: int = 0
    skipped: int = 0

    def __add__(self, other: Stored) -> Stored:
        return Stored(self.audit + other.audit, self.incidents + other.incidents, self.skipped + other.skipped)


def _columns(records: Sequence[AuditRecord] | Sequence[Incident], names: Sequence[str]) -> list[list[Any]]:
    """Column-major values straight from the frozen models: no dicts, no per-row transposing.

    Timestamps go as DateTime64(3) ticks (epoch milliseconds): clickhouse-connect's own
    per-value datetime conversion took about a third of the time of serialising a batch.
    """
    timestamps = _TIMESTAMPS[type(records[0])] if records else frozenset()
    fields = [vars(record) for record in records]  # pydantic keeps field values here; plain dict lookups
    columns: list[list[Any]] = []
    for name in names:
        values = list(map(itemgetter(name), fields))
        if name in timestamps:
            values = [None if v is None else (v - _EPOCH) // _MILLISECOND for v in values]
        columns.append(values)
    return columns


def _epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MILLISECOND


def _zigzag(n: int) -> bytes:
    """An Avro ``long``: zigzag, then 7 bits a byte, least significant first."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_AUDIT_HEADER = bytes([0]) + schema_id(AuditRecord).to_bytes(4, "big")
_HEADER_SIZE = len(_AUDIT_HEADER)


@dataclass(slots=True)
class AvroAudit:
    """Audit records in their wire form (Confluent framing, today's AuditRecord schema id).

    Validating each record into a pydantic model capped the recording path at about 30k
    rows/s and fastavro alone at about 60k; ClickHouse decodes the same Avro at over a million
    rows/s. So Python reads only what the replay check needs, ``audit_id`` and, for the records
    that get the check, ``recorded_at`` (the schema's first two fields), and the bodies go to
    ClickHouse as an Avro object container file with one block per record: a block carries its
    own length, so a damaged body breaks that block (and the INSERT, which the caller then
    redoes record by record with the full decoder) instead of shifting every record after it.

    ``add`` refuses what it cannot vouch for (another schema id, a header or the two leading
    fields that do not parse), and the caller decodes those the ordinary way. What it accepts
    is not validated beyond that: a body ClickHouse reads but fastavro would reject (invalid
    UTF-8 in a string, trailing bytes inside its block) is stored rather than dead-lettered.
    """

    #: The Kafka topic the records were read from; with each record's partition and offset
    #: it lets the store skip the replay check for records past the partition's claims.
    topic: str = ""
    ids: list[str] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    #: Where each record's ``recorded_at`` starts; read only for the replay check's time range.
    _times: list[int] = field(default_factory=list)

    def add(self, message: bytes, partition: int = -1, offset: int = -1) -> bool:
        """Take one framed record; False (and nothing taken) if it needs the full decoder.

        ``partition`` and ``offset`` say where in ``topic`` it was read; a record without them
        (offset -1) always gets the replay check.
        """
        if not message.startswith(_AUDIT_HEADER):
            return False
        try:
            length, pos = message[_HEADER_SIZE], _HEADER_SIZE + 1  # ids under 64 bytes: one length byte
            if length > 0x7F:
                length, pos = _varint(message, _HEADER_SIZE)
            end = pos + (length >> 1)
            if length & 1 or end >= len(message):
                return False
            audit_id = message[pos:end].decode()
        except (IndexError, UnicodeDecodeError):
            return False
        if _AVRO_LONG.match(message, end) is None:
            return False
        self.ids.append(audit_id)
        self.messages.append(message)
        self.partitions.append(partition)
        self.offsets.append(offset)
        self._times.append(end)
        return True

    def __len__(self) -> int:
        return len(self.ids)

    def recorded_ms(self, i: int) -> int:
        """Record ``i``'s ``recorded_at`` in epoch milliseconds."""
        ticks, _ = _varint(self.messages[i], self._times[i])
        return (ticks >> 1) ^ -(ticks & 1)

    def through(self) -> dict[int, int]:
        """The highest offset taken per partition (records with a position only)."""
        highest: dict[int, int] = {}
        for partition, offset in zip(self.partitions, self.offsets, strict=True):
            if offset > highest.get(partition, -1):
                highest[partition] = offset
        return highest

    def container(self, rows: Iterable[int]) -> bytes:
        """An Avro object container file holding the records at ``rows``, one block each."""
        sync = os.urandom(16)
        messages, prefixes = self.messages, _BLOCK_PREFIXES
        parts: list[bytes] = [_container_header(sync)]
        append = parts.append
        for i in rows:
            message = messages[i]
            size = len(message) - _HEADER_SIZE
            append(prefixes[size] if size < len(prefixes) else b"\x02" + _zigzag(size))
            append(message[_HEADER_SIZE:])
            append(sync)
        return b"".join(parts)


#: An Avro ``long`` (a varint of at most ten bytes) starts here: ``add`` checks the time is
#: there without reading it, which took a quarter of its time.
_AVRO_LONG = re.compile(rb"[\x80-\xff]{0,9}[\x00-\x7f]", re.DOTALL)

#: A block's object count (always 1) and byte size, ready-made for bodies under 16 KiB.
_BLOCK_PREFIXES: tuple[bytes, ...] = tuple(b"\x02" + _zigzag(size) for size in range(16384))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The raw (still zigzagged) varint at ``pos`` and the position after it."""
    byte = data[pos]
    if byte < 0x80:
        return byte, pos + 1
    result, shift = byte & 0x7F, 7
    while True:
        pos += 1
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos + 1
        shift += 7
        if shift > 63:
            raise IndexError("varint longer than an Avro long")


def _container_header(sync: bytes) -> bytes:
    meta = {b"avro.schema": avro_schema_json(AuditRecord).encode(), b"avro.codec": b"null"}
    entries = b"".join(_zigzag(len(k)) + k + _zigzag(len(v)) + v for k, v in meta.items())
    return b"Obj\x01" + _zigzag(len(meta)) + entries + b"\x00" + sync


#: The batch holds each audit_id once (first copy wins, above), so ReplacingMergeTree's
#: merge-as-you-insert has nothing to fold; skipping it took an embedded INSERT of 50,000
#: rows from about 190k to 250-340k rows/s (ClickHouse 26.9).
AVRO_INSERT_SETTINGS: dict[str, Any] = {"optimize_on_insert": 0}

_PROGRESS_COLUMNS = ("topic", "partition", "revision", "through_offset", "writer")

#: How far apart an original and its replay may have been recorded. ``recorded_at`` is the
#: processing clock, so a replay after an outage is recorded later than the original by
#: about the length of the outage.
REPLAY_HORIZON = timedelta(days=7)


class AuditStore:
    """Batch writer for the ``audit`` and ``incidents`` tables (see ``db/migrations``).

    The replay check for audit rows looks only at rows recorded within ``replay_horizon`` of
    the batch. audit_ids are hashes, so a batch's ids fall into nearly every granule of the
    ``audit_id`` index and an unbounded check would scan the whole column on every batch; the
    time bound lets ClickHouse skip older parts by their ``recorded_at`` range. A replay from
    further back is still folded by ReplacingMergeTree and by FINAL in the views, but it shows
    in raw counts until parts merge.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        audit_table: str = "audit",
        incident_table: str = "incidents",
        progress_table: str = "audit_progress",
        replay_horizon: timedelta = REPLAY_HORIZON,
        claims: Claims | None = None,
    ) -> None:
        self._warehouse = warehouse
        self._audit_table = audit_table
        self._incident_table = incident_table
        self._progress_table = progress_table
        self._claims = claims if claims is not None else Claims()
        self._horizon = replay_horizon
        self._audit_structure: str | None = None

    def write(self, batch: Iterable[AuditRecord | Incident]) -> Stored:
        """Store a mixed batch, as the audit consumer receives it."""
        audits: list[AuditRecord] = []
        incidents: list[Incident] = []
        for record in batch:
            if isinstance(record, AuditRecord):
                audits.append(record)
            else:
                incidents.append(record)
        return self.write_audit(audits) + self.write_incidents(incidents)

    def write_audit(self, records: Sequence[AuditRecord]) -> Stored:
        """Insert the records whose ``audit_id`` is not stored yet, in one INSERT."""
        if not records:
            return Stored()
        with self._warehouse.exclusive() as warehouse:
            unique = {r.audit_id: r for r in reversed(records)}
            stored = self._stored_ids(
                warehouse,
                unique,
                _epoch_ms(min(r.recorded_at for r in records)),
                _epoch_ms(max(r.recorded_at for r in records)),
            )
            for audit_id in stored:
                unique.pop(audit_id, None)
            fresh = [r for r in records if unique.get(r.audit_id) is r]
            warehouse.insert(self._audit_table, _columns(fresh, AUDIT_COLUMNS), AUDIT_COLUMNS, column_oriented=True)
        return Stored(audit=len(fresh), skipped=len(records) - len(fresh))

    def write_avro(self, batch: AvroAudit) -> Stored:
        """Insert the wire records whose ``audit_id`` is not stored yet, in one INSERT.

        Same first-copy-wins rule as ``write_audit``, but the replay check asks only about the
        records Kafka may be redelivering (``progress.Claims``): those without a position, and
        those at or below what their partition's claims say may be stored. The claims this
        batch needs are stored before its rows. A body ClickHouse cannot read fails the whole
        INSERT with ``WarehouseQueryError``, nothing stored (its claims may be).
        """
        if not batch:
            return Stored()
        with self._warehouse.exclusive() as warehouse:
            first: dict[str, int] = {}
            for i, audit_id in enumerate(batch.ids):
                first.setdefault(audit_id, i)
            through = batch.through()
            plan = self._claims.plan(self._marks(warehouse, batch.topic, through), through) if through else None
            check = plan.check_through if plan else {}
            offsets, partitions = batch.offsets, batch.partitions
            suspects = [
                audit_id for audit_id, i in first.items() if offsets[i] < 0 or offsets[i] <= check[partitions[i]]
            ]
            if suspects:
                suspect_ms = [batch.recorded_ms(first[audit_id]) for audit_id in suspects]
                for audit_id in self._stored_ids(warehouse, suspects, min(suspect_ms), max(suspect_ms)):
                    first.pop(audit_id, None)
            if plan and plan.claims:
                rows = [[batch.topic, p, m.revision, m.through, m.writer] for p, m in plan.claims]
                warehouse.insert(self._progress_table, rows, _PROGRESS_COLUMNS)
            if first:
                fresh = sorted(first.values())
                warehouse.insert_encoded(
                    self._audit_table,
                    AUDIT_COLUMNS,
                    batch.container(fresh),
                    "Avro",
                    self._structure(warehouse),
                    settings=AVRO_INSERT_SETTINGS,
                )
        return Stored(audit=len(first), skipped=len(batch) - len(first))

    def _stored_ids(self, warehouse: Warehouse, ids: Iterable[str], earliest_ms: int, latest_ms: int) -> list[str]:
        """Which of ``ids`` are stored already, among rows recorded within the replay horizon of
        the records' times (epoch ms)."""
        horizon_ms = self._horizon // _MILLISECOND
        rows = warehouse.query(
            f"SELECT DISTINCT audit_id FROM {self._audit_table} "
            "WHERE recorded_at BETWEEN fromUnixTimestamp64Milli({since:Int64}, 'UTC') "
            "AND fromUnixTimestamp64Milli({until:Int64}, 'UTC') "
            f"AND audit_id IN {StringList.in_set('ids')}",
            {"since": earliest_ms - horizon_ms, "until": latest_ms + horizon_ms, "ids": StringList(ids)},
        )
        return [audit_id for (audit_id,) in rows]

    def _marks(self, warehouse: Warehouse, topic: str, through: dict[int, int]) -> dict[int, Mark]:
        """The latest stored claim of each of ``through``'s partitions that has one."""
        rows = warehouse.query(
            "SELECT partition, max(revision), argMax(through_offset, revision), argMax(writer, revision) "
            f"FROM {self._progress_table} "
            "WHERE topic = {topic:String} AND has({partitions:Array(UInt32)}, partition) GROUP BY partition",
            {"topic": topic, "partitions": sorted(through)},
        ).rows
        return {int(p): Mark(int(revision), int(offset), str(writer)) for p, revision, offset, writer in rows}

    def _structure(self, warehouse: Warehouse) -> str:
        """The audit columns as ClickHouse should read them from Avro: the table's own types
        without ``LowCardinality`` (see ``Warehouse.insert_encoded``), so a column the DDL
        changes is picked up rather than restated here."""
        if self._audit_structure is None:
            types = dict(
                warehouse.query(
                    "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
                    {"t": self._audit_table},
                ).rows
            )
            missing = [name for name in AUDIT_COLUMNS if name not in types]
            if missing:
                raise WarehouseQueryError(f"table {self._audit_table} lacks columns {missing}", "system.columns")
            self._audit_structure = ", ".join(
                f"`{name}` {_without_low_cardinality(types[name])}" for name in AUDIT_COLUMNS
            )
        return self._audit_structure

    def write_incidents(self, incidents: Sequence[Incident]) -> Stored:
        """Insert the incident versions whose ``(incident_id, version)`` is not stored yet."""
        if not incidents:
            return Stored()
        with self._warehouse.exclusive() as warehouse:
            unique = {(i.incident_id, i.version): i for i in reversed(incidents)}
            stored = warehouse.query(
                f"SELECT DISTINCT incident_id, version FROM {self._incident_table} "
                f"WHERE incident_id IN {StringList.in_set('ids')}",
                {"ids": StringList({i.incident_id for i in incidents})},
            )
            for incident_id, version in stored:
                unique.pop((incident_id, version), None)
            fresh = [i for i in incidents if unique.get((i.incident_id, i.version)) is i]
            warehouse.insert(
                self._incident_table, _columns(fresh, INCIDENT_COLUMNS), INCIDENT_COLUMNS, column_oriented=True
            )
        return Stored(incidents=len(fresh), skipped=len(incidents) - len(fresh))


def _without_low_cardinality(column_type: str) -> str:
    """``LowCardinality(X)`` -> ``X``; other types as they are."""
    prefix = "LowCardinality("
    return column_type[len(prefix) : -1] if column_type.startswith(prefix) else column_type

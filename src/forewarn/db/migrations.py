"""Versioned DDL: ``migrations/NNNN_name.sql`` applied in order, each recorded once.

The warehouse outlives any one release, so its schema changes only by appending files; the
history table stores each file's checksum, and an edited file that was already applied is
refused rather than silently diverging from what the server actually holds. Statements are
written to be re-runnable (``IF NOT EXISTS``, ``OR REPLACE``) because ClickHouse DDL is not
transactional: a migration interrupted half-way is simply applied again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from importlib.resources.abc import Traversable

from forewarn.db.client import Warehouse
from forewarn.db.errors import MigrationError, WarehouseQueryError
from forewarn.db.sql import split_statements

HISTORY_TABLE = "forewarn_schema_migrations"

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_HISTORY = f"""
CREATE TABLE IF NOT EXISTS {HISTORY_TABLE}
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    checksum: str
    source: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class AppliedMigration:
    version: int
    name: str
    checksum: str
    applied_at: datetime

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def _checksum(sql: str) -> str:
    """SHA-256 of the file with normalised line endings, so a Windows checkout is not 'tampered'."""
    return hashlib.sha256(sql.replace("\r\n", "\n").encode()).hexdigest()


def load_migrations(directory: Traversable | None = None) -> list[Migration]:
    """The migration files in version order; a misnamed file or a repeated version is an error."""
    root = directory if directory is not None else resources.files("forewarn.db") / "migrations"
    migrations: dict[int, Migration] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"{entry}: migration files must be named NNNN_lower_snake.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{entry}: version {version} is also used by {migrations[version].source}")
        sql = entry.read_text(encoding="utf-8")
        migrations[version] = Migration(version, match.group(2), sql, _checksum(sql), str(entry))
    return [migrations[v] for v in sorted(migrations)]


def applied_migrations(warehouse: Warehouse) -> list[AppliedMigration]:
    """What the warehouse says it has applied (empty before the first ``migrate``)."""
    try:
        rows = warehouse.query(
            f"SELECT version, name, checksum, applied_at FROM {HISTORY_TABLE} FINAL ORDER BY version"
        )
    except WarehouseQueryError as exc:
        if "UNKNOWN_TABLE" in str(exc):
            return []
        raise
    return [AppliedMigration(int(v), str(n), str(c), a) for v, n, c, a in rows]


def pending_migrations(applied: Sequence[AppliedMigration], available: Sequence[Migration]) -> list[Migration]:
    """Files not yet applied, after checking the applied ones still match their files."""
    by_version = {m.version: m for m in available}
    for record in applied:
        migration = by_version.get(record.version)
        if migration is None:
            raise MigrationError(
                f"the warehouse has migration {record.label} applied, but this forewarn has no such file; "
                "is it older than the one that migrated the warehouse?"
            )
        if migration.checksum != record.checksum:
            raise MigrationError(
                f"{migration.source} was changed after it was applied "
                f"(recorded checksum {record.checksum[:12]}…, file now {migration.checksum[:12]}…); "
                "never edit an applied migration: restore it and add a new NNNN_*.sql instead"
            )
    done = {r.version for r in applied}
    return [m for m in available if m.version not in done]


def migrate(
    warehouse: Warehouse,
    migrations: Sequence[Migration] | None = None,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Migration]:
    """Apply whatever is pending, in order; returns what was applied (empty when up to date)."""
    available = load_migrations() if migrations is None else list(migrations)
    with warehouse.exclusive():
        warehouse.command(_CREATE_HISTORY)
        todo = pending_migrations(applied_migrations(warehouse), available)
        for migration in todo:
            for statement in split_statements(migration.sql):
                try:
                    warehouse.command(statement)
                except WarehouseQueryError as exc:
                    raise MigrationError(f"{migration.source} failed: {exc}") from exc
            warehouse.insert(
                HISTORY_TABLE,
                [(migration.version, migration.name, migration.checksum, now())],
                ["version", "name", "checksum", "applied_at"],
            )
    return todo

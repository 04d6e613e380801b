"""Versioned DDL: applied once, in order, and never silently re-interpreted."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from forewarn.db.client import Warehouse, open_clickhouse
from forewarn.db.errors import MigrationError
from forewarn.db.migrations import (
    HISTORY_TABLE,
    applied_migrations,
    load_migrations,
    migrate,
    pending_migrations,
)
from forewarn.schemas.codec import encode
from forewarn.schemas.models import AuditRecord, Incident, IncidentKind, Phase, Severity
from forewarn.sinks.clickhouse import INCIDENT_COLUMNS, AuditStore, AvroAudit, Stored

APPLIED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        yield wh


def migrate_before(warehouse: Warehouse, version: int) -> None:
    """The database as a release before migration ``version`` left it."""
    migrate(warehouse, [m for m in load_migrations() if m.version < version])


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped migrations, so a test can edit or extend them."""
    target = tmp_path / "migrations"
    shipped = resources.files("forewarn.db") / "migrations"
    target.mkdir()
    for entry in shipped.iterdir():
        if entry.name.endswith(".sql"):
            (target / entry.name).write_text(entry.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def test_shipped_migrations_are_numbered_in_order() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert [m.label for m in migrations][:3] == ["0001_audit", "0002_incidents", "0003_analyst_views"]


def test_migrate_creates_schema_and_records_it(warehouse: Warehouse) -> None:
    applied = migrate(warehouse, now=lambda: APPLIED_AT)
    assert [m.label for m in applied] == [m.label for m in load_migrations()]
    tables = {name for (name,) in warehouse.query("SHOW TABLES")}
    assert {"audit", "incidents", "incident_mttr", "notifications_per_channel", HISTORY_TABLE} <= tables
    history = applied_migrations(warehouse)
    assert [(h.version, h.checksum, h.applied_at) for h in history] == [
        (m.version, m.checksum, APPLIED_AT) for m in applied
    ]
    assert warehouse.query("SELECT engine FROM system.tables WHERE name = 'audit'").scalar() == "ReplacingMergeTree"


def test_migrate_twice_is_a_no_op(warehouse: Warehouse) -> None:
    migrate(warehouse)
    assert migrate(warehouse) == []
    assert warehouse.query(f"SELECT count() FROM {HISTORY_TABLE}").scalar() == len(load_migrations())


def test_tampered_migration_is_refused(warehouse: Warehouse, migrations_dir: Path) -> None:
    migrate(warehouse, load_migrations(migrations_dir))
    edited = migrations_dir / "0002_incidents.sql"
    edited.write_text(edited.read_text() + "\n-- a harmless-looking edit\n")
    with pytest.raises(MigrationError, match=r"0002_incidents\.sql was changed after it was applied"):
        migrate(warehouse, load_migrations(migrations_dir))


def test_only_new_files_are_applied(warehouse: Warehouse, migrations_dir: Path) -> None:
    migrate(warehouse, load_migrations(migrations_dir))
    (migrations_dir / "0099_audit_note.sql").write_text(
        "-- re-runnable, as every migration must be\n"
        "ALTER TABLE audit ADD COLUMN IF NOT EXISTS note String DEFAULT '';\n"
        "ALTER TABLE audit COMMENT COLUMN note 'free text; added by a test';\n"
    )
    applied = migrate(warehouse, load_migrations(migrations_dir))
    assert [m.label for m in applied] == ["0099_audit_note"]
    assert "note" in {name for name, *_ in warehouse.query("DESCRIBE TABLE audit")}


def test_failed_migration_names_its_file_and_is_not_recorded(warehouse: Warehouse, migrations_dir: Path) -> None:
    (migrations_dir / "0099_broken.sql").write_text(
        "CREATE TABLE IF NOT EXISTS ok (n UInt8) ENGINE = Memory;\nCREATE TABLE oops (;"
    )
    with pytest.raises(MigrationError, match=r"0099_broken\.sql failed: .*Syntax error"):
        migrate(warehouse, load_migrations(migrations_dir))
    assert 99 not in {m.version for m in applied_migrations(warehouse)}
    (migrations_dir / "0099_broken.sql").write_text("CREATE TABLE IF NOT EXISTS ok (n UInt8) ENGINE = Memory;")
    assert [m.version for m in migrate(warehouse, load_migrations(migrations_dir))] == [99]


def test_history_from_a_newer_release_is_refused(warehouse: Warehouse, migrations_dir: Path) -> None:
    migrate(warehouse, load_migrations(migrations_dir))
    shutil.copy(migrations_dir / "0003_analyst_views.sql", migrations_dir / "0098_more.sql")
    migrate(warehouse, load_migrations(migrations_dir))
    (migrations_dir / "0098_more.sql").unlink()
    with pytest.raises(MigrationError, match="0098_more applied, but this forewarn has no such file"):
        pending_migrations(applied_migrations(warehouse), load_migrations(migrations_dir))


@pytest.mark.parametrize("name", ["1_short.sql", "0005-dash.sql", "0005_Upper.sql"])
def test_misnamed_files_are_refused(migrations_dir: Path, name: str) -> None:
    (migrations_dir / name).write_text("SELECT 1")
    with pytest.raises(MigrationError, match=r"NNNN_lower_snake\.sql"):
        load_migrations(migrations_dir)


def test_duplicate_versions_are_refused(migrations_dir: Path) -> None:
    (migrations_dir / "0001_again.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="version 1 is also used"):
        load_migrations(migrations_dir)


def test_crlf_checkout_does_not_count_as_tampering(warehouse: Warehouse, migrations_dir: Path) -> None:
    migrate(warehouse, load_migrations(migrations_dir))
    for path in migrations_dir.iterdir():
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert migrate(warehouse, load_migrations(migrations_dir)) == []


def test_acknowledged_at_arrives_null_for_rows_written_before_it(warehouse: Warehouse) -> None:
    """0005 adds incidents.acknowledged_at: a version stored by a release without it reads
    NULL (so no time to acknowledge is made up for it), and the writer, whose columns are the
    model's fields, inserts the new one alongside."""
    migrate_before(warehouse, 5)
    assert "acknowledged_at" not in {name for name, *_ in warehouse.query("DESCRIBE TABLE incidents")}
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    old = Incident(
        incident_id="inc-old",
        version=1,
        dedup_key="payments|eu-west|outage",
        title="Payments down",
        service="payments",
        region="eu-west",
        symptom="outage",
        phase=Phase.identified,
        severity=Severity.P1,
        kind=IncidentKind.regional_outage,
        change="phase",
        opened_at=at,
        updated_at=at + timedelta(minutes=4),
        first_signal_at=at,
    )
    later = ("acknowledged_at", "window_starts_at", "postmortem_url")
    before = [c for c in INCIDENT_COLUMNS if c not in later]  # the old writer's
    warehouse.insert("incidents", [[getattr(old, c) for c in before]], before)

    assert [m.label for m in migrate(warehouse)][:1] == ["0005_acknowledged_and_breakdowns"]
    assert {name: kind for name, kind, *_ in warehouse.query("DESCRIBE TABLE incidents")}["acknowledged_at"] == (
        "Nullable(DateTime64(3, 'UTC'))"
    )
    acked = old.model_copy(
        update={"incident_id": "inc-new", "version": 2, "acknowledged_at": at + timedelta(minutes=3)}
    )
    AuditStore(warehouse).write([acked])
    rows = warehouse.query(
        "SELECT incident_id, acknowledged_at, time_to_acknowledge_s, time_to_identify_s "
        "FROM incident_mttr ORDER BY incident_id"
    )
    assert list(rows) == [
        ("inc-new", at + timedelta(minutes=3), 180.0, 240.0),
        ("inc-old", None, None, 240.0),
    ]


def test_window_starts_at_arrives_null_for_rows_written_before_it(warehouse: Warehouse) -> None:
    """0006 adds incidents.window_starts_at: a maintenance version stored before it reads NULL
    (the status page then shows opened_at, as drafts do), and the writer inserts the new one."""
    migrate_before(warehouse, 6)
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    old = Incident(
        incident_id="mnt-old",
        version=1,
        dedup_key="reports|eu-west|maintenance",
        title="Scheduled maintenance: Reports",
        service="reports",
        region="eu-west",
        symptom="maintenance",
        phase=Phase.identified,
        severity=Severity.P3,
        kind=IncidentKind.maintenance,
        change="scheduled",
        opened_at=at,
        updated_at=at,
        first_signal_at=at,
        eta=at + timedelta(days=1, hours=2),
    )
    before = [c for c in INCIDENT_COLUMNS if c not in ("window_starts_at", "postmortem_url")]  # the id-16 writer's
    warehouse.insert("incidents", [[getattr(old, c) for c in before]], before)

    assert [m.label for m in migrate(warehouse)][:1] == ["0006_maintenance_window_start"]
    assert {name: kind for name, kind, *_ in warehouse.query("DESCRIBE TABLE incidents")}["window_starts_at"] == (
        "Nullable(DateTime64(3, 'UTC'))"
    )
    new = old.model_copy(update={"incident_id": "mnt-new", "window_starts_at": at + timedelta(days=1)})
    AuditStore(warehouse).write([new])
    rows = warehouse.query("SELECT incident_id, window_starts_at FROM incidents FINAL ORDER BY incident_id")
    assert list(rows) == [("mnt-new", at + timedelta(days=1)), ("mnt-old", None)]


def test_postmortem_url_arrives_null_for_rows_written_before_it(warehouse: Warehouse) -> None:
    """0007 adds incidents.postmortem_url: a post-mortem version stored before it reads NULL
    (the status page then takes the URL from the publication's audit row), and the writer, whose
    columns are the model's fields, inserts the new one."""
    migrate_before(warehouse, 7)
    assert "postmortem_url" not in {name for name, *_ in warehouse.query("DESCRIBE TABLE incidents")}
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    old = Incident(
        incident_id="inc-old",
        version=4,
        dedup_key="payments|eu-west|outage",
        title="Payments down",
        service="payments",
        region="eu-west",
        symptom="outage",
        phase=Phase.resolved,
        severity=Severity.P1,
        kind=IncidentKind.regional_outage,
        change="postmortem",
        opened_at=at,
        updated_at=at + timedelta(days=2),
        first_signal_at=at,
        resolved_at=at + timedelta(hours=1),
    )
    before = [c for c in INCIDENT_COLUMNS if c != "postmortem_url"]  # what the id-19 writer sent
    warehouse.insert("incidents", [[getattr(old, c) for c in before]], before)

    assert [m.label for m in migrate(warehouse)][:1] == ["0007_incident_postmortem_url"]
    assert {name: kind for name, kind, *_ in warehouse.query("DESCRIBE TABLE incidents")}["postmortem_url"] == (
        "Nullable(String)"
    )
    url = "https://blog.example.com/postmortems/inc-new"
    new = old.model_copy(update={"incident_id": "inc-new", "postmortem_url": url})
    AuditStore(warehouse).write([new])
    rows = warehouse.query("SELECT incident_id, postmortem_url FROM incidents FINAL ORDER BY incident_id")
    assert list(rows) == [("inc-new", url), ("inc-old", None)]


def test_audit_rows_stored_before_the_partition_marks_are_still_recognised(warehouse: Warehouse) -> None:
    """0008 adds audit_progress. A release before it stored rows with no mark; Kafka redelivers
    what it had not committed, so a partition without a mark gets the full replay check."""
    migrate_before(warehouse, 8)
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    stored = AuditRecord(audit_id="a-old", recorded_at=at, stage="deliver", action="delivered")
    AuditStore(warehouse).write([stored])
    assert [m.label for m in migrate(warehouse)] == ["0008_audit_progress"]
    batch = AvroAudit(topic="forewarn.audit")
    batch.add(encode(stored), 0, 41)
    batch.add(encode(stored.model_copy(update={"audit_id": "a-new"})), 0, 42)
    assert AuditStore(warehouse).write_avro(batch) == Stored(audit=1, skipped=1)
    assert warehouse.query("SELECT partition, revision FROM audit_progress").rows == [(0, 1)]

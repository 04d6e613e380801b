"""`forewarn db migrate|status` and `forewarn sql`, run through click against a tmp data dir."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from forewarn.cli import main
from forewarn.db.client import open_clickhouse
from forewarn.db.migrations import load_migrations


@pytest.fixture
def runner(tmp_path: Path) -> CliRunner:
    return CliRunner(env={"FOREWARN_DATA_DIR": str(tmp_path / "data"), "FOREWARN_CLICKHOUSE": None})


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def migrated(runner: CliRunner, tmp_path: Path) -> CliRunner:
    assert invoke(runner, "db", "migrate").exit_code == 0
    with open_clickhouse(f"chdb://{tmp_path / 'data' / 'clickhouse'}") as wh:
        wh.command(
            "INSERT INTO audit (audit_id, recorded_at, stage, action, channel, customer_ref, incident_id) VALUES "
            "('a1', '2026-11-23 09:00:00', 'deliver', 'delivered', 'email', 'r1', 'inc-1'), "
            "('a2', '2026-11-23 09:01:00', 'deliver', 'failed', 'email', 'r2', 'inc-1'), "
            "('a3', '2026-11-23 09:02:00', 'deliver', 'delivered', 'slack', 'r1', 'inc-1')"
        )
    return runner


def test_migrate_reports_what_it_applied_then_that_all_is_current(runner: CliRunner) -> None:
    first = invoke(runner, "db", "migrate")
    assert first.exit_code == 0
    for migration in load_migrations():
        assert f"applied {migration.label}" in first.output
    second = invoke(runner, "db", "migrate")
    assert second.exit_code == 0
    assert "schema is up to date" in second.output
    assert "applied 0001" not in second.output


def test_status_lists_applied_and_pending(runner: CliRunner) -> None:
    before = invoke(runner, "db", "status")
    assert before.exit_code == 0
    assert "pending  0001_audit" in before.output
    invoke(runner, "db", "migrate")
    after = invoke(runner, "db", "status")
    assert "applied  0001_audit" in after.output
    assert "pending" not in after.output


def test_sql_prints_a_readable_table(migrated: CliRunner) -> None:
    result = invoke(
        migrated, "sql", "SELECT channel, delivered, failed FROM notifications_per_channel ORDER BY channel"
    )
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["channel", "|", "delivered", "|", "failed"]
    assert set(lines[1]) <= {"-", "+"}
    assert lines[2].split() == ["email", "|", "1", "|", "1"]
    assert lines[3].split() == ["slack", "|", "1", "|", "0"]
    assert lines[-1] == "(2 rows)"


def test_sql_csv_and_json(migrated: CliRunner) -> None:
    query = "SELECT audit_id, recorded_at, sent_at FROM audit FINAL ORDER BY audit_id LIMIT 2"
    as_csv = list(csv.reader(io.StringIO(invoke(migrated, "sql", query, "--format", "csv").output)))
    assert as_csv[0] == ["audit_id", "recorded_at", "sent_at"]
    assert as_csv[1] == ["a1", "2026-11-23 09:00:00+00:00", ""]
    as_json = json.loads(invoke(migrated, "sql", query, "--format", "json").output)
    assert as_json[0] == {"audit_id": "a1", "recorded_at": "2026-11-23T09:00:00+00:00", "sent_at": None}
    assert len(as_json) == 2


def test_sql_refuses_writes_before_reaching_clickhouse(migrated: CliRunner) -> None:
    for statement in ("INSERT INTO audit (audit_id) VALUES ('x')", "DROP TABLE audit", "SELECT 1; DROP TABLE audit"):
        result = migrated.invoke(main, ["sql", statement])
        assert result.exit_code == 1
        assert "read-only" in result.output or "one statement at a time" in result.output
    assert "(3 rows)" in invoke(migrated, "sql", "SELECT * FROM audit").output


def test_sql_echoes_clickhouse_syntax_errors(migrated: CliRunner) -> None:
    result = migrated.invoke(main, ["sql", "SELECT FROM WHERE"])
    assert result.exit_code == 1
    assert "Error: Code: 62" in result.output
    assert "Syntax error" in result.output


def test_sql_with_no_rows(migrated: CliRunner) -> None:
    assert invoke(migrated, "sql", "SELECT * FROM incident_mttr").output == "(0 rows)\n"


def test_bad_dsn_is_one_clear_line(tmp_path: Path) -> None:
    runner = CliRunner(env={"FOREWARN_CLICKHOUSE": "postgres://db/forewarn"})
    result = runner.invoke(main, ["db", "migrate"])
    assert result.exit_code == 1
    assert "unsupported ClickHouse DSN scheme 'postgres'" in result.output
    assert "Traceback" not in result.output

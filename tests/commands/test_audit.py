"""`forewarn audit export --incident ID`: the compliance CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from factories import T0
from forewarn.cli import main
from forewarn.db.client import open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.schemas.models import AuditRecord
from forewarn.sinks.clickhouse import AUDIT_COLUMNS, AuditStore


def seed(data_dir: Path) -> None:
    rows = [
        AuditRecord(
            audit_id=f"a{i}",
            recorded_at=T0 + timedelta(seconds=i),
            stage=stage,
            action=action,
            incident_id=incident,
            incident_version=1,
            customer_ref="cus_abc",
            channel="email",
            detail={"provider": "smtp"},
            verdicts=["length ok"],
        )
        for i, (stage, action, incident) in enumerate(
            [("target", "drafted", "inc-1"), ("deliver", "delivered", "inc-1"), ("deliver", "delivered", "inc-2")]
        )
    ]
    with open_clickhouse(f"chdb://{data_dir / 'clickhouse'}") as wh:
        migrate(wh)
        store = AuditStore(wh)
        store.write(rows)
        store.write(rows)  # a replay stores nothing twice


def test_export_writes_one_incidents_rows_in_order(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    runner = CliRunner(env={"FOREWARN_DATA_DIR": str(tmp_path / "data"), "FOREWARN_CLICKHOUSE": None})
    result = runner.invoke(main, ["audit", "export", "--incident", "inc-1"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["stage"], r["action"]) for r in rows] == [("target", "drafted"), ("deliver", "delivered")]
    assert list(rows[0]) == list(AUDIT_COLUMNS)
    assert rows[0]["recorded_at"] == "2026-11-23T09:00:00.000+00:00"
    assert json.loads(rows[0]["detail"]) == {"provider": "smtp"} and json.loads(rows[0]["verdicts"]) == ["length ok"]
    assert rows[0]["customer_ref"] == "cus_abc" and rows[0]["signal_at"] == ""


def test_export_to_a_file_and_an_unknown_incident_is_an_error(tmp_path: Path) -> None:
    seed(tmp_path / "data")
    runner = CliRunner(env={"FOREWARN_DATA_DIR": str(tmp_path / "data"), "FOREWARN_CLICKHOUSE": None})
    out = tmp_path / "inc-2.csv"
    ok = runner.invoke(main, ["audit", "export", "--incident", "inc-2", "--out", str(out)])
    assert ok.exit_code == 0 and len(out.read_text().splitlines()) == 2
    missing = runner.invoke(main, ["audit", "export", "--incident", "inc-404"])
    assert missing.exit_code == 1 and "no audit rows for incident 'inc-404'" in missing.output

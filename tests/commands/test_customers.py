"""`forewarn customers load` and `show` against the real broker and a real worker."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from forewarn.cli import main
from forewarn.config import Settings
from forewarn.demo.mailbox import free_port
from forewarn.process import WorkerProcess
from forewarn.publish import read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import CustomerSegment

HEADER = "customer_id,account_name,plan,regions,features,language,timezone,emails,phones,last_active\n"
GOOD = (
    "c1,Acme,pro,eu-west;us-east,payments,de,Europe/Berlin,ops@acme.example,+4915112345678,"
    "payments=2026-11-23T08:00:00Z\n"
)
CSV_ROWS = [
    GOOD,
    "c2,Beta,platinum,eu-west,payments,en,UTC,ops@beta.example,,\n",
    "c3,Gamma,pro,eu-west,payments,en,UTC,not-an-address,,\n",
    "c4,Delta,pro,eu-west,payments,en,Mars/Olympus,ops@delta.example,,\n",
    "c5,Eps,pro,eu-west,payments,tlh,UTC,ops@eps.example,,\n",
    "c6,Zeta,pro,eu-west,payments,en,UTC,ops@zeta.example,0151-123,\n",
    "c7,Eta,business,us-east,reports,en,UTC,ops@eta.example,,\n",
    "c8,Theta,pro,eu-west,payments,en,UTC,ops@theta.example,,,,extra\n",
]


def run(settings: Settings, *args: str) -> object:
    return CliRunner().invoke(main, ["customers", *args], env=settings.to_env())


def published(settings: Settings) -> dict[str, CustomerSegment | None]:
    out: dict[str, CustomerSegment | None] = {}
    for m in read_topic(settings, "customers"):
        out[m.key().decode()] = None if m.value() is None else decode(m.value(), CustomerSegment)
    return out


def test_load_csv_publishes_valid_rows_and_lists_rejected_ones_with_line_and_reason(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + "".join(CSV_ROWS))
    result = run(settings, "load", str(path))
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    err = result.stderr  # type: ignore[attr-defined]
    assert f"{path}:3: c2: plan 'platinum' is not one of" in err
    assert f"{path}:4: c3: malformed email 'not-an-address'" in err
    assert f"{path}:5: c4: unknown time zone 'Mars/Olympus'" in err
    assert f"{path}:6: c5: language 'tlh'" in err
    assert f"{path}:7: c6: malformed phone '0151-123'" in err
    assert f"{path}:9: 2 more fields than the header names" in err
    assert "published 2 customers" in result.stdout and "rejected 6 rows" in result.stdout  # type: ignore[attr-defined]
    table = published(settings)
    assert sorted(table) == ["c1", "c7"]
    c1 = table["c1"]
    assert c1 is not None and c1.regions == ["eu-west", "us-east"] and c1.language == "de"
    assert c1.last_active["payments"].hour == 8


def test_load_json_lines_with_debezium_envelopes_deletes_and_bad_lines(settings: Settings, tmp_path: Path) -> None:
    row = {"customer_id": "d1", "plan": "enterprise", "regions": ["eu-west"], "emails": ["a@d1.example"]}
    lines = [
        json.dumps(row),
        json.dumps({"payload": {"op": "c", "before": None, "after": {**row, "customer_id": "d2"}}}),
        "{broken",
        json.dumps({"payload": {"op": "d", "before": {"customer_id": "d3"}, "after": None}}),
        json.dumps([1, 2]),
        "",
        json.dumps({**row, "customer_id": "d4", "timezone": "Nowhere/Else"}),
    ]
    path = tmp_path / "customers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = run(settings, "load", str(path))
    assert result.exit_code == 1
    err = result.stderr  # type: ignore[attr-defined]
    assert f"{path}:3: not JSON" in err
    assert f"{path}:5: expected a JSON object, got list" in err
    assert f"{path}:7: d4: unknown time zone 'Nowhere/Else'" in err
    assert "published 2 customers, deleted 1" in result.stdout  # type: ignore[attr-defined]
    table = published(settings)
    assert set(table) == {"d1", "d2", "d3"} and table["d3"] is None  # a tombstone
    d1 = table["d1"]
    assert d1 is not None and d1.enterprise


def test_show_without_a_worker_is_a_clear_error(settings: Settings) -> None:
    result = run(settings, "show", "c1", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 1 and "no worker answers at" in result.output  # type: ignore[attr-defined]


def test_show_reads_the_live_table_and_its_index(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={"web_port": free_port()})
    path = tmp_path / "customers.csv"
    path.write_text(HEADER + GOOD + CSV_ROWS[1] + CSV_ROWS[6])
    assert run(settings, "load", str(path)).exit_code == 1  # c2 rejected
    with WorkerProcess(settings, tmp_path / "worker.log", roles="pipeline,web") as worker:

        def loaded() -> bool:
            worker.check()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/customers", timeout=5) as r:
                    return bool(json.load(r)["customers"] == 2)
            except (urllib.error.URLError, OSError):
                return False

        wait_until(loaded, 90, "the worker to load 2 customers")
        result = run(settings, "show", "c1")
        assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
        shown = json.loads(result.stdout)  # type: ignore[attr-defined]
        assert shown["customer"]["account_name"] == "Acme"
        assert shown["index"]["regions"] == ["eu-west", "us-east"]
        assert shown["index"]["features"] == ["payments"]
        rejected = run(settings, "show", "c2")
        assert rejected.exit_code == 1 and "404" in rejected.output  # type: ignore[attr-defined]
        assert "'c2' is not in the table" in rejected.output  # type: ignore[attr-defined]

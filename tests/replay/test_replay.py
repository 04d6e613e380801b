"""`forewarn replay` of a recorded incident: a private broker, the whole pipeline in dry run, and a
report of exactly what would have been sent or held, to whom, on which channel, in which language."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from forewarn.cli import main

pytestmark = pytest.mark.broker  # starts its own private broker
FIXTURES = Path(__file__).parent / "fixtures"


def test_replay_reports_sent_and_held_messages_per_customer_and_language(tmp_path: Path) -> None:
    out = tmp_path / "report" / "payments"
    result = CliRunner().invoke(
        main,
        [
            "replay",
            str(FIXTURES / "payments_outage.jsonl"),
            "--customers",
            str(FIXTURES / "customers.jsonl"),
            "--policy",
            str(FIXTURES / "policy.yaml"),
            "--report",
            str(out),
        ],
        env={"FOREWARN_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(Path(f"{out}.json").read_text())
    assert set(report) == {"incidents", "messages"}
    changes = sorted((i["title"], i["change"]) for i in report["incidents"])
    assert ("Payments outage in EU-WEST", "opened") in changes and ("Payments outage in EU-WEST", "resolved") in changes
    keys = {"customer_id", "channel", "language", "kind", "severity", "status", "text"}
    assert all(set(m) == keys for m in report["messages"])
    seen = sorted((m["customer_id"], m["kind"], m["status"], m["language"]) for m in report["messages"])
    # regional outage: gated (held) for both eu-west customers, in their languages, opening and resolution;
    # the global search slowdown is not gated and is sent to everyone; us-east hears no payments news
    assert seen == [
        ("cus-de", "local_degradation", "sent", "de"),
        ("cus-de", "regional_outage", "held", "de"),
        ("cus-de", "regional_outage", "held", "de"),
        ("cus-en", "local_degradation", "sent", "en"),
        ("cus-en", "regional_outage", "held", "en"),
        ("cus-en", "regional_outage", "held", "en"),
        ("cus-us", "local_degradation", "sent", "en"),
    ]
    german = [m["text"] for m in report["messages"] if m["customer_id"] == "cus-de" and m["status"] == "held"]
    assert any("Behoben" in t for t in german) and any("Untersuchung läuft" in t for t in german)
    html = Path(f"{out}.html").read_text()
    assert "Dry run: nothing was sent" in html and "cus-de" in html and "held" in html

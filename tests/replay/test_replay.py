"""`forewarn replay` of a recorded incident: a private broker, the whole pipeline in dry run, and a
report of exactly what would have been sent or held, to whom, on which channel, in which language,
and who was affected but not messaged, and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from forewarn.cli import main

pytestmark = pytest.mark.broker  # starts its own private broker
FIXTURES = Path(__file__).parent / "fixtures"


def test_replay_reports_sent_held_and_suppressed_messages_per_customer_and_language(tmp_path: Path) -> None:
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
    assert ("Search slow responses", "phase") in changes  # PagerDuty's acknowledge, 8 minutes after it opened
    keys = {"customer_id", "channel", "language", "kind", "severity", "status", "text", "version", "reason"}
    assert all(set(m) == keys for m in report["messages"])
    seen = sorted(
        (m["customer_id"], m["kind"], m["version"], m["status"], m["language"], m["reason"]) for m in report["messages"]
    )
    gate = "awaiting approval: regional_outage: always approved by a person"
    # regional outage: gated (held) for both eu-west customers, in their languages, opening and resolution;
    # the global search slowdown is not gated and is sent to everyone; its acknowledge (identified) comes
    # within the P1's 30 minutes, so nobody hears it: suppressed, too soon; us-east hears no payments news
    assert seen == [
        ("cus-de", "local_degradation", 1, "sent", "de", None),
        ("cus-de", "local_degradation", 2, "suppressed", "de", "cadence: too soon"),
        ("cus-de", "regional_outage", 1, "held", "de", gate),
        ("cus-de", "regional_outage", 2, "held", "de", gate),
        ("cus-en", "local_degradation", 1, "sent", "en", None),
        ("cus-en", "local_degradation", 2, "suppressed", "en", "cadence: too soon"),
        ("cus-en", "regional_outage", 1, "held", "en", gate),
        ("cus-en", "regional_outage", 2, "held", "en", gate),
        ("cus-us", "local_degradation", 1, "sent", "en", None),
        ("cus-us", "local_degradation", 2, "suppressed", "en", "cadence: too soon"),
    ]
    assert all(m["channel"] == "email" for m in report["messages"])
    assert all(m["text"] == "" for m in report["messages"] if m["status"] == "suppressed")  # never drafted
    assert all(i["suppressed_unlisted"] == 0 for i in report["incidents"])
    german = [m["text"] for m in report["messages"] if m["customer_id"] == "cus-de" and m["status"] == "held"]
    assert any("Behoben" in t for t in german) and any("Untersuchung läuft" in t for t in german)
    html = Path(f"{out}.html").read_text()
    assert "Dry run: nothing was sent" in html and "cus-de" in html and "held" in html
    assert "cadence: too soon" in html

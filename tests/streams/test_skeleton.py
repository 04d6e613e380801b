"""The walking skeleton, through the real broker: one Alertmanager alert becomes an email
in a real SMTP server's inbox, a delivery receipt, and audit rows ClickHouse returns."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import alertmanager_line, customer, ungated_policy_file, wait_customers
from forewarn.config import Settings, SmtpSettings
from forewarn.db.client import open_clickhouse
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.demo.runner import wait_quiet
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, raw_signal_from_json, read_topic
from forewarn.schemas.codec import decode
from forewarn.schemas.models import DeliveryReceipt, DeliveryStatus

pytestmark = pytest.mark.broker


alertmanager = alertmanager_line


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def pipeline(settings: Settings, mailbox: Mailbox) -> Settings:
    return settings.model_copy(update={"smtp": SmtpSettings(port=mailbox.port), "web_port": free_port()})


def test_alert_to_inbox_receipt_and_audit(pipeline: Settings, mailbox: Mailbox, tmp_path: Path) -> None:
    publisher = Publisher(pipeline)
    publisher.send("customers", customer("c-eu", regions=("eu-west",)))
    publisher.send("customers", customer("c-us", regions=("us-east",)))
    publisher.flush()
    with WorkerProcess(pipeline, tmp_path / "worker.log", policy=ungated_policy_file(tmp_path)) as worker:
        wait_customers(pipeline, worker)
        publisher.send("raw", raw_signal_from_json(alertmanager()))
        publisher.flush()
        (mail,) = mailbox.wait_for(1, 90, worker.check)
        wait_quiet(pipeline, worker, 90)
        with urllib.request.urlopen(f"http://127.0.0.1:{pipeline.web_port}/healthz", timeout=10) as health:
            assert json.load(health) == {"status": "ok"}
    assert mail["To"] == "ops@c-eu.example"
    assert mail["Subject"].startswith("[P1] Investigating: Payments outage in EU-WEST")
    assert len(mailbox.snapshot()) == 1  # the us-east customer heard nothing

    receipts = [decode(m.value(), DeliveryReceipt) for m in read_topic(pipeline, "receipts")]
    assert [(r.customer_id, r.status) for r in receipts] == [("c-eu", DeliveryStatus.delivered)]
    assert mail["Message-ID"] == f"<{receipts[0].notification_id}@forewarn>"

    with open_clickhouse(pipeline.clickhouse_dsn, read_only=True) as wh:
        rows = wh.query(
            "SELECT stage, action, channel, notification_id FROM audit FINAL ORDER BY stage, action, channel"
        )
        trail = [(stage, action, channel) for stage, action, channel, _ in rows]
        assert ("correlate", "opened", None) in trail
        assert ("target", "drafted", "email") in trail
        assert ("deliver", "delivered", "email") in trail
        delivered = [n for stage, action, _, n in rows if stage == "deliver"]
        assert delivered == [receipts[0].notification_id]
        customer_refs = wh.query("SELECT DISTINCT customer_ref FROM audit FINAL WHERE customer_ref IS NOT NULL")
        assert all("c-eu" not in ref and "@" not in ref for (ref,) in customer_refs)  # pseudonymised
        incidents = wh.query("SELECT incident_id, version, phase, severity FROM incidents FINAL")
        assert [(v, p, s) for _, v, p, s in incidents] == [(1, "investigating", "P1")]


def test_bad_input_is_dead_lettered_counted_and_never_stops_the_worker(
    pipeline: Settings, mailbox: Mailbox, tmp_path: Path
) -> None:
    publisher = Publisher(pipeline)
    publisher.send("customers", customer("c-eu", regions=("eu-west",)))
    bad = {
        "malformed_json": raw_signal_from_json({**alertmanager(), "body": '{"version": "4", "alerts": ['}),
        "wrong_type": raw_signal_from_json({**alertmanager(), "body": {"version": "4", "alerts": "many"}}),
        "unknown_source": raw_signal_from_json({**alertmanager(), "source": "nagios"}),
        "oversized": raw_signal_from_json({**alertmanager(), "body": "x" * (1024 * 1024 + 10)}),
    }
    for signal in bad.values():
        publisher.send("raw", signal)
    not_avro = json.dumps(alertmanager()).encode()
    publisher.send_bytes("raw", not_avro)
    publisher.flush()
    with WorkerProcess(pipeline, tmp_path / "worker.log", policy=ungated_policy_file(tmp_path)) as worker:
        wait_customers(pipeline, worker)
        publisher.send("raw", raw_signal_from_json(alertmanager()))  # a good one after all the bad ones
        publisher.flush()
        mailbox.wait_for(1, 90, worker.check)
        wait_quiet(pipeline, worker, 90)
        assert worker.running

    from forewarn.schemas.models import DeadLetter

    letters = [decode(m.value(), DeadLetter) for m in read_topic(pipeline, "deadletter")]
    by_type = {letter.error_type: letter for letter in letters}
    assert set(by_type) == {*bad, "undecodable"}
    assert by_type["undecodable"].value == not_avro  # original bytes kept
    assert len(by_type["oversized"].value or b"") > 1024 * 1024
    for letter in letters:
        assert letter.reason and letter.stage == "normalize"
    with open_clickhouse(pipeline.clickhouse_dsn, read_only=True) as wh:
        counted = wh.query("SELECT count() FROM audit FINAL WHERE action = 'dead_lettered'").scalar()
    assert counted == 5

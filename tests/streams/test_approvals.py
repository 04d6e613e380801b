"""Approval gates through the real broker: a held P1 draft reaches the customer only after a
person approves it (here with an edit, from the CLI), the on-call is reminded while it waits,
and the approver and edit are in the audit record. A second P1 is approved for all its readers
at once (`approvals approve --incident --version`), each draft with its own approval record."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from factories import customer, wait_customers
from forewarn.cli import main
from forewarn.config import Settings, SmtpSettings
from forewarn.db.client import open_clickhouse
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.demo.runner import wait_quiet
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, raw_signal_from_json, read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import (
    Approval,
    ApprovalStatus,
    Incident,
    IncidentKind,
    NotificationCommand,
    Phase,
    Severity,
)

from .test_skeleton import alertmanager

pytestmark = pytest.mark.broker

TOKEN = "console-s3cret"
POLICY = """
channels:
  P1: [email]
  P3: [email]
services:
  payments:
    depends_on: [ledger-db]
  ledger-db:
    customer_facing: false
gates:
  default: never
  categories:
    regional_outage: p1_p2
  oncall_emails: [oncall@forewarn.example]
  remind_after_minutes: 0.02
"""


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def gated(settings: Settings, mailbox: Mailbox, tmp_path: Path) -> tuple[Settings, Path]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return settings.model_copy(
        update={"smtp": SmtpSettings(port=mailbox.port), "web_port": free_port(), "console_token": TOKEN}
    ), policy


def leaky_version(now: datetime, cause: str) -> Incident:
    return Incident(
        incident_id="inc_leak",
        version=2,
        dedup_key="payments|eu-west|latency",
        title="Slow payments in EU-WEST",
        service="payments",
        region="eu-west",
        symptom="latency",
        phase=Phase.identified,
        severity=Severity.P3,
        kind=IncidentKind.local_degradation,
        change="phase",
        opened_at=now,
        updated_at=now,
        first_signal_at=now,
        cause=cause,
        rule="operator:ana",
        affected_services=["payments"],
    )


US_READERS = ("c-us1", "c-us2", "c-us3")


def us_outage(now: datetime) -> Incident:
    return Incident(
        incident_id="inc_us",
        version=1,
        dedup_key="payments|us-east|outage",
        title="Payments outage in US-EAST",
        service="payments",
        region="us-east",
        symptom="outage",
        phase=Phase.investigating,
        severity=Severity.P1,
        kind=IncidentKind.regional_outage,
        change="opened",
        opened_at=now,
        updated_at=now,
        first_signal_at=now,
        affected_services=["payments"],
    )


def in_table(settings: Settings, customer_id: str) -> bool:
    return httpx.get(f"http://127.0.0.1:{settings.web_port}/customers/{customer_id}").status_code == 200


def pending(settings: Settings) -> list[Approval]:
    records = [decode(m.value(), Approval) for m in read_topic(settings, "approvals")]
    return [a for a in records if a.status is ApprovalStatus.pending]


def test_held_p1_draft_is_sent_only_after_approval(
    gated: tuple[Settings, Path], mailbox: Mailbox, tmp_path: Path
) -> None:
    settings, policy = gated
    publisher = Publisher(settings)
    publisher.send("customers", customer("c-eu", regions=("eu-west",)))
    for reader in US_READERS:  # told only of the second P1, approved for all of them at once
        publisher.send("customers", customer(reader, regions=("us-east",)))
    publisher.flush()
    with WorkerProcess(settings, tmp_path / "worker.log", policy=policy) as worker:
        wait_customers(settings, worker)
        publisher.send("raw", raw_signal_from_json(alertmanager()))
        publisher.flush()
        wait_until(lambda: bool(worker.check() or pending(settings)), 90, "a held draft on the approvals topic")
        reminders = mailbox.wait_for(1, 90, worker.check)  # the on-call hears; the customer does not
        assert [(m["To"], "waiting for approval" in m["Subject"]) for m in reminders] == [
            ("oncall@forewarn.example", True)
        ]

        base = f"http://127.0.0.1:{settings.web_port}"
        assert httpx.get(f"{base}/api/approvals").status_code == 401
        listed = httpx.get(f"{base}/api/approvals?status=pending", headers={"Authorization": f"Bearer {TOKEN}"})
        (held,) = listed.json()["approvals"]
        assert held["command"]["customer_id"] == "c-eu" and "P1" in held["reason"]

        # an edit is held to the draft's own expectations: an internal hostname, or facts left out, are refused
        env = settings.to_env()
        text = held["command"]["text"]
        for bad, verdict in (
            (
                text.replace("Our engineers", "Failover to db-03.prod.internal is running. Our engineers"),
                "internal_host",
            ),
            (f"Hello c-eu GmbH,\n\nPayments are failing.\n\n{settings.status_page_url}\n", "facts"),
        ):
            refused = tmp_path / "refused.txt"
            refused.write_text("Subject: Payments are failing in EU-WEST\n" + bad)
            no = CliRunner().invoke(
                main,
                ["approvals", "approve", held["approval_id"], "--edit", str(refused), "--approver", "maria"],
                env=env,
            )
            assert no.exit_code == 1 and "422" in no.output and f"- {verdict}:" in no.output, no.output

        edit = tmp_path / "edit.txt"
        restoring = "Payments in EU-WEST are failing and we are restoring them now."
        edit.write_text(
            "Subject: Payments are failing in EU-WEST\n"
            + text.replace("Our engineers are working on it now.", restoring)
        )
        cli = CliRunner().invoke(
            main, ["approvals", "approve", held["approval_id"], "--edit", str(edit), "--approver", "maria"], env=env
        )
        assert cli.exit_code == 0, cli.output
        assert "approved by maria (edited)" in cli.output
        again = CliRunner().invoke(main, ["approvals", "reject", held["approval_id"], "--approver", "joe"], env=env)
        assert again.exit_code == 1 and "already approved" in again.output

        mails = mailbox.wait_for(2, 90, worker.check)

        # a version whose operator-given cause names an internal dependency (published as detection does):
        # ungated P3, so only validation stops it; it is held with the verdict and refused unedited
        now = datetime.now(UTC).replace(microsecond=0)
        cause = "ledger-db connection pool exhausted"
        publisher.send("incidents", leaky_version(now, cause))
        publisher.flush()
        wait_until(
            lambda: bool(worker.check() or [a for a in pending(settings) if a.incident_id == "inc_leak"]),
            90,
            "the held draft of the leaky version",
        )
        (leaky,) = [a for a in pending(settings) if a.incident_id == "inc_leak"]
        assert leaky.category == "validation" and cause in leaky.command.text  # shown to the person, not sent
        assert "internal_fact: states 'ledger-db'" in " ".join(leaky.verdicts)
        unchanged = CliRunner().invoke(
            main, ["approvals", "approve", leaky.approval_id, "--approver", "maria"], env=env
        )
        assert unchanged.exit_code == 1 and "internal_fact: states 'ledger-db'" in unchanged.output, unchanged.output

        # a P1 for every reader in US-EAST: one decision approves the version's drafts, each on its own record
        wait_until(lambda: worker.check() or all(in_table(settings, c) for c in US_READERS), 90, "US readers")
        publisher.send("incidents", us_outage(now))
        publisher.flush()
        wait_until(
            lambda: worker.check() or len([a for a in pending(settings) if a.incident_id == "inc_us"]) == 3,
            90,
            "three held drafts of the US P1",
        )
        batch = CliRunner().invoke(
            main,
            [
                "approvals",
                "approve",
                "--incident",
                "inc_us",
                "--version",
                "1",
                "--channel",
                "email",
                "--approver",
                "lee",
            ],
            env=env,
        )
        assert batch.exit_code == 0, batch.output
        assert "inc_us v1 email/en (initial, template): 3 ready" in batch.output
        assert "3 drafts approved by lee" in batch.output
        wait_until(
            lambda: worker.check() or {m["To"] for m in mailbox.snapshot()} >= {f"ops@{c}.example" for c in US_READERS},
            90,
            "the US readers' approved drafts delivered",
        )
        none_left = CliRunner().invoke(
            main, ["approvals", "approve", "--incident", "inc_us", "--version", "1", "--approver", "lee"], env=env
        )
        assert none_left.exit_code == 1 and "no pending drafts of inc_us v1" in none_left.output
        wait_quiet(settings, worker, 90)
    sent = mails[1]
    assert sent["To"] == "ops@c-eu.example" and sent["Subject"] == "Payments are failing in EU-WEST"
    assert "restoring them now" in sent.get_body(("plain",)).get_content()
    to_them = [m for m in mailbox.snapshot() if m["To"] == "ops@c-eu.example"]
    assert to_them == [sent] and not any("ledger-db" in m.as_string() for m in to_them)  # the leak was never sent

    commands = [decode(m.value(), NotificationCommand) for m in read_topic(settings, "notify.email")]
    to_customer = [c for c in commands if c.customer_id == "c-eu"]
    assert [c.approval_id for c in to_customer] == [held["approval_id"]]  # nothing gated went out unapproved
    us = {c.customer_id: c.approval_id for c in commands if c.incident_id == "inc_us"}
    records = [decode(m.value(), Approval) for m in read_topic(settings, "approvals")]
    decided = {a.approval_id: a for a in records if a.incident_id == "inc_us" and a.status is ApprovalStatus.approved}
    assert set(us) == set(US_READERS) and set(us.values()) == set(decided)  # each sent draft its own approval
    assert {a.approver for a in decided.values()} == {"lee"}
    with open_clickhouse(settings.clickhouse_dsn, read_only=True) as wh:
        rows = wh.query(
            "SELECT action, approver, detail['edited'] FROM audit FINAL WHERE stage = 'approve'"
            " AND incident_id != 'inc_us'"
        )
        batch_rows = wh.query(
            "SELECT approver, detail['batch_sample'] FROM audit FINAL"
            " WHERE stage = 'approve' AND action = 'approved' AND incident_id = 'inc_us'"
        )
        ((drafted, edited_text, edited_hash),) = wh.query(
            "SELECT detail['original_text_sha256'], detail['edited_text'], detail['text_sha256'] FROM audit FINAL"
            f" WHERE stage = 'approve' AND action = 'approved' AND detail['approval_id'] = '{held['approval_id']}'"
        )
    # what the approver changed stays on record: the drafted text's hash and the edited text
    assert drafted == hashlib.sha256(text.encode()).hexdigest() and restoring in edited_text
    assert edited_hash == hashlib.sha256(edited_text.encode()).hexdigest() != drafted
    actions = {action: (approver, edited) for action, approver, edited in rows}
    assert actions["held"] == (None, "false")
    assert actions["approved"] == ("maria", "true")
    assert "reminded" in actions
    by_lee = [(who, sample) for who, sample in batch_rows]
    assert len(by_lee) == 3 and {who for who, _ in by_lee} == {"lee"}
    assert len({sample for _, sample in by_lee}) == 1 and by_lee[0][1] in decided  # the one sample lee read

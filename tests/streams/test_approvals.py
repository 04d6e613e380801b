"""Approval gates through the real broker: a held P1 draft reaches the customer only after a
person approves it (here with an edit, from the CLI), the on-call is reminded while it waits,
and the approver and edit are in the audit record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from factories import customer
from forewarn.cli import main
from forewarn.config import Settings, SmtpSettings
from forewarn.db.client import open_clickhouse
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.demo.runner import wait_quiet
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, raw_signal_from_json, read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import Approval, ApprovalStatus, NotificationCommand

from .test_skeleton import alertmanager

pytestmark = pytest.mark.broker

TOKEN = "console-s3cret"
POLICY = """
channels:
  P1: [email]
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


def pending(settings: Settings) -> list[Approval]:
    records = [decode(m.value(), Approval) for m in read_topic(settings, "approvals")]
    return [a for a in records if a.status is ApprovalStatus.pending]


def test_held_p1_draft_is_sent_only_after_approval(
    gated: tuple[Settings, Path], mailbox: Mailbox, tmp_path: Path
) -> None:
    settings, policy = gated
    publisher = Publisher(settings)
    publisher.send("customers", customer("c-eu", regions=("eu-west",)))
    publisher.flush()
    with WorkerProcess(settings, tmp_path / "worker.log", policy=policy) as worker:
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

        edit = tmp_path / "edit.txt"
        edit.write_text(
            "Subject: Payments are failing in EU-WEST\n"
            "Hello c-eu GmbH,\n\nPayments in EU-WEST are failing and we are restoring them now.\n\n"
            f"Live updates: {settings.status_page_url}\n"
        )
        env = settings.to_env()
        cli = CliRunner().invoke(
            main, ["approvals", "approve", held["approval_id"], "--edit", str(edit), "--approver", "maria"], env=env
        )
        assert cli.exit_code == 0, cli.output
        assert "approved by maria (edited)" in cli.output
        again = CliRunner().invoke(main, ["approvals", "reject", held["approval_id"], "--approver", "joe"], env=env)
        assert again.exit_code == 1 and "already approved" in again.output

        mails = mailbox.wait_for(2, 90, worker.check)
        wait_quiet(settings, worker, 90)
    sent = mails[1]
    assert sent["To"] == "ops@c-eu.example" and sent["Subject"] == "Payments are failing in EU-WEST"
    assert "restoring them now" in sent.get_body(("plain",)).get_content()
    assert len(mailbox.snapshot()) == 2

    commands = [decode(m.value(), NotificationCommand) for m in read_topic(settings, "notify.email")]
    to_customer = [c for c in commands if c.customer_id == "c-eu"]
    assert [c.approval_id for c in to_customer] == [held["approval_id"]]  # nothing gated went out unapproved
    with open_clickhouse(settings.clickhouse_dsn, read_only=True) as wh:
        rows = wh.query("SELECT action, approver, detail['edited'] FROM audit FINAL WHERE stage = 'approve'")
    actions = {action: (approver, edited) for action, approver, edited in rows}
    assert actions["held"] == (None, "false")
    assert actions["approved"] == ("maria", "true")
    assert "reminded" in actions

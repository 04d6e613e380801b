"""The approvals console as a person uses it: headless Chromium signs in with the token,
opens the held P1 draft, approves it, and the customer's email arrives at the SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from factories import customer, wait_customers
from forewarn.config import Settings, SmtpSettings
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, raw_signal_from_json, read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import Approval, NotificationCommand

from .webdriver import Browser, available

pytestmark = [pytest.mark.broker, pytest.mark.skipif(not available(), reason="needs chromium and chromedriver")]

TOKEN = "browser-s3cret"
POLICY = "channels:\n  P1: [email]\ngates:\n  default: never\n  categories:\n    regional_outage: always\n"


def alert() -> dict[str, object]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {"alertname": "PaymentsDown", "service": "payments", "region": "eu-west", "severity": "critical"}
    firing = {"status": "firing", "labels": labels, "annotations": {"summary": "Payments API returns 503"}}
    body = {"version": "4", "status": "firing", "alerts": [{**firing, "startsAt": now, "fingerprint": "feedbeef01"}]}
    return {"source": "alertmanager", "received_at": now, "body": body}


def test_person_approves_a_held_p1_draft_in_the_browser_and_it_is_delivered(settings: Settings, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    with Mailbox() as mailbox:
        live = settings.model_copy(
            update={"smtp": SmtpSettings(port=mailbox.port), "web_port": free_port(), "console_token": TOKEN}
        )
        publisher = Publisher(live)
        publisher.send("customers", customer("c-eu", regions=("eu-west",)))
        publisher.flush()
        with WorkerProcess(live, tmp_path / "worker.log", policy=policy) as worker:
            wait_customers(live, worker)
            publisher.send("raw", raw_signal_from_json(alert()))
            publisher.flush()
            wait_until(lambda: bool(worker.check() or read_topic(live, "approvals")), 90, "a held draft")
            (held,) = [decode(m.value(), Approval) for m in read_topic(live, "approvals")]
            assert mailbox.snapshot() == []
            base = f"http://127.0.0.1:{live.web_port}"

            def summary_shown() -> bool:
                page = httpx.get(f"{base}/console/approvals", headers={"Authorization": f"Bearer {TOKEN}"})
                return bool(worker.check()) or "id='summaries'" in page.text

            wait_until(summary_shown, 90, "the running summary on the console")

            browser = Browser(tmp_path / "chromium-profile")
            try:
                browser.open(f"{base}/console/approvals")
                assert browser.url().endswith("/console/login")  # no session: sign in first
                browser.type("#token", TOKEN)
                browser.click("#login")
                assert held.approval_id in browser.text("#approvals")
                known = browser.text("#summaries")  # the running summary beside the drafts
                assert "Payments outage in EU-WEST" in known and "Known:" in known and "Not known yet:" in known
                browser.click(f"a[href='/console/approvals/{held.approval_id}']")
                assert browser.text("#status") == "pending"
                assert "Known:" in browser.text(".summary")  # and on the draft's own page
                browser.type("#approver", "maria")
                browser.click("#approve")
                assert "approved" in browser.text("body")
            finally:
                browser.close()

            (mail,) = mailbox.wait_for(1, 90, worker.check)
    assert mail["To"] == "ops@c-eu.example" and mail["Subject"].startswith("[P1] Investigating: Payments outage")
    sent = [decode(m.value(), NotificationCommand) for m in read_topic(live, "notify.email")]
    assert [c.approval_id for c in sent] == [held.approval_id]

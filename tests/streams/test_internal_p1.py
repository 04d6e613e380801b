"""A P1 through the real broker, seen from inside the company: war-room updates, support packs and
leadership briefings on their cadence to a real SMTP server and a chat webhook, the executive
note held for approval after four hours without an ETA, and no internal fact near a customer.

Incident versions are published straight onto ``incidents`` (the detection contract) with event
times hours apart; the hour the incident reaches between versions is driven by a tick published
onto ``internal.facts``, exactly as the worker's own timer does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from factories import customer, ungated_policy_file, wait_customers
from forewarn.cli import main
from forewarn.config import InternalSettings, Settings, SmtpSettings
from forewarn.db.client import open_clickhouse
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.process import WorkerProcess
from forewarn.processors.draft import Draft
from forewarn.processors.ids import stable_id
from forewarn.processors.validate import Expectations, validate
from forewarn.publish import Publisher, group_caught_up, read_topic, wait_until
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import (
    Approval,
    ApprovalStatus,
    Channel,
    FactKind,
    Incident,
    IncidentKind,
    InternalFact,
    Phase,
    Severity,
)
from forewarn.streams.internal import fact_partition

pytestmark = pytest.mark.broker

WAR_ROOM, SUPPORT, EXEC = "war-room@corp.example", "support@corp.example", "exec@corp.example"
CUSTOMERS = {
    "c-de": customer("c-de", language="de"),
    "c-fr": customer("c-fr", plan="starter", language="fr"),
    "c-ent": customer("c-ent", plan="enterprise", enterprise=True),
    "c-us": customer("c-us", regions=("us-east",)),
}
SIGNALS = ["evt_am_7f3a9c01", "evt_pd_118b2e02"]
RULE = "outage_window_5m_p1"


class Webhook:
    """A chat webhook on loopback that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/war-room"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


def incident(version: int, minutes: float, t0: datetime, **extra: Any) -> Incident:
    fields: dict[str, Any] = {
        "incident_id": "inc_p1_e2e",
        "version": version,
        "dedup_key": "payments|eu-west|outage",
        "title": "Payments outage in EU-WEST",
        "service": "payments",
        "region": "eu-west",
        "symptom": "outage",
        "phase": Phase.investigating,
        "severity": Severity.P1,
        "kind": IncidentKind.regional_outage,
        "change": "opened" if version == 1 else "update",
        "opened_at": t0,
        "updated_at": t0 + timedelta(minutes=minutes),
        "first_signal_at": t0 - timedelta(minutes=1),
        "rule": RULE,
        "signal_ids": SIGNALS,
        "affected_services": ["payments"],
    }
    fields.update(extra)
    return Incident(**fields)


def to(box: Mailbox, address: str) -> list[Any]:
    return [m for m in box.snapshot() if address in str(m["To"])]


def subjects(box: Mailbox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in to(box, address)]


def test_p1_internal_support_and_executive_messages_on_cadence(
    settings: Settings, mailbox: Mailbox, webhook: Webhook, tmp_path: Path
) -> None:
    pipeline = settings.model_copy(
        update={
            "smtp": SmtpSettings(port=mailbox.port),
            "web_port": free_port(),
            "console_token": "oncall-token",
            "internal": InternalSettings(
                war_room_emails=[WAR_ROOM],
                war_room_webhook=webhook.url,
                support_emails=[SUPPORT],
                leadership_emails=[EXEC],
            ),
        }
    )
    t0 = datetime.now(UTC).replace(microsecond=0)
    publisher = Publisher(pipeline)
    for segment in CUSTOMERS.values():
        publisher.send("customers", segment)
    publisher.flush()

    def expect(address: str, count: int, worker: WorkerProcess) -> list[str]:
        wait_until(lambda: worker.check() or len(to(mailbox, address)) >= count, 120, f"{count} mails to {address}")
        return subjects(mailbox, address)

    with WorkerProcess(pipeline, tmp_path / "worker.log", policy=ungated_policy_file(tmp_path)) as worker:
        wait_customers(pipeline, worker)
        publisher.send("incidents", incident(1, 0, t0))
        publisher.flush()
        assert len(expect(WAR_ROOM, 1, worker)) >= 1
        expect(SUPPORT, 1, worker)
        expect(EXEC, 1, worker)

        publisher.send("incidents", incident(2, 70, t0, phase=Phase.identified, change="phase"))
        publisher.flush()
        expect(SUPPORT, 2, worker)
        expect(EXEC, 2, worker)

        at = t0 + timedelta(minutes=125)  # the clock reaches hour 2 with nothing else happening
        for partition in range(pipeline.partitions):
            tick = InternalFact(fact_id=stable_id("test-tick", partition), kind=FactKind.tick, at=at)
            publisher.send_bytes("internal.facts", encode(tick), b"", partition=partition)
        publisher.flush()
        expect(EXEC, 3, worker)

        # 4 h, still no ETA: detection flags the extended outage on a new version
        publisher.send("incidents", incident(3, 245, t0, phase=Phase.identified, flags=["extended_outage"]))
        publisher.flush()
        expect(EXEC, 5, worker)

        # The on-call approves the held executive note; only then does it reach the enterprise account.
        def held_note() -> list[Approval]:
            found = [decode(m.value(), Approval) for m in read_topic(pipeline, "approvals")]
            return [a for a in found if a.category == "executive_note"]

        wait_until(lambda: worker.check() or bool(held_note()), 60, "the executive note to be held")
        (note,) = held_note()
        note_id = f"<{note.command.notification_id}@forewarn>"
        assert not [m for m in mailbox.snapshot() if m["Message-ID"] == note_id]  # held, not sent
        approved = CliRunner().invoke(
            main, ["approvals", "approve", note.approval_id, "--approver", "ann"], env=pipeline.to_env()
        )
        assert approved.exit_code == 0, approved.output
        wait_until(
            lambda: worker.check() or any(m["Message-ID"] == note_id for m in mailbox.snapshot()),
            60,
            "the approved executive note to be delivered",
        )

        resolved_at = t0 + timedelta(minutes=250)
        publisher.send("incidents", incident(4, 250, t0, phase=Phase.resolved, resolved_at=resolved_at))
        publisher.flush()
        expect(EXEC, 6, worker)
        expect(SUPPORT, 3, worker)
        expect(WAR_ROOM, 5, worker)
        wait_until(
            lambda: worker.check() or group_caught_up(pipeline, pipeline.app_id, WATCHED), 120, "the worker to drain"
        )
    publisher.close()

    war_room, support, leadership = subjects(mailbox, WAR_ROOM), subjects(mailbox, SUPPORT), subjects(mailbox, EXEC)
    assert sorted(war_room) == sorted(
        [
            *(f"[internal][P1] Payments outage in EU-WEST — {p} (v{v})" for v, p in _phases()),
            "[internal] Post-mortem draft ready: Payments outage in EU-WEST",
        ]
    )
    assert sorted(support) == sorted(
        f"[support] Known issue: Payments outage in EU-WEST — {p}" for p in ("investigating", "identified", "resolved")
    )
    assert sorted(leadership) == sorted(
        [
            *(f"[briefing][P1] Payments outage in EU-WEST — hour {h}" for h in (0, 1, 2, 4)),
            "[briefing][P1] Extended outage: Payments outage in EU-WEST",
            "[briefing][P1] Resolved: Payments outage in EU-WEST",
        ]
    )
    assert len(webhook.posts) == len(war_room)  # the war room's chat got each one too

    first_update = to(mailbox, WAR_ROOM)[0].get_content()
    for fact in (*SIGNALS, RULE, "by plan:", "by language:"):
        assert fact in first_update  # the internal facts are there, inside
    pack = next(m for m in to(mailbox, SUPPORT) if "investigating" in str(m["Subject"])).get_content()
    assert "Canned response (de)" in pack and "Canned response (fr)" in pack and "Canned response (en)" in pack
    assert "c-ent GmbH (c-ent)" in pack and "c-us" not in pack

    internal_addresses = {WAR_ROOM, SUPPORT, EXEC}
    customer_mail = [m for m in mailbox.snapshot() if str(m["To"]) not in internal_addresses]
    assert customer_mail, "customers were told too"
    assert {str(m["To"]) for m in customer_mail} <= {f"ops@{c}.example" for c in ("c-de", "c-fr", "c-ent")}
    internal_subjects = set(war_room + support + leadership)
    terms = (*SIGNALS, RULE, WAR_ROOM, SUPPORT, EXEC, "Canned response", "by plan")
    for mail in customer_mail:
        assert str(mail["Subject"]) not in internal_subjects
        words = Draft("any", str(mail["Subject"]), mail.get_body(("plain",)).get_content(), None)
        expect_ = Expectations(Channel.email, "en", pipeline.status_page_url, never_mention=terms)
        leaks = [v for v in validate(words, expect_) if "never to mention" in v.detail]
        assert leaks == [], f"{mail['To']}: {leaks}"

    approvals = [decode(m.value(), Approval) for m in read_topic(pipeline, "approvals")]
    held = [a for a in approvals if a.category == "executive_note"]
    assert [(a.command.customer_id, a.status) for a in held] == [
        ("c-ent", ApprovalStatus.pending),
        ("c-ent", ApprovalStatus.approved),
    ]
    assert held[0].command.recipients == ["ops@c-ent.example"] and held[0].command.template == "executive_note"
    assert held[1].approver == "ann"
    notes = [m for m in customer_mail if m["Message-ID"] == f"<{held[0].command.notification_id}@forewarn>"]
    assert [str(m["To"]) for m in notes] == ["ops@c-ent.example"]  # once, after the approval

    draft = CliRunner().invoke(main, ["postmortem", "draft", "inc_p1_e2e"], env=pipeline.to_env())
    assert draft.exit_code == 0, draft.output
    with open_clickhouse(pipeline.clickhouse_dsn, read_only=True) as wh:
        sent = wh.query(
            "SELECT notification_id FROM audit FINAL WHERE incident_id = 'inc_p1_e2e' "
            "AND stage = 'deliver' AND action = 'delivered'"
        )
        steps = wh.query(
            "SELECT notification_id, action, approver FROM audit FINAL WHERE stage = 'approve' ORDER BY recorded_at"
        )
    assert len(sent) == len(mailbox.snapshot()) + len(webhook.posts)  # every mail and post is on record
    assert f"## Appendix A: messages sent ({len(sent)})" in draft.output
    for (notification_id,) in sent:
        assert f"| {notification_id} |" in draft.output
    assert [(a, who) for _, a, who in steps] == [("held", None), ("approved", "ann")]
    assert f"## Appendix B: approvals ({len(steps)})" in draft.output
    for notification_id, action, _ in steps:  # every approval step on record is in the draft
        assert f"| {action} | executive_note | email | {notification_id} |" in draft.output
    assert "v4 update: phase resolved" in draft.output and "Time to resolve" in draft.output


WATCHED = ("incidents", "targeting", "internal.facts", "approvals", "notify.internal", "notify.email", "audit")


def _phases() -> list[tuple[int, str]]:
    return [(1, "investigating"), (2, "identified"), (3, "identified"), (4, "resolved")]


def test_facts_partition_is_stable() -> None:
    assert fact_partition("inc_p1_e2e", 2) == fact_partition("inc_p1_e2e", 2) in (0, 1)

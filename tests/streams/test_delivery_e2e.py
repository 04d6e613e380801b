"""Delivery through the real broker: every channel exactly once per customer per update (the
configured helpdesk included: one problem ticket, a linked ticket per affected organisation, solved
on resolution), a crash mid-delivery with no duplicate and no loss, and commands that keep failing
dead-lettered, then redriven from the CLI once the provider is back: one delivery each, uncertain ones
only as the person who checked the provider says."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import clickhouse_connect
import httpx
import pytest
from click.testing import CliRunner

from factories import SHORT_SESSION, alertmanager_line, command, customer, wait_customers
from forewarn.cli import main
from forewarn.commands.audit import read_record
from forewarn.config import ChannelSettings, DeliverySettings, Settings, SmtpSettings
from forewarn.db.client import open_clickhouse
from forewarn.demo.mailbox import Mailbox, free_port
from forewarn.operator import postmortem_published
from forewarn.process import WorkerProcess
from forewarn.publish import Publisher, group_caught_up, raw_signal_from_json, read_topic, wait_until
from forewarn.schemas.codec import decode
from forewarn.schemas.models import (
    AuditRecord,
    Channel,
    Contacts,
    DeadLetter,
    DeliveryReceipt,
    DeliveryStatus,
    NotificationCommand,
    Phase,
)
from http_recorder import HttpRecorder

pytestmark = pytest.mark.broker

CHANNELS = ["email", "inapp", "slack", "teams", "sms", "social", "statuspage", "helpdesk"]
NOTIFY = [f"notify.{c}" for c in CHANNELS]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def recorder() -> Iterator[HttpRecorder]:
    with HttpRecorder(organisations={"c-ent": 501, "c-pro": 502}) as server:
        yield server


@pytest.fixture
def delivering(settings: Settings, mailbox: Mailbox, recorder: HttpRecorder) -> Settings:
    url = recorder.url
    providers = ChannelSettings(
        inapp_push_url=f"{url}/push",
        sms_url=url,
        sms_account_sid="AC1",
        sms_auth_token="tok",
        social_webhook_url=f"{url}/social",
        helpdesk_url=url,
        helpdesk_email="bot@x.example",
        helpdesk_token="tk",
        statuspage_api_url=f"{url}/v1",
        statuspage_page_id="pg",
        statuspage_api_key="k",
    )
    return settings.model_copy(
        update={
            "smtp": SmtpSettings(port=mailbox.port),
            "web_port": free_port(),
            "channels": CHANNELS,
            "providers": providers,
            "delivery": DeliverySettings(base_delay_s=0.05, breaker_cooldown_s=0.5, rate_per_s=200),
        }
    )


alert = alertmanager_line


def commands_on(settings: Settings, channel: str) -> dict[str, NotificationCommand]:
    return {
        c.notification_id: c
        for c in (decode(m.value(), NotificationCommand) for m in read_topic(settings, f"notify.{channel}"))
    }


def received_ids(channel: str, mailbox: Mailbox, recorder: HttpRecorder) -> list[str]:
    """The notification id of every message the local servers accepted on one channel."""
    r = recorder
    match channel:
        case "email":
            return [m["Message-ID"].strip("<>").split("@")[0] for m in mailbox.snapshot()]
        case "inapp":
            return [q.json()["id"] for q in r.received("/push")]
        case "slack":
            return [q.json()["blocks"][2]["elements"][0]["text"].split(" · ")[1] for q in r.received("/slack/c-ent")]
        case "teams":
            return [
                q.json()["attachments"][0]["content"]["body"][2]["text"].split(" · ")[1]
                for q in r.received("/teams/c-ent")
            ]
        case "social":
            return [q.headers["Idempotency-Key"] for q in r.received("/social")]
    raise AssertionError(channel)


def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "channels:\n  P1: [email, inapp, statuspage, sms, social, slack, teams]\n"
        "  P2: [email, inapp, statuspage]\n  P3: [inapp, statuspage]\n  P4: [statuspage]\n"
        "gates:\n  default: never\n"
    )
    return path


def enterprise() -> object:
    """Without chat webhooks: the segment table accepts only https:// ones, and the recorder speaks
    plain HTTP; the Slack and Teams sinks are proven end to end in the crash test instead."""
    contacts = Contacts(emails=["ops@c-ent.example"], phones=["+4915100000001"], inapp_user_ids=["u-ent"])
    return customer("c-ent", enterprise=True, contacts=contacts)


def caught_up(settings: Settings, worker: WorkerProcess) -> bool:
    worker.check()
    return group_caught_up(settings, settings.app_id, ["incidents", *NOTIFY, "audit"])


def postmortems(settings: Settings, channel: str) -> list[NotificationCommand]:
    found = [c for c in commands_on(settings, channel).values() if c.template == "postmortem"]
    return sorted(found, key=lambda c: c.notification_id)  # partitions are read in no set order


def owes_postmortem(settings: Settings, incident_id: str) -> bool:
    """The incident is in the warehouse's post-mortem list, which the CLI reads before publishing."""
    return bool(read_record(settings, "SELECT 1 FROM postmortems WHERE incident_id = {i:String}", {"i": incident_id}))


def drained(settings: Settings, worker: WorkerProcess) -> bool:
    """Every record on the way from an operator command to a delivery has been handled."""
    worker.check()
    return group_caught_up(
        settings, settings.app_id, ["operator", "control", "incidents", "targeting", *NOTIFY, "audit"]
    )


def test_p1_regional_incident_reaches_every_channel_once_per_customer_per_update(
    delivering: Settings, mailbox: Mailbox, recorder: HttpRecorder, tmp_path: Path
) -> None:
    publisher = Publisher(delivering)
    for segment in (enterprise(), customer("c-pro"), customer("c-us", regions=("us-east",))):
        publisher.send("customers", segment)  # type: ignore[arg-type]
    publisher.flush()
    with WorkerProcess(delivering, tmp_path / "worker.log", policy=policy_file(tmp_path)) as worker:
        wait_customers(delivering, worker)
        publisher.send("raw", raw_signal_from_json(alert("firing")))
        publisher.flush()
        mailbox.wait_for(2, 120, worker.check)
        recorder.wait_for(1, 120, "/social", worker.check)
        wait_until(lambda: caught_up(delivering, worker), 120, "every channel to deliver the first update")

        first = {ch: commands_on(delivering, ch) for ch in CHANNELS}
        assert {c.customer_id for c in first["email"].values()} == {"c-ent", "c-pro"}  # eu-west only
        assert {c.customer_id for c in first["inapp"].values()} == {"c-ent", "c-pro"}
        assert {c.customer_id for c in first["sms"].values()} == {"c-ent"}  # enterprise only
        for channel in ("social", "statuspage"):
            assert {c.customer_id for c in first[channel].values()} == {"public"}
        # the policy's matrix names no helpdesk: it is fed because the provider is configured
        assert {c.customer_id for c in first["helpdesk"].values()} == {"c-ent", "c-pro"}

        # a ticket c-pro opens now is a known issue, answered with what c-pro was told by email
        flagged = httpx.post(
            f"http://127.0.0.1:{delivering.web_port}/api/helpdesk/webhook",
            json={"ticket_id": 4242, "customer_id": "c-pro"},
            timeout=30,
        ).json()
        assert (
            flagged["known_issue"] is True and flagged["incident_id"] == next(iter(first["email"].values())).incident_id
        )
        (answer,) = recorder.received("/api/v2/tickets/4242.json")
        (told,) = [c for c in first["email"].values() if c.customer_id == "c-pro"]
        assert answer.json()["ticket"]["comment"] == {"body": told.text, "public": True}

        # while the worker owns the embedded store, analysts query it through the worker's port
        client = clickhouse_connect.get_client(host="127.0.0.1", port=delivering.web_port)
        delivered = client.query(
            "SELECT channel, count() FROM audit FINAL WHERE stage = {s:String} GROUP BY channel",
            parameters={"s": "deliver"},
        )
        assert dict(delivered.result_rows).get("email") == 2
        client.close()

        publisher.send("raw", raw_signal_from_json(alert("resolved")))
        publisher.flush()
        wait_until(lambda: len(commands_on(delivering, "social")) >= 2, 120, "the resolution update")
        wait_until(lambda: caught_up(delivering, worker), 120, "every channel to deliver the resolution")
        client = clickhouse_connect.get_client(host="127.0.0.1", port=delivering.web_port)
        known = client.query("SELECT count() FROM audit FINAL WHERE stage = 'helpdesk' AND action = 'known_issue'")
        client.close()

        # the post-mortem, published from the CLI, reaches whoever was told: once, never c-us
        incident_id = told.incident_id
        env = delivering.to_env()
        wait_until(lambda: owes_postmortem(delivering, incident_id), 120, "the post-mortem to be owed")
        url = f"https://blog.example.com/postmortems/{incident_id}"  # not the status page: the report's own
        published = CliRunner().invoke(
            main, ["postmortem", "publish", incident_id, "--author", "ana", "--url", url], env=env
        )
        assert published.exit_code == 0, published.output
        wait_until(lambda: len(postmortems(delivering, "email")) >= 2, 120, "the post-mortem emails")
        wait_until(lambda: caught_up(delivering, worker), 120, "every channel to deliver the post-mortem")
        sent = {ch: postmortems(delivering, ch) for ch in CHANNELS}
        again = postmortem_published(incident_id, url, issued_at=datetime.now(UTC), issued_by="bo")
        publisher.send("operator", again)
        publisher.flush()  # published again: detection already answered it, so nothing new is sent
        wait_until(lambda: drained(delivering, worker), 120, "the repeated post-mortem to be handled")
        assert {ch: postmortems(delivering, ch) for ch in CHANNELS} == sent
    assert known.result_rows == [(1,)]  # the flagged ticket is in the record
    assert Counter(c.customer_id for c in sent["email"]) == {"c-ent": 1, "c-pro": 1}
    assert Counter(c.customer_id for c in sent["inapp"]) == {"c-ent": 1, "c-pro": 1}
    assert Counter(c.customer_id for c in sent["statuspage"]) == {"public": 1}
    assert all(not sent[ch] for ch in ("sms", "social", "helpdesk", "slack", "teams"))  # a report, not an alert
    assert all("published our post-incident report" in c.text for c in sent["email"])
    # the delivered post-mortem emails link the report (text and HTML) besides the status page
    told_ids = {c.notification_id for c in sent["email"]}
    delivered = [m for m in mailbox.snapshot() if m["Message-ID"].strip("<>").split("@")[0] in told_ids]
    assert len(delivered) == 2
    for message in delivered:
        bodies = {
            part.get_content_type(): part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
            for part in message.walk()
            if part.get_content_type() in ("text/plain", "text/html")
        }
        assert f"Read the report: {url}" in bodies["text/plain"], bodies["text/plain"]
        assert f'<a href="{url}">{url}</a>' in bodies["text/html"]
        assert delivering.status_page_url in bodies["text/plain"]
    assert all(c.text.count(url) == 1 for c in sent["inapp"])

    for channel in ("email", "inapp", "social"):
        expected = commands_on(delivering, channel)
        got = received_ids(channel, mailbox, recorder)
        assert sorted(got) == sorted(expected), channel  # every command delivered, none twice
        updates = Counter((c.customer_id, c.incident_version) for c in expected.values())
        assert set(updates.values()) == {1}, channel  # one message per customer per update
        versions = 2 if channel == "social" else 3  # the post-mortem: email and in-app, not social
        assert len({c.incident_version for c in expected.values()}) == versions, channel

    sms = recorder.received("/2010-04-01/Accounts/AC1/Messages.json")
    assert len(sms) == len(commands_on(delivering, "sms")) == 2
    assert {q.form()["To"] for q in sms} == {"+4915100000001"}

    created = recorder.received("/v1/pages/pg/incidents", method="POST")
    patched = [q for q in recorder.received(method="PATCH") if q.path.startswith("/v1/pages/pg/incidents/")]
    assert len(created) == 1 and [q.json()["incident"]["status"] for q in patched] == ["resolved", "resolved"]

    helpdesk = commands_on(delivering, "helpdesk")
    assert Counter((c.customer_id, c.phase) for c in helpdesk.values()) == {
        ("c-ent", Phase.investigating): 1,
        ("c-pro", Phase.investigating): 1,
        ("c-ent", Phase.resolved): 1,
        ("c-pro", Phase.resolved): 1,
    }
    tickets = [q.json()["ticket"] for q in recorder.received("/api/v2/tickets.json")]
    assert [t["type"] for t in tickets] == ["problem", "incident", "incident"]  # one problem, one per organisation
    assert sorted(t["organization_id"] for t in tickets[1:]) == [501, 502]
    problem = tickets[0]
    assert problem["tags"] == ["forewarn", problem["external_id"]] and problem["priority"] == "urgent"
    assert "forewarn opened this ticket" in problem["comment"]["body"] and not problem["comment"]["public"]
    receipts = [decode(m.value(), DeliveryReceipt) for m in read_topic(delivering, "receipts")]
    assert {r.status for r in receipts} == {DeliveryStatus.delivered}
    # receipts name the linked tickets (first update) and the problem ticket (resolution)
    opened = {r.provider_message_id for r in receipts if r.channel is Channel.helpdesk}
    last = max(c.incident_version for c in helpdesk.values())
    (problem,) = {
        r.provider_message_id for r in receipts if r.channel is Channel.helpdesk and r.incident_version == last
    }
    assert len(opened) == 3 and answer.json()["ticket"]["problem_id"] == int(problem or 0)
    (solved,) = recorder.received("/api/v2/tickets/update_many.json")  # the resolution solves them all, once
    assert set(solved.query["ids"].split(",")) == {*opened, "4242"}
    assert solved.json() == {"ticket": {"status": "solved"}}


def test_worker_killed_mid_delivery_delivers_the_rest_without_duplicates(
    delivering: Settings, mailbox: Mailbox, recorder: HttpRecorder, tmp_path: Path
) -> None:
    recorder.latency_s = 0.03  # slow enough that the kill lands mid-way
    publisher = Publisher(delivering)
    expected: dict[str, set[str]] = {"email": set(), "slack": set(), "teams": set(), "social": set()}
    for i in range(120):
        for channel in expected:
            nid = f"ntf_{channel}_{i:03d}"
            recipients = {
                "email": [f"ops{i}@c.example"],
                "slack": [f"{recorder.url}/slack/c-ent"],
                "teams": [f"{recorder.url}/teams/c-ent"],
                "social": ["public"],
            }[channel]
            cmd = command(nid).model_copy(update={"channel": Channel(channel), "recipients": recipients})
            publisher.send(f"notify.{channel}", cmd)
            expected[channel].add(nid)
    publisher.flush()

    worker = WorkerProcess(delivering, tmp_path / "worker.log", roles="sinks,audit", extra_env=SHORT_SESSION).start()
    try:
        recorder.wait_for(40, 120, None, worker.check)
        worker.kill()  # SIGKILL: no offset commit, no clean shutdown
        partial = len(recorder.received()) + len(mailbox.snapshot())
        assert partial < 480, "the worker finished before the crash; the test proves nothing"
    finally:
        worker.kill()
    with WorkerProcess(delivering, tmp_path / "worker-2.log", roles="sinks,audit", extra_env=SHORT_SESSION) as again:
        recorder.wait_for(120, 180, "/social", again.check)
        wait_until(lambda: caught_up(delivering, again), 180, "the restarted worker to commit everything")
    # every send's audit row once, whatever Kafka redelivered to the new audit writer (raw, no FINAL);
    # test_delivery_audit_outage kills the audit writer between storing and committing on purpose
    with open_clickhouse(delivering.clickhouse_dsn) as warehouse:
        total, distinct = warehouse.query("SELECT count(), uniqExact(audit_id) FROM audit").rows[0]
    assert total == distinct > 0

    letters = [decode(m.value(), DeadLetter) for m in read_topic(delivering, "deadletter")]
    uncertain = {
        decode(letter.value or b"", NotificationCommand).notification_id
        for letter in letters
        if letter.error_type == "delivery_uncertain"
    }
    assert {letter.error_type for letter in letters} <= {"delivery_uncertain"}
    for channel, ids in expected.items():
        got = received_ids(channel, mailbox, recorder)
        repeated = [nid for nid, n in Counter(got).items() if n > 1]
        assert repeated == [], f"{channel} delivered twice: {repeated}"
        held = {nid for nid in uncertain if nid in ids}
        # nothing lost: delivered, or (at most the one send the crash interrupted) held for a person
        assert set(got) | held == ids, channel
        assert len(held) <= (0 if channel == "social" else 1), channel  # social resends under its key


def slack_command(nid: str, url: str) -> NotificationCommand:
    return command(nid).model_copy(update={"channel": Channel.slack, "recipients": [url]})


def redrive(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(main, ["deadletter", "redrive", *args], env=settings.to_env())
    assert result.exit_code == 0, result.output
    return result.output


def receipts_of(settings: Settings) -> dict[str, list[DeliveryReceipt]]:
    out: dict[str, list[DeliveryReceipt]] = {}
    for m in read_topic(settings, "receipts"):
        receipt = decode(m.value(), DeliveryReceipt)
        out.setdefault(receipt.notification_id, []).append(receipt)
    return out


def test_commands_that_keep_failing_are_dead_lettered_with_the_last_error_and_redriven_once(
    delivering: Settings, recorder: HttpRecorder, tmp_path: Path
) -> None:
    failing = delivering.model_copy(
        update={"delivery": DeliverySettings(attempts=2, base_delay_s=0.01, breaker_cooldown_s=0.2)}
    )
    recorder.fail("/slack/broken", 500, times=1000)
    recorder.fail("/slack/lost", 504)  # a lost answer: Slack may have posted it
    recorder.fail("/slack/seen", 504)
    publisher = Publisher(failing)
    for i in range(3):
        publisher.send("notify.slack", slack_command(f"ntf_broken_{i}", f"{recorder.url}/slack/broken"))
    publisher.send_bytes("notify.slack", b"not avro", key=b"x")
    publisher.send("notify.slack", slack_command("ntf_lost", f"{recorder.url}/slack/lost"))
    publisher.send("notify.slack", slack_command("ntf_seen", f"{recorder.url}/slack/seen"))
    publisher.flush()
    env = failing.to_env()
    with WorkerProcess(failing, tmp_path / "worker.log", roles="sinks,audit") as worker:
        wait_until(lambda: len(read_topic(failing, "deadletter")) >= 6, 120, "six dead letters")
        wait_until(lambda: caught_up(failing, worker), 120, "the worker to commit")
        letters = [decode(m.value(), DeadLetter) for m in read_topic(failing, "deadletter")]
        failed = [letter for letter in letters if letter.error_type == "delivery_failed"]
        assert len(failed) == 3 and {letter.stage for letter in failed} == {"deliver"}
        assert all(re.search(r"gave up after 2 attempt\(s\): slack: POST .* 500", letter.reason) for letter in failed)
        assert {decode(letter.value or b"", NotificationCommand).notification_id for letter in failed} == {
            f"ntf_broken_{i}" for i in range(3)
        }
        others = Counter(letter.error_type for letter in letters if letter.error_type != "delivery_failed")
        assert others == {"undecodable": 1, "delivery_uncertain": 2}
        receipts = [decode(m.value(), DeliveryReceipt) for m in read_topic(failing, "receipts")]
        assert [r.status for r in receipts] == [DeliveryStatus.dead_lettered] * 5
        assert len(recorder.all_requests("/slack/broken")) == 6  # two attempts each, then no more
        assert len(recorder.all_requests("/slack/lost")) == 1  # not retried: it may have landed
        where = {
            decode(letter.value or b"", NotificationCommand).notification_id: f"{letter.topic}:{letter.partition}:"
            f"{letter.offset}"
            for letter in letters
            if letter.error_type == "delivery_uncertain"
        }
        listed = CliRunner().invoke(main, ["deadletter", "list", "--stage", "deliver"], env=env)
        assert listed.exit_code == 0 and listed.output.startswith("6 dead letter(s) match (of 6 in the topic)")
        assert where["ntf_lost"] in listed.output
        shown = CliRunner().invoke(main, ["deadletter", "show", where["ntf_lost"]], env=env)
        assert shown.exit_code == 0 and "original (NotificationCommand):" in shown.output
        assert f"forewarn deadletter redrive {where['ntf_lost']} --not-delivered|--delivered --by NAME" in shown.output

        # the provider is back; uncertain letters in the selection refuse the redrive outright
        recorder.recover("/slack/broken")
        refused = CliRunner().invoke(main, ["deadletter", "redrive", "--stage", "deliver", "--by", "ana"], env=env)
        assert refused.exit_code == 1 and "are delivery_uncertain" in refused.output
        assert "redrove 3 dead letter(s)" in redrive(failing, "--type", "delivery_failed", "--by", "ana")
        redrive(failing, where["ntf_lost"], "--not-delivered", "--by", "ana")  # checked Slack: not there
        redrive(failing, where["ntf_seen"], "--delivered", "--by", "ana")  # checked Slack: it is there
        recorder.wait_for(3, 120, "/slack/broken", worker.check)
        recorder.wait_for(1, 120, "/slack/lost", worker.check)
        wait_until(lambda: caught_up(failing, worker), 120, "the redriven commands to be handled")

        # redriving everything again, uncertain ones as not delivered, sends nothing more
        redrive(failing, "--all", "--not-delivered", "--by", "bo")
        wait_until(lambda: caught_up(failing, worker), 120, "the second redrive to be handled")
    assert len(recorder.received("/slack/broken")) == 3 and len(recorder.received("/slack/lost")) == 1
    assert len(recorder.all_requests("/slack/seen")) == 1 and not recorder.received("/slack/seen")  # the 504 only
    assert len(read_topic(failing, "deadletter")) == 6  # nothing failed again
    statuses = {nid: [r.status for r in rs] for nid, rs in receipts_of(failing).items()}
    once = [DeliveryStatus.dead_lettered, DeliveryStatus.delivered, DeliveryStatus.duplicate]
    assert statuses == {nid: once for nid in [*(f"ntf_broken_{i}" for i in range(3)), "ntf_lost", "ntf_seen"]}
    (seen,) = [r for r in receipts_of(failing)["ntf_seen"] if r.status is DeliveryStatus.delivered]
    assert seen.attempts == 0 and seen.provider_response.startswith("marked delivered by ana")
    audit = [decode(m.value(), AuditRecord) for m in read_topic(failing, "audit")]
    redriven = Counter((a.approver, a.action) for a in audit if a.stage == "redrive")
    assert redriven == {
        ("ana", "redriven"): 3,
        ("ana", "redriven_not_delivered"): 1,
        ("ana", "marked_delivered"): 1,
        ("bo", "redriven"): 3,
        ("bo", "redriven_not_delivered"): 2,
    }

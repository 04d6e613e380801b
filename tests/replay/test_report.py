"""The replay report without a broker: each suppressed (and held) message says why, in words a
person reads, and held-back rows (pseudonymised in the audit) come back with the customer's id
and language from the replay's own customer table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from factories import T0, command, customer
from fanout_support import incident
from forewarn import replay as replay_module
from forewarn.config import Settings
from forewarn.processors.approve import held
from forewarn.processors.suppressed import UNREACHABLE, suppressed_audit, unlisted_audit
from forewarn.replay import approval_reason, collect, failed_rules, render_html, verdict_reason
from forewarn.schemas.codec import encode
from forewarn.schemas.models import Approval, ApprovalStatus, Channel, NotificationCommand, Phase, Record


class Stored:
    def __init__(self, record: Record | None) -> None:
        self._value = None if record is None else encode(record)

    def value(self) -> bytes | None:
        return self._value


def on_topics(monkeypatch: pytest.MonkeyPatch, topics: Mapping[str, Sequence[Record | None]]) -> None:
    def read(settings: Settings, short_topic: str, timeout_s: float = 30.0) -> list[Any]:
        return [Stored(r) for r in topics.get(short_topic, [])]

    monkeypatch.setattr(replay_module, "read_topic", read)


def approval(status: ApprovalStatus, verdicts: Sequence[str] = (), approver: str | None = None) -> Approval:
    cmd = command("ntf_held").model_copy(update={"customer_id": "cus-de", "language": "de"})
    pending = held(cmd, incident(1), "regional_outage: always approved by a person", list(verdicts), T0)
    return pending.model_copy(update={"status": status, "approver": approver})


@pytest.mark.parametrize(
    ("verdict", "reason"),
    [
        ("within_cadence", "cadence: too soon"),
        ("no_news", "cadence: no news"),
        ("cap_reached", "cadence: capped"),
        ("never_told", "never told"),
        (UNREACHABLE, "unreachable: no address on this channel"),
        ("something_new", "something_new"),
    ],
)
def test_verdicts_read_as_reasons(verdict: str, reason: str) -> None:
    assert verdict_reason(verdict) == reason


def test_approvals_read_as_reasons() -> None:
    assert approval_reason(approval(ApprovalStatus.rejected, approver="maria")) == "rejected by maria"
    assert approval_reason(approval(ApprovalStatus.expired)) == "approval expired"
    assert approval_reason(approval(ApprovalStatus.pending)) == (
        "awaiting approval: regional_outage: always approved by a person"
    )
    failed = ["length: 420 characters, at most 320", "placeholder: {eta}", "length: second part"]
    assert failed_rules(failed) == "length, placeholder"
    assert approval_reason(approval(ApprovalStatus.pending, failed)) == "failed validation: length, placeholder"
    assert approval_reason(approval(ApprovalStatus.rejected, failed, "maria")) == (
        "rejected by maria; failed validation: length, placeholder"
    )
    assert approval_reason(approval(ApprovalStatus.approved)) is None


def test_collect_lists_sent_held_and_suppressed_with_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(dry_run=True, report_suppressed=True)
    key = settings.pseudonym_key
    v1, v2 = incident(1), incident(2, minute=5, phase=Phase.identified)
    sent = command("ntf_sent").model_copy(update={"customer_id": "cus-en"})
    rejected = approval(ApprovalStatus.rejected, approver="maria")
    de = customer("cus-de", language="de")
    on_topics(
        monkeypatch,
        {
            "incidents": [v2, v1],
            "notify.email": [sent],
            "approvals": [rejected.model_copy(update={"status": ApprovalStatus.pending}), rejected],
            "customers": [customer("cus-en"), de, customer("cus-gone"), None],
            "audit": [
                suppressed_audit(v2, "cus-de", Channel.email, "within_cadence", key, T0),
                suppressed_audit(v2, "cus-de", Channel.email, "within_cadence", key, T0),  # re-sent: listed once
                suppressed_audit(v2, "cus-en", Channel.sms, UNREACHABLE, key, T0),
                unlisted_audit(v2, 0, Counter({"within_cadence": 3}), T0),
                unlisted_audit(v2, 1, Counter({"no_news": 1, UNREACHABLE: 1}), T0),
            ],
        },
    )
    report = collect(settings)
    assert [(i["version"], i["suppressed_unlisted"]) for i in report.incidents] == [(1, 0), (2, 5)]
    shown = [
        (m["status"], m["customer_id"], m["channel"], m["language"], m["version"], m["reason"]) for m in report.messages
    ]
    assert shown == [
        ("sent", "cus-en", "email", "en", 1, None),
        ("suppressed", "cus-de", "email", "de", 1, "rejected by maria"),
        ("suppressed", "cus-de", "email", "de", 2, "cadence: too soon"),
        ("suppressed", "cus-en", "sms", "en", 2, "unreachable: no address on this channel"),
    ]
    never_drafted = [m for m in report.messages if m["version"] == 2]
    assert all(m["text"] == "" and m["kind"] == "regional_outage" and m["severity"] == "P1" for m in never_drafted)
    keys = {"customer_id", "channel", "language", "kind", "severity", "status", "text", "version", "reason"}
    assert all(set(m) == keys for m in report.messages)
    html = render_html(report, "events.jsonl")
    assert "cadence: too soon" in html and "rejected by maria" in html


def test_collect_without_held_back_rows_reads_no_customers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A report of a run without ``report_suppressed``: approvals only, and the customer table is left alone."""
    sent: NotificationCommand = command("ntf_sent")
    read: list[str] = []

    def reading(settings: Settings, short_topic: str, timeout_s: float = 30.0) -> list[Any]:
        read.append(short_topic)
        return [Stored(sent)] if short_topic == "notify.email" else []

    monkeypatch.setattr(replay_module, "read_topic", reading)
    report = collect(Settings())
    assert [(m["status"], m["reason"]) for m in report.messages] == [("sent", None)]
    assert "customers" not in read

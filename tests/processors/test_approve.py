"""Approval gates per category, decisions, and on-call reminders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from factories import T0, command
from forewarn.policy import Policy
from forewarn.processors.approve import (
    Edit,
    decided,
    gate_reason,
    held,
    recheck,
    released,
    reminder,
    reminder_due,
    supersedes,
)
from forewarn.processors.draft.check import sample_incident
from forewarn.schemas.models import ApprovalStatus, Channel, DraftSource, IncidentKind, Severity


def policy(**gates: object) -> Policy:
    return Policy.model_validate({"gates": gates})


def test_a_policy_that_says_nothing_gates_every_category() -> None:
    """A company starts with every category gated and relaxes them as trust grows."""
    for template in ("initial", "maintenance_start", "false_alarm"):
        assert gate_reason(sample_incident(template), Policy()) is not None
    assert gate_reason(sample_incident("initial"), policy(default="never")) is None
    relaxed = policy(categories={"maintenance": "never"})
    assert gate_reason(sample_incident("maintenance_start"), relaxed) is None
    assert gate_reason(sample_incident("initial"), relaxed) is not None


@pytest.mark.parametrize(
    ("gate", "severity", "flags", "gated"),
    [
        ("always", Severity.P4, [], True),
        ("p1_p2", Severity.P2, [], True),
        ("p1_p2", Severity.P3, [], False),
        ("compliance", Severity.P1, ["security"], True),
        ("compliance", Severity.P1, [], False),
        ("never", Severity.P1, ["security"], False),
    ],
)
def test_gate_per_category(gate: str, severity: Severity, flags: list[str], gated: bool) -> None:
    incident = sample_incident("initial").model_copy(update={"severity": severity, "flags": flags})
    rules = policy(default="never", categories={IncidentKind.regional_outage.value: gate})
    assert (gate_reason(incident, rules) is not None) is gated
    other = incident.model_copy(update={"kind": IncidentKind.local_degradation})
    assert gate_reason(other, rules) is None  # the category's gate, not the default, applied above


def test_approval_with_edit_releases_the_edited_command_with_its_approval_id() -> None:
    pending = held(command(), sample_incident("initial"), "P1", [], T0)
    assert pending.status is ApprovalStatus.pending and pending.approval_id.startswith("apv_")
    with pytest.raises(ValueError, match="not approved"):
        released(pending)
    edit = Edit(text="We are on it.\n\nhttps://status.example.com", subject="Payments: investigating")
    approved = decided(pending, ApprovalStatus.approved, "maria", T0 + timedelta(minutes=3), edit)
    out = released(approved)
    assert out.approval_id == approved.approval_id and out.text.startswith("We are on it.")
    assert out.draft_source is DraftSource.operator and approved.edited and approved.approver == "maria"
    assert out.notification_id == pending.command.notification_id  # still one message per customer


def test_first_decision_wins_over_a_stale_pending_record() -> None:
    pending = held(command(), sample_incident("initial"), "P1", [], T0)
    rejected = decided(pending, ApprovalStatus.rejected, "maria", T0)
    assert supersedes(None, pending) and supersedes(pending, rejected)
    assert not supersedes(rejected, pending)
    assert not supersedes(rejected, decided(pending, ApprovalStatus.approved, "joe", T0))


def test_unapproved_p1_reminds_the_on_call_after_the_configured_time() -> None:
    rules = policy(remind_after_minutes=10, oncall_emails=["oncall@company.example"])
    pending = held(command(), sample_incident("initial"), "P1", [], T0)
    assert not reminder_due(pending, rules, T0 + timedelta(minutes=9))
    assert reminder_due(pending, rules, T0 + timedelta(minutes=10))
    assert not reminder_due(decided(pending, ApprovalStatus.approved, "m", T0), rules, T0 + timedelta(hours=1))
    mail = reminder(pending, rules, "http://console", T0 + timedelta(minutes=10))
    assert mail.recipients == ["oncall@company.example"]
    assert pending.approval_id in mail.text
    assert mail.notification_id == reminder(pending, rules, "http://console", T0 + timedelta(hours=1)).notification_id


# ---- an approval is checked with the expectations its draft was written to ----------------------


def _held_for(language: str = "en", timezone: str = "Europe/Berlin"):  # type: ignore[no-untyped-def]
    from factories import customer
    from forewarn.processors.draft import Drafter, command_for
    from internal_factories import STATUS_URL, incident
    from internal_factories import policy as internal_policy

    drafter = Drafter(internal_policy(), STATUS_URL)
    version = incident(
        2,
        minute=5,
        phase="identified",
        cause="A database failover took longer than expected.",
        next_update_at=T0 + timedelta(minutes=35),
    )
    reader = customer("c-eu", language=language, timezone=timezone)
    words = drafter.skeleton(version, Channel.email, language).for_reader(reader)
    cmd = command_for(version, reader, Channel.email, words, now=T0, dry_run=False)
    return drafter, version, held(cmd, version, "regional_outage: always approved by a person", [], T0)


def test_an_unedited_held_draft_passes_its_own_expectations() -> None:
    drafter, version, approval = _held_for("de")
    assert "MEZ" in approval.command.text  # the next update, in the reader's zone
    assert recheck(approval, version, drafter) == []
    elsewhere = approval.command.model_copy(update={"metadata": {"reader_timezone": "America/New_York"}})
    assert recheck(approval.model_copy(update={"command": elsewhere}), version, drafter) == [
        "facts: next_update missing (expected '23.11.2026, 04:35 UTC-5' or '23.11. 04:35 UTC-5')"
    ]
    with pytest.raises(ValueError, match="drafted for inc_1 v2"):
        recheck(approval, version.model_copy(update={"version": 3}), drafter)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda t: t + "\nFailover to db-03.prod.internal is done.", "internal_host"),
        (lambda t: t + "\nThe ledger-db pool was exhausted.", "internal_fact"),
        (lambda t: t + "\nSee evt_am_7f3a9c for details.", "internal_fact"),
        (lambda t: t + "\nWe apologise for any inconvenience.", "banned_phrase"),
        (lambda t: t.replace("no ETA yet", "soon"), "facts"),
        (lambda t: t.replace("https://status.example.com", "our page"), "link"),
    ],
)
def test_an_edit_is_held_to_the_same_rules_as_the_draft(change: Callable[[str], str], rule: str) -> None:
    drafter, version, approval = _held_for()
    tone = drafter.policy.model_copy(
        update={"tone": drafter.policy.tone.model_copy(update={"banned_phrases": ["apologise for any inconvenience"]})}
    )
    strict = type(drafter)(tone, drafter.status_url)
    approved = decided(approval, ApprovalStatus.approved, "maria", T0, Edit(text=change(approval.command.text)))
    assert recheck(approval, version, strict) == []
    found = recheck(approved, version, strict)
    assert found and {v.split(":")[0] for v in found} == {rule}, found


def test_an_edit_in_another_language_or_with_the_time_left_out_is_refused() -> None:
    drafter, version, approval = _held_for()
    german = (
        "Guten Tag,\n\nwir arbeiten an der Störung bei Payments und sind noch nicht fertig, die Ursache ist gefunden."
    )
    approved = decided(approval, ApprovalStatus.approved, "maria", T0, Edit(text=german))
    found = {v.split(":")[0] for v in recheck(approved, version, drafter)}
    assert {"language", "facts", "link"} <= found


def test_the_approval_audit_keeps_the_drafted_texts_hash_and_the_edited_text() -> None:
    import hashlib

    from forewarn.processors.audit import EDITED_TEXT_CHARS, approval_audit

    pending = held(command(), sample_incident("initial"), "P1", [], T0)
    drafted = hashlib.sha256(pending.command.text.encode()).hexdigest()
    at_hold = approval_audit(pending, "k", T0).detail
    assert at_hold["edited"] == "false" and at_hold["text_sha256"] == drafted
    assert "edited_text" not in at_hold and "original_text_sha256" not in at_hold
    # edited, then edited again and approved: the drafted text's hash survives both edits
    first = decided(pending, ApprovalStatus.pending, "joe", T0 + timedelta(minutes=1), Edit(text="We are on it."))
    text = "We are on it, and here is more.\n\n" + "x" * 5000
    approved = decided(first, ApprovalStatus.approved, "maria", T0 + timedelta(minutes=3), Edit(text, "Payments"))
    row = approval_audit(approved, "k", T0 + timedelta(minutes=3), "approved")
    assert row.approver == "maria" and row.draft_version == pending.command.draft_version + 2
    assert row.detail["edited"] == "true" and row.detail["original_text_sha256"] == drafted
    assert row.detail["text_sha256"] == hashlib.sha256(text.encode()).hexdigest() != drafted
    assert row.detail["edited_text"] == text[:EDITED_TEXT_CHARS] and len(row.detail["edited_text"]) == 4000
    assert row.detail["edited_text_chars"] == str(len(text)) and row.detail["edited_subject"] == "Payments"
    assert released(approved).text == text  # the audit's bound is not the message's
    plain = approval_audit(decided(pending, ApprovalStatus.approved, "maria", T0), "k", T0, "approved").detail
    assert plain["edited"] == "false" and plain["text_sha256"] == drafted and "edited_text" not in plain

"""Approval gates per category, decisions, and on-call reminders."""

from __future__ import annotations

from datetime import timedelta

import pytest

from factories import T0, command
from forewarn.policy import Policy
from forewarn.processors.approve import Edit, decided, gate_reason, held, released, reminder, reminder_due, supersedes
from forewarn.processors.draft.check import sample_incident
from forewarn.schemas.models import ApprovalStatus, DraftSource, IncidentKind, Severity


def policy(**gates: object) -> Policy:
    return Policy.model_validate({"gates": gates})


def test_default_policy_gates_nothing() -> None:
    assert gate_reason(sample_incident("initial"), Policy()) is None


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

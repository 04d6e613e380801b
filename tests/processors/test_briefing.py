"""Leadership's cadence: one briefing per hour of a P1, the executive note once it runs long."""

from __future__ import annotations

from datetime import timedelta

from factories import T0
from forewarn.policy_internal import InternalPolicy
from forewarn.processors.briefing import (
    briefing_slot,
    closing_briefing,
    executive_briefing,
    executive_notes,
    is_extended_outage,
)
from forewarn.processors.internal import CustomerDraft, FactSheet
from forewarn.schemas.models import ApprovalStatus, Channel, CustomerSegment, Incident, Phase, Severity
from internal_factories import account, incident, words

POLICY = InternalPolicy()


def at(minutes: float) -> object:
    return T0 + timedelta(minutes=minutes)


def test_a_p1_is_briefed_once_per_hour_of_the_incident() -> None:
    i = incident()
    assert [briefing_slot(i, T0 + timedelta(minutes=m), POLICY) for m in (0, 59, 60, 119, 185)] == [0, 0, 1, 1, 3]
    assert briefing_slot(i, T0 - timedelta(minutes=1), POLICY) is None  # before it opened


def test_only_open_incidents_of_the_briefed_severities() -> None:
    assert briefing_slot(incident(severity=Severity.P2), T0, POLICY) is None
    assert briefing_slot(incident(phase=Phase.resolved), T0, POLICY) is None
    assert briefing_slot(incident(severity=Severity.P2), T0, InternalPolicy(briefing_severities=[Severity.P2])) == 0


def test_extended_outage_is_detections_flag_without_an_eta() -> None:
    """Detection decides (no ETA after rules.extended_outage_after, 4 h); the note follows its flag."""
    flagged = incident(3, 245, flags=["extended_outage"])
    assert is_extended_outage(flagged, POLICY)
    assert not is_extended_outage(incident(3, 245), POLICY)  # running long alone is not the verdict
    assert not is_extended_outage(flagged.model_copy(update={"eta": T0 + timedelta(hours=5)}), POLICY)
    assert not is_extended_outage(flagged.model_copy(update={"severity": Severity.P2}), POLICY)
    assert not is_extended_outage(flagged.model_copy(update={"phase": Phase.resolved}), POLICY)


def test_briefings_say_how_long_and_what_is_known() -> None:
    sheet = FactSheet(incident=incident(), now=T0 + timedelta(minutes=125), summary="Known:\n- it is down")
    message = executive_briefing(sheet, 2)
    assert (message.audience, message.slot) == ("leadership", "hour-2")
    assert "Executive briefing #3" in message.text and "Open for 2 h 05 min" in message.text
    assert "Known:\n- it is down" in message.text
    resolved = incident(5, 242, phase=Phase.resolved, resolved_at=T0 + timedelta(minutes=242))
    closing = closing_briefing(FactSheet(incident=resolved, now=T0 + timedelta(minutes=242)))
    assert "Time to resolve (first signal to resolution): 4 h 04 min" in closing.text
    assert "forewarn postmortem draft inc_1" in closing.text


def test_executive_notes_go_to_enterprise_accounts_only_and_are_held() -> None:
    accounts = (account("acme", "de", "enterprise", enterprise=True), account("bistro", "fr"))
    sheet = FactSheet(incident=incident(3, 245), now=T0 + timedelta(minutes=245), accounts=accounts)
    (held,) = executive_notes(sheet, words())
    assert held.status is ApprovalStatus.pending and held.category == "executive_note"
    command = held.command
    assert (command.customer_id, command.channel, command.recipients) == ("acme", Channel.email, ["cto@acme.example"])
    assert command.template == "executive_note" and command.approval_id == held.approval_id
    assert command.language == "de" and "acme Ltd" in command.text
    assert executive_notes(sheet, words())[0].approval_id == held.approval_id  # a replay holds the same note
    assert held.verdicts == []


def test_an_executive_note_that_failed_its_checks_is_held_with_the_verdicts() -> None:
    accounts = (account("acme", "de", "enterprise", enterprise=True),)
    sheet = FactSheet(incident=incident(3, 245), now=T0 + timedelta(minutes=245), accounts=accounts)

    def leaky(incident_: Incident, reader: CustomerSegment, channel: Channel) -> CustomerDraft:
        return CustomerDraft(words()(incident_, reader, channel).draft, ("internal_fact: mentions 'pg-cluster-7'",))

    (held,) = executive_notes(sheet, leaky)
    assert held.status is ApprovalStatus.pending and held.verdicts == ["internal_fact: mentions 'pg-cluster-7'"]

"""A batch of held drafts is decided at once, and every draft still gets its own decided record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from factories import T0, customer
from forewarn.policy import Policy
from forewarn.processors.approve import BATCH_SAMPLE, held, released
from forewarn.processors.audit import approval_audit
from forewarn.processors.bulk_approval import BatchKey, Selection, batches, decided_batch, to_decide
from forewarn.processors.draft import Drafter, command_for
from forewarn.processors.draft.check import sample_incident
from forewarn.schemas.models import Approval, ApprovalStatus, Channel, DraftSource

URL = "https://status.example.com"
DRAFTER = Drafter(Policy(), URL)
INCIDENT = sample_incident("initial")


def held_draft(
    cid: str, channel: Channel = Channel.email, language: str = "en", verdicts: list[str] | None = None
) -> Approval:
    reader = customer(cid, language=language)
    words = DRAFTER.skeleton(INCIDENT, channel, language).for_reader(reader)
    cmd = command_for(INCIDENT, reader, channel, words, now=T0, dry_run=False)
    return held(
        cmd, INCIDENT, "regional_outage: always approved by a person", verdicts or [], T0 + timedelta(seconds=len(cid))
    )


def drafts() -> list[Approval]:
    out = [held_draft(f"c{i}") for i in range(5)]
    out += [held_draft(f"d{i}", language="de") for i in range(3)]
    out += [held_draft(f"s{i}", channel=Channel.sms) for i in range(2)]
    out.append(held_draft("bad", verdicts=["internal_fact: states 'ledger-db'"]))
    out.append(held_draft("gone").model_copy(update={"status": ApprovalStatus.approved}))
    return out


def test_pending_drafts_are_grouped_by_version_channel_language_and_words() -> None:
    found = {(b.key.channel, b.key.language): b for b in batches(drafts())}
    assert set(found) == {(Channel.email, "en"), (Channel.email, "de"), (Channel.sms, "en")}
    email = found[(Channel.email, "en")]
    assert (len(email.ready), len(email.review), email.count) == (5, 1, 6)  # the decided one is not pending
    assert email.sample == min(email.ready, key=lambda a: (a.requested_at, a.approval_id))  # stable: the earliest
    assert email.review[0].command.customer_id == "bad"
    assert email.key == BatchKey(
        INCIDENT.incident_id, INCIDENT.version, Channel.email, "en", "initial", DraftSource.template
    )


def test_a_selection_narrows_to_a_channel_or_language_and_never_crosses_versions() -> None:
    version = (INCIDENT.incident_id, INCIDENT.version)
    assert len(batches(drafts(), Selection(*version))) == 3
    assert [b.key.language for b in batches(drafts(), Selection(*version, channel=Channel.email))] == ["de", "en"]
    assert [b.key.channel for b in batches(drafts(), Selection(*version, language="en"))] == [
        Channel.email,
        Channel.sms,
    ]
    assert batches(drafts(), Selection(INCIDENT.incident_id, INCIDENT.version + 1)) == []
    assert batches(drafts(), Selection(*version, source=DraftSource.model)) == []


def test_approving_a_batch_gives_every_ready_draft_its_own_record_and_leaves_the_rest_for_review() -> None:
    (email,) = batches(drafts(), Selection(INCIDENT.incident_id, INCIDENT.version, Channel.email, "en"))
    out = list(decided_batch(email, ApprovalStatus.approved, "ann", T0 + timedelta(minutes=3)))
    assert sorted(a.command.customer_id for a in out) == [f"c{i}" for i in range(5)]  # not "bad": it needs an edit
    assert {(a.status, a.approver, a.decided_at) for a in out} == {
        (ApprovalStatus.approved, "ann", T0 + timedelta(minutes=3))
    }
    assert len({a.approval_id for a in out}) == 5 and {a.approval_id for a in out} == {
        a.approval_id for a in email.ready
    }
    assert {a.command.metadata[BATCH_SAMPLE] for a in out} == {email.sample.approval_id}
    sent = released(out[1])
    assert sent.approval_id == out[1].approval_id and sent.text == email.ready[1].command.text  # its own words
    row = approval_audit(out[1], "k", T0, "approved")
    assert row.approver == "ann" and row.detail["batch_sample"] == email.sample.approval_id


def test_rejecting_a_batch_takes_every_pending_draft() -> None:
    (email,) = batches(drafts(), Selection(INCIDENT.incident_id, INCIDENT.version, Channel.email, "en"))
    assert len(to_decide(email, ApprovalStatus.rejected)) == 6
    out = list(decided_batch(email, ApprovalStatus.rejected, "joe", T0, reason="wrong region"))
    assert {(a.status, a.reason) for a in out} == {(ApprovalStatus.rejected, "wrong region")}
    with pytest.raises(ValueError, match="approved or rejected"):
        to_decide(email, ApprovalStatus.expired)

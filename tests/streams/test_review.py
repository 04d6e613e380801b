"""Review.route: where one drafted command goes, and which draft it carries."""

from __future__ import annotations

import httpx2

from factories import T0, anthropic_reply, customer, ungated
from forewarn.config import Settings
from forewarn.drafting.anthropic_drafter import AnthropicDrafter
from forewarn.policy import Policy
from forewarn.processors.audit import AuditTrail
from forewarn.processors.draft import Drafter, OtherAccounts, command_for, draft
from forewarn.processors.draft.check import sample_incident
from forewarn.schemas.models import Approval, Channel, DraftSource, NotificationCommand

from ..drafting.test_anthropic_drafter import GOOD


async def routed(policy: Policy, model: AnthropicDrafter | None = None, language: str = "en"):  # type: ignore[no-untyped-def]
    settings = Settings()
    reader = customer("c1", language=language, timezone="Europe/Berlin")
    incident = sample_incident("initial")
    words = draft(incident, reader, Channel.email, settings.status_page_url)
    cmd = command_for(incident, reader, Channel.email, words, now=T0, dry_run=False)
    from forewarn.streams.review import Review

    return await Review(settings, policy, AuditTrail("k"), model).route(incident, reader, cmd, T0)


async def test_ungated_command_goes_to_its_channel_in_the_readers_language() -> None:
    out = await routed(ungated(), language="fr")
    assert out.topic == "notify.email" and isinstance(out.record, NotificationCommand)
    assert out.record.language == "fr" and "Analyse en cours" in out.record.text and "UTC+1" in out.record.text
    assert out.audit.action == "drafted"


async def test_gated_command_is_held_on_the_approvals_topic() -> None:
    out = await routed(Policy.model_validate({"gates": {"default": "p1_p2"}}))
    assert out.topic == "approvals" and isinstance(out.record, Approval)
    assert out.record.status.value == "pending" and out.key == out.record.approval_id.encode()
    assert out.audit.action == "held" and out.audit.detail["approval_id"] == out.record.approval_id


async def test_model_draft_where_the_policy_allows_with_model_detail_in_the_audit() -> None:
    policy = ungated(tone={"model_categories": ["regional_outage"]})
    settings = Settings()
    model = AnthropicDrafter(
        Drafter(policy, settings.status_page_url),
        api_key="k",
        model="claude-test",
        timeout_s=5,
        transport=httpx2.MockTransport(anthropic_reply(GOOD)),
    )
    out = await routed(policy, model)
    assert isinstance(out.record, NotificationCommand) and out.record.draft_source is DraftSource.model
    assert "failing for some or all requests" in out.record.text
    assert out.audit.detail["model_model"] == "claude-test" and out.audit.detail["model_output_tokens"] == "128"


async def test_a_helpdesk_command_carries_support_words_and_the_readers_own_canned_reply() -> None:
    """Ticket text in the company's language for agents; the canned reply is the reader's email draft."""
    from forewarn.processors.helpdesk import CANNED_REPLY, CANNED_WITHHELD
    from forewarn.streams.review import Review

    settings = Settings()
    policy = ungated(tone={"default_language": "de"})
    reader = customer("c1", language="fr", timezone="Europe/Berlin")
    incident = sample_incident("initial")
    blank = command_for(
        incident, reader, Channel.helpdesk, draft(incident, reader, Channel.email, "x"), now=T0, dry_run=False
    )
    review = Review(settings, policy, AuditTrail("k"))
    out = await review.route(incident, reader, blank, T0)
    assert out.topic == "notify.helpdesk" and isinstance(out.record, NotificationCommand)
    cmd = out.record
    assert cmd.language == "de" and cmd.subject and "forewarn hat dieses Ticket" in cmd.text
    assert cmd.recipients == ["c1"] and cmd.notification_id == blank.notification_id
    email = await review.route(
        incident,
        reader,
        command_for(
            incident, reader, Channel.email, draft(incident, reader, Channel.email, "x"), now=T0, dry_run=False
        ),
        T0,
    )
    assert isinstance(email.record, NotificationCommand)
    assert cmd.metadata[CANNED_REPLY] == email.record.text  # exactly what the reader was told, in French
    assert CANNED_WITHHELD not in cmd.metadata
    # a reply that would name another account of the chunk is withheld, its verdict carried instead
    named = await review.route(incident, reader, blank, T0, OtherAccounts(["Payments"]))
    assert isinstance(named.record, NotificationCommand) and CANNED_REPLY not in named.record.metadata
    assert "other_customer" in named.record.metadata[CANNED_WITHHELD]

"""Review.route never sends a draft that states an internal fact or another customer's name:
a template's is held for a person with the verdict listed, a model's gives way to the template's."""

from __future__ import annotations

from typing import Any

import httpx2

from factories import T0, anthropic_reply, customer
from forewarn.config import Settings
from forewarn.drafting.anthropic_drafter import AnthropicDrafter
from forewarn.policy import Policy
from forewarn.processors.audit import AuditTrail
from forewarn.processors.draft import Drafter, OtherAccounts, command_for, draft
from forewarn.schemas.models import Approval, Channel, CustomerSegment, DraftSource, Incident, NotificationCommand
from forewarn.streams.review import Review, Routed
from internal_factories import incident, policy

from ..drafting.test_anthropic_drafter import GOOD

LEAK = "ledger-db connection pool exhausted"  # an operator's cause naming an internal dependency


async def routed(
    version: Incident,
    reader: CustomerSegment,
    rules: Policy | None = None,
    model: AnthropicDrafter | None = None,
    others: OtherAccounts | None = None,
) -> Routed:
    settings = Settings()
    words = draft(version, reader, Channel.email, settings.status_page_url)
    cmd = command_for(version, reader, Channel.email, words, now=T0, dry_run=False)
    return await Review(settings, rules or policy(), AuditTrail("k"), model).route(version, reader, cmd, T0, others)


def model_of(rules: Policy, parts: dict[str, Any]) -> AnthropicDrafter:
    return AnthropicDrafter(
        Drafter(rules, Settings().status_page_url),
        api_key="k",
        model="claude-test",
        timeout_s=5,
        transport=httpx2.MockTransport(anthropic_reply(parts)),
    )


async def test_a_template_draft_stating_an_internal_dependency_is_held_with_the_verdict() -> None:
    out = await routed(incident(2, phase="identified", cause=LEAK), customer("c1"))
    assert out.topic == "approvals" and isinstance(out.record, Approval)
    assert out.record.category == "validation" and "ledger-db" in out.record.command.text  # for the person only
    assert [v for v in out.record.verdicts if v.startswith("internal_fact:")] == [
        "internal_fact: states 'ledger-db', an internal fact (signal, rule, service or approver)"
    ]
    fine = await routed(incident(3, phase="identified", cause="A database failover took longer."), customer("c1"))
    assert fine.topic == "notify.email" and isinstance(fine.record, NotificationCommand)


async def test_a_draft_naming_another_account_of_the_chunk_is_held_but_not_for_that_account() -> None:
    named = incident(2, phase="identified", cause="A bulk import by Globex Corporation overloaded it.")
    others = OtherAccounts(["c1 GmbH", "Globex Corporation", "Initech"])
    out = await routed(named, customer("c1"), others=others)
    assert out.topic == "approvals" and isinstance(out.record, Approval)
    assert out.record.verdicts == ["other_customer: names another customer: Globex Corporation"]
    own = await routed(named, customer("globex", account_name="Globex Corporation"), others=others)
    assert own.topic == "notify.email"
    plain = await routed(incident(3, phase="identified", cause="A bulk import overloaded it."), customer("c1"))
    assert plain.topic == "notify.email"


async def test_a_model_draft_stating_an_internal_fact_or_another_customer_gives_way_to_the_template() -> None:
    rules = policy().model_copy(
        update={"tone": policy().tone.model_copy(update={"model_categories": ["regional_outage"]})}
    )
    leaky = {**GOOD, "body": GOOD["body"] + "\n\nThe ledger-db pool ran dry."}
    out = await routed(incident(), customer("c1"), rules, model_of(rules, leaky))
    assert isinstance(out.record, NotificationCommand) and out.record.draft_source is DraftSource.template
    assert "ledger-db" not in out.record.text and "internal_fact" in out.audit.detail["model_reason"]

    naming = {**GOOD, "body": GOOD["body"] + "\n\nInitech saw it first."}
    others = OtherAccounts(["Initech"])
    out = await routed(incident(), customer("c1"), rules, model_of(rules, naming), others)
    assert isinstance(out.record, NotificationCommand) and out.record.draft_source is DraftSource.template
    assert "Initech" not in out.record.text
    assert out.audit.detail["model_outcome"] == "fallback" and "Initech" in out.audit.detail["model_reason"]
    good = await routed(incident(), customer("c1"), rules, model_of(rules, GOOD), others)
    assert isinstance(good.record, NotificationCommand) and good.record.draft_source is DraftSource.model

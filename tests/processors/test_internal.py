"""War-room update and support pack: the technical facts inside, the customer's own words outside."""

from __future__ import annotations

from datetime import timedelta

from factories import T0
from forewarn.processors.draft import draft
from forewarn.processors.internal import (
    READER,
    CustomerDraft,
    FactSheet,
    dependency_chain,
    internal_commands,
    internal_terms,
    support_pack,
    support_reader,
    war_room_update,
)
from forewarn.processors.validate import Expectations, validate
from forewarn.schemas.models import Channel, CustomerSegment, Incident
from internal_factories import STATUS_URL, account, incident, policy, words

ACCOUNTS = (
    account("acme", "de", "enterprise", enterprise=True),
    account("bistro", "fr", "starter"),
    account("carla", "en", "pro"),
    account("dora", "de", "pro"),
)


def sheet(**extra: object) -> FactSheet:
    i = incident()
    fields: dict[str, object] = {
        "incident": i,
        "now": T0 + timedelta(minutes=5),
        "affected": 4,
        "active_total": 20,
        "by_plan": {"pro": 2, "enterprise": 1, "starter": 1},
        "by_region": {"eu-west": 4},
        "by_language": {"de": 2, "fr": 1, "en": 1},
        "enterprise": 1,
        "accounts": ACCOUNTS,
        "accounts_omitted": 3,
        "partitions_reported": 2,
        "partitions": 2,
        "held": {"p1 / email / de": 2},
        "approvers": ("oncall-lead@corp.example",),
        "dependency_chain": dependency_chain("payments", policy(), i.affected_services),
    }
    fields.update(extra)
    return FactSheet(**fields)


def test_dependency_chain_follows_the_policy_transitively() -> None:
    assert dependency_chain("payments", policy(), ["payments", "checkout"]) == (
        "payments",
        "ledger-db",
        "card-gateway",
        "pg-cluster-7",
        "checkout",
    )


def test_war_room_update_carries_what_customers_are_not_told() -> None:
    message = war_room_update(sheet())
    text = message.text
    assert message.audience == "war_room" and message.slot == "v1"
    assert "Rule that fired: outage_window_5m" in text
    assert "evt_am_7f3a9c, evt_pd_118b2e" in text
    assert "payments -> ledger-db -> card-gateway -> pg-cluster-7" in text
    assert "Customers affected: 4 (20.0% of 20 active)" in text
    assert "by plan: pro 2, enterprise 1, starter 1" in text
    assert "by language: de 2, en 1, fr 1" in text
    assert "Drafts held for approval: 2 — must be approved by oncall-lead@corp.example" in text


def test_partial_impact_is_said_to_be_partial() -> None:
    text = war_room_update(sheet(partitions_reported=1)).text
    assert "(partial: 1 of 2 partitions reported)" in text


def test_support_pack_has_the_customer_draft_in_every_language_customers_use() -> None:
    pack = support_pack(sheet(), words(), STATUS_URL)
    assert pack.audience == "support" and pack.slot == "investigating-v1"
    for language in ("de", "fr", "en"):
        customer_words = draft(incident(), support_reader(language), Channel.email, STATUS_URL)
        assert f"--- Canned response ({language}) ---" in pack.text
        assert customer_words.text in pack.text  # the very words customers get
    assert READER in pack.text
    assert "title: Known issue: Payments outage in EU-WEST" in pack.text
    assert "tags: known_issue, inc_1, payments" in pack.text
    assert "Affected accounts (4 listed, 3 more not listed):" in pack.text
    assert "acme Ltd (acme) — enterprise [enterprise], de, eu-west" in pack.text


def test_support_is_told_how_many_enterprise_accounts_got_no_executive_note() -> None:
    assert "enterprise accounts are not listed" not in support_pack(sheet(), words(), STATUS_URL).text
    pack = support_pack(sheet(enterprise=41), words(), STATUS_URL)  # 1 listed of 41 (enterprise_listed_max)
    assert "40 enterprise accounts are not listed and get no drafted executive note" in pack.text


def test_a_canned_response_that_failed_its_checks_is_never_handed_to_support() -> None:
    """Support pastes these to customers: words the validator refused must not be among them."""

    def checked(incident_: Incident, reader: CustomerSegment, channel: Channel) -> CustomerDraft:
        base = words()(incident_, reader, channel)
        failed = ("internal_fact: mentions 'ledger-db'",) if base.draft.language == "fr" else ()
        return CustomerDraft(base.draft, failed)

    pack = support_pack(sheet(), checked, STATUS_URL)
    french = draft(incident(), support_reader("fr"), Channel.email, STATUS_URL)
    assert "--- Canned response (fr): not for customers, it failed its checks: internal_fact: mentions 'ledger-db'" in (
        pack.text
    )
    assert french.text not in pack.text and "--- Canned response (de) ---" in pack.text
    assert "public reply: the English canned response below" in pack.text  # English passed


def test_internal_terms_are_exactly_what_must_stay_inside() -> None:
    terms = internal_terms(sheet(), policy())
    assert terms == sorted(
        ["evt_am_7f3a9c", "evt_pd_118b2e", "outage_window_5m", "oncall-lead@corp.example", "ledger-db", "pg-cluster-7"]
    )


def test_customer_drafts_pass_the_validator_that_forbids_internal_terms() -> None:
    """The customer side is built from the same incident but never states the internal facts."""
    terms = tuple(internal_terms(sheet(), policy()))
    for language in ("en", "de", "fr"):
        words_ = draft(incident(), support_reader(language), Channel.email, STATUS_URL)
        expect = Expectations(channel=Channel.email, language=language, status_url=STATUS_URL, never_mention=terms)
        assert not [v for v in validate(words_, expect) if "never to mention" in v.detail]
    cause = "ledger-db connection pool exhausted"  # an operator's cause naming an internal system
    leaked = draft(incident(2, phase="identified", cause=cause), support_reader("en"), Channel.email, STATUS_URL)
    expect = Expectations(channel=Channel.email, language="en", status_url=STATUS_URL, never_mention=terms)
    assert any("ledger-db" in v.detail for v in validate(leaked, expect))


def test_internal_commands_go_to_each_destination_under_stable_ids() -> None:
    message = war_room_update(sheet())
    now = T0 + timedelta(minutes=5)
    mail, hook = internal_commands(message, incident(), (["war@corp.example"], "https://hooks.corp.example/w"), now)
    assert (mail.channel, mail.recipients, mail.customer_id) == (
        Channel.internal,
        ["war@corp.example"],
        "internal:war_room",
    )
    assert hook.recipients == ["https://hooks.corp.example/w"] and hook.metadata["destination"] == "webhook"
    assert mail.notification_id != hook.notification_id
    again = internal_commands(message, incident(), (["war@corp.example"], None), now + timedelta(hours=1))
    assert [c.notification_id for c in again] == [mail.notification_id]  # a replay re-sends nothing
    assert internal_commands(message, incident(), ([], None), now) == []

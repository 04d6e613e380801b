"""Each validation rule catches its case; a good draft passes them all."""

from __future__ import annotations

from dataclasses import replace

import pytest

from forewarn.policy import Policy
from forewarn.processors.draft import Draft, Drafter
from forewarn.processors.draft.check import sample_incident
from forewarn.processors.sms import segments
from forewarn.processors.validate import Expectations, detect_language, validate
from forewarn.schemas.models import Channel, DraftSource

URL = "https://status.example.com"
DRAFTER = Drafter(Policy(), URL)


def good(channel: Channel = Channel.email, language: str = "en") -> tuple[Draft, Expectations]:
    skeleton = DRAFTER.skeleton(sample_incident("initial"), channel, language)
    return skeleton.draft, skeleton.expectations


def rules(words: Draft, expect: Expectations) -> set[str]:
    return {v.rule for v in validate(words, expect)}


def with_text(words: Draft, extra: str) -> Draft:
    return replace(words, text=words.text + "\n" + extra)


def test_a_good_draft_passes_every_rule() -> None:
    for channel in (Channel.email, Channel.sms, Channel.social, Channel.inapp, Channel.slack, Channel.statuspage):
        words, expect = good(channel)
        assert validate(words, expect) == []


def test_length_per_channel() -> None:
    words, expect = good(Channel.social)
    assert rules(replace(words, text=words.text + " x" * 150), expect) == {"length"}
    sms, expect_sms = good(Channel.sms)
    assert rules(replace(sms, text=sms.text + " more words" * 20), expect_sms) == {"length"}


def test_sms_counts_gsm7_and_ucs2_segments() -> None:
    assert segments("a" * 160) == ("gsm7", 1)
    assert segments("a" * 161) == ("gsm7", 2)
    assert segments("€" * 80) == ("gsm7", 1)  # extension characters cost two septets
    assert segments("é" * 160) == ("gsm7", 1)  # é is in the GSM-7 basic set
    assert segments("ç" * 70) == ("ucs2", 1)  # ç is not: the whole message becomes UCS-2
    assert segments("調" * 71) == ("ucs2", 2)


def test_status_page_link_must_be_present() -> None:
    words, expect = good()
    assert "link" in rules(replace(words, text=words.text.replace(URL, "our status page")), expect)


@pytest.mark.parametrize("leftover", ["{{ eta }}", "{customer_name}", "%(service)s", "{% if x %}"])
def test_unfilled_placeholders_are_caught(leftover: str) -> None:
    words, expect = good()
    assert rules(with_text(words, leftover), expect) == {"placeholder"}


def test_known_placeholders_are_allowed_only_before_personalisation() -> None:
    words, expect = good()
    assert "{next_update}" in words.text
    assert rules(words, replace(expect, placeholders=frozenset())) == {"placeholder"}


@pytest.mark.parametrize(
    ("leak", "rule"),
    [
        ("Failover to db-03.prod.internal started", "internal_host"),
        ("Affected node 10.2.3.4 restarted", "internal_host"),
        ("see fe80:0:0:0:200:f8ff:fe21:67cf", "internal_host"),
        ('Traceback (most recent call last):\n  File "app.py", line 3', "stack_trace"),
        ("java.lang.IllegalStateException: pool exhausted", "stack_trace"),
        ("the key AKIAIOSFODNN7EXAMPLE leaked", "secret"),
        ("api_key=s3cr3tvalue", "secret"),
    ],
)
def test_internal_details_are_caught(leak: str, rule: str) -> None:
    words, expect = good()
    assert rule in rules(with_text(words, leak), expect)


def test_policy_never_mention_terms_are_caught() -> None:
    words, expect = good()
    assert "internal_host" in rules(with_text(words, "Project Bluebird"), replace(expect, never_mention=("bluebird",)))


def test_internal_facts_are_caught_on_whole_words_in_subject_and_text() -> None:
    words, expect = good()
    internal = replace(expect, internal_terms=("ledger-db", "outage_window_5m", "evt_am_7f3a9c"))
    assert validate(words, internal) == []
    assert rules(with_text(words, "The LEDGER-DB pool is exhausted."), internal) == {"internal_fact"}
    assert rules(replace(words, subject="outage_window_5m fired"), internal) == {"internal_fact"}
    assert rules(with_text(words, "Our ledger-dbx and pledger-db are fine."), internal) == set()


def test_other_customers_names_are_caught_on_whole_words() -> None:
    words, expect = good()
    names = ("Globex Corporation", "Initech")
    assert "other_customer" in rules(
        with_text(words, "Globex Corporation's import"), replace(expect, customer_names=names)
    )
    assert rules(with_text(words, "Initechnical"), replace(expect, customer_names=names)) == set()


@pytest.mark.parametrize("fact", ["service", "status", "eta", "next_update"])
def test_required_facts_are_caught_when_missing(fact: str) -> None:
    words, expect = good(Channel.sms)
    needle = {
        "service": "Payments",
        "status": "Investigating",
        "eta": "no ETA yet",
        "next_update": "{next_update_short}",
    }
    stripped = replace(words, text=words.text.replace(needle[fact], ""))
    assert "facts" in rules(stripped, expect)


def test_banned_phrases_from_the_tone_guide() -> None:
    words, expect = good()
    banned = replace(expect, banned_phrases=("we apologise for any inconvenience",))
    assert rules(with_text(words, "We apologise for any inconvenience."), banned) == {"banned_phrase"}


def test_language_must_match() -> None:
    german, _ = good(Channel.email, "de")
    _, english_expect = good(Channel.email, "en")
    assert "language" in rules(german, replace(english_expect, facts={}))
    assert detect_language("OK") is None  # too short to tell: not a failure


def test_model_drafts_may_not_invent_links_or_times() -> None:
    words, expect = good()
    model = replace(words, source=DraftSource.model)
    strict = replace(expect, model_written=True)
    assert validate(model, strict) == []
    assert rules(with_text(model, "Details: https://evil.example/x"), strict) == {"invented_fact"}
    assert rules(with_text(model, "Fixed by 10:45."), strict) == {"invented_fact"}

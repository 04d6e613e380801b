"""The post-mortem version goes to whoever was told, once, from a told set kept past the
resolution only for P1/P2 and only for ``POSTMORTEM_WITHIN`` (restart-safe: it is the ledger's
own chunks, restored like any ledger)."""

from datetime import timedelta

from forewarn.policy import Policy
from forewarn.processors.cadence import (
    POSTMORTEM_WITHIN,
    IncidentLedger,
    Note,
    Verdict,
    decide,
    keeps_told,
    kept_index_key,
    update_kept,
)
from forewarn.processors.public import due_channels
from forewarn.processors.target import plan_targeting
from forewarn.schemas.models import Channel, Phase, Severity

from .test_cadence import RULE, incident, told

P1_CHANNELS = {"channels": {"P1": ["email", "inapp", "sms", "slack", "statuspage", "social"]}}


def test_the_post_mortem_goes_once_to_each_channel_that_was_told() -> None:
    resolved = incident(60, 5, Phase.resolved)
    postmortem = incident(3000, 6, Phase.resolved, change="postmortem")
    assert decide(told(resolved), postmortem, RULE) is Verdict.postmortem
    assert decide(told(incident(0, 1), count=RULE.max_per_channel), postmortem, RULE) is Verdict.postmortem  # no cap
    assert decide(None, postmortem, RULE) is Verdict.never_told
    assert decide(told(postmortem), postmortem, RULE) is Verdict.handled
    assert decide(told(postmortem), incident(3100, 7, Phase.resolved, change="postmortem"), RULE) is Verdict.postmortem
    assert decide(told(resolved), incident(61, 6, Phase.resolved), RULE) is Verdict.handled  # a plain resolution


def test_only_a_p1_or_p2_resolution_keeps_who_was_told() -> None:
    assert keeps_told(incident(60, 5, Phase.resolved))
    assert keeps_told(incident(60, 5, Phase.resolved, severity=Severity.P2))
    assert not keeps_told(incident(60, 5, Phase.resolved, severity=Severity.P3))
    assert not keeps_told(incident(60, 5, Phase.identified))
    assert not keeps_told(incident(3000, 6, Phase.resolved, change="postmortem"))


def test_a_kept_ledger_restores_who_was_told_until_its_time_is_up() -> None:
    store: dict[bytes, bytes] = {}
    ledger = IncidentLedger("inc", 2)
    first, resolved = incident(0, 1), incident(60, 5, Phase.resolved)
    for version, inc, sent in (
        (1, first, [("a", [Channel.email, Channel.sms]), ("b", [Channel.inapp])]),
        (5, resolved, [("a", [Channel.email, Channel.sms]), ("b", [Channel.inapp])]),
    ):
        key, chunk = ledger.record(version, Note.of(inc, RULE), sent)
        store[key] = chunk
    until = resolved.updated_at + POSTMORTEM_WITHIN
    assert ledger.close(5, until) == []  # nothing to delete: the chunks stay for the post-mortem
    store[ledger.head_key] = ledger.head()
    restored = IncidentLedger.restore("inc", 2, store[ledger.head_key], store.get)  # as after a restart
    assert restored.closed == 5 and set(restored.told) == {"a", "b"}
    email = restored.told_on("a", Channel.email)
    assert email is not None and email.version == 5
    assert restored.told_on("b", Channel.email) is None
    assert not restored.expired(until) and restored.expired(until + timedelta(milliseconds=1))
    assert (
        sorted(restored.close(6)) == sorted(k for k in store if k != ledger.head_key) and restored.kept_until is None
    )  # the post-mortem handled
    assert IncidentLedger.restore("inc", 2, restored.head(), store.get).told == {}


def test_the_kept_list_adds_drops_and_sweeps_by_event_time() -> None:
    at = incident(60, 5, Phase.resolved).updated_at
    ledger = IncidentLedger("inc-1", 0)
    ledger.close(5, at + POSTMORTEM_WITHIN)
    stored, expired = update_kept(None, at, add=ledger)
    assert expired == []
    other = IncidentLedger("inc-2", 0)
    other.close(3, at + timedelta(days=1) + POSTMORTEM_WITHIN)
    stored, expired = update_kept(stored, at + timedelta(days=1), add=other)
    assert expired == []
    stored, expired = update_kept(stored, at + POSTMORTEM_WITHIN + timedelta(hours=1))
    assert expired == ["inc-1"]
    stored, expired = update_kept(stored, at, drop="inc-2")
    assert (stored, expired) == (b"{}", [])
    assert kept_index_key("target", 3) != kept_index_key("announce", 3)


def test_the_post_mortem_is_targeted_on_email_inapp_and_the_status_page_only() -> None:
    policy = Policy.model_validate(P1_CHANNELS)
    postmortem = incident(3000, 6, Phase.resolved, change="postmortem")
    (request, *_) = plan_targeting(postmortem, policy, 4, helpdesk=True)
    assert request.channels == [Channel.email, Channel.inapp, Channel.statuspage]  # no sms, chat, helpdesk
    resolved = incident(60, 5, Phase.resolved)
    assert Channel.helpdesk in plan_targeting(resolved, policy, 4, helpdesk=True)[0].channels


def test_the_status_page_posts_the_post_mortem_while_the_public_ledger_is_kept() -> None:
    policy = Policy.model_validate(P1_CHANNELS)
    resolved = incident(60, 5, Phase.resolved)
    ledger = IncidentLedger("inc|public", 0)
    ledger.record(5, Note.of(resolved, RULE), [("public", [Channel.statuspage, Channel.social])])
    ledger.close(5, resolved.updated_at + POSTMORTEM_WITHIN)
    postmortem = incident(3000, 6, Phase.resolved, change="postmortem")
    assert due_channels(postmortem, policy, ledger) == [Channel.statuspage]
    late = postmortem.model_copy(update={"updated_at": resolved.updated_at + POSTMORTEM_WITHIN + timedelta(hours=1)})
    assert due_channels(late, policy, ledger) == []

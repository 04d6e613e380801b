"""Public posts (status page, social): the category's channels, the cadence, and the same review as
a customer's command — drafted from the templates, validated, held where the policy gates."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from factories import T0, ungated
from forewarn.policy import Policy
from forewarn.processors.audit import AuditTrail
from forewarn.processors.cadence import IncidentLedger, Note, Verdict
from forewarn.processors.draft import Drafter
from forewarn.processors.ids import notification_id
from forewarn.processors.public import (
    PUBLIC,
    due_channels,
    ledger_id,
    public_channels,
    public_command,
    verdict,
)
from forewarn.processors.review import VALIDATION_FAILED, Routed, route
from forewarn.processors.validate import validate
from forewarn.schemas.models import (
    Approval,
    ApprovalStatus,
    Channel,
    Incident,
    IncidentKind,
    NotificationCommand,
    Phase,
    Severity,
)

URL = "https://status.x.example"
BOTH = [Channel.statuspage, Channel.social]


def incident(version: int = 1, minute: float = 0, phase: Phase = Phase.investigating, **extra: Any) -> Incident:
    fields: dict[str, Any] = {
        "incident_id": "inc_1",
        "version": version,
        "dedup_key": "payments|eu-west|outage",
        "title": "Payments outage",
        "service": "payments",
        "region": "eu-west",
        "symptom": "outage",
        "phase": phase,
        "severity": Severity.P1,
        "kind": IncidentKind.regional_outage,
        "change": "opened" if version == 1 else "phase",
        "opened_at": T0,
        "updated_at": T0 + timedelta(minutes=minute),
        "first_signal_at": T0,
        "resolved_at": T0 + timedelta(minutes=minute) if phase is Phase.resolved else None,
        **extra,
    }
    return Incident(**fields)


def post(inc: Incident, channel: Channel, policy: Policy) -> tuple[Routed, Drafter]:
    """What review does with one public post: the template's draft in the default language, then route."""
    drafter = Drafter(policy, URL)
    skeleton = drafter.skeleton(inc, channel, policy.tone.default_language)
    command = public_command(inc, channel, now=T0, dry_run=False)
    return route(inc, command, skeleton, None, policy, AuditTrail("k"), "k", T0), drafter


# ---- channels: the category's rule ----------------------------------------------------------


def test_public_channels_follow_the_severity_table_and_skip_internal_or_internal_only_services() -> None:
    assert public_channels(incident(), Policy()) == BOTH
    assert public_channels(incident(severity=Severity.P3), Policy()) == [Channel.statuspage]
    assert public_channels(incident(internal=True), Policy()) == []
    hidden = Policy.model_validate({"services": {"payments": {"customer_facing": False}}})
    assert public_channels(incident(), hidden) == []


def test_the_categorys_channel_rule_overrides_the_policy_wide_channels() -> None:
    policy = Policy.model_validate(
        {
            "channels": {"P1": ["email", "statuspage", "social"]},
            "send_policy": {"categories": {"regional_outage": {"channels": {"P1": ["email", "social"]}}}},
        }
    )
    assert public_channels(incident(), policy) == [Channel.social]  # not the global statuspage
    other = incident(kind=IncidentKind.local_degradation)
    assert public_channels(other, policy) == BOTH  # other categories keep the policy-wide table
    quiet = Policy.model_validate({"send_policy": {"categories": {"regional_outage": {"channels": {"P1": ["email"]}}}}})
    assert public_channels(incident(), quiet) == []
    assert due_channels(incident(), quiet, IncidentLedger(ledger_id("inc_1"), 0)) == []


def test_one_command_per_channel_and_version_with_deterministic_ids() -> None:
    first = [public_command(incident(), c, now=T0, dry_run=False) for c in BOTH]
    assert [c.notification_id for c in first] == [notification_id("inc_1", 1, PUBLIC, c) for c in BOTH]
    again = [public_command(incident(), c, now=T0 + timedelta(hours=1), dry_run=False) for c in BOTH]
    assert [c.notification_id for c in again] == [c.notification_id for c in first]  # a replay posts nothing new
    later = public_command(incident(2), Channel.social, now=T0, dry_run=False)
    assert later.notification_id != first[1].notification_id
    assert {c.customer_id for c in first} == {PUBLIC} and first[0].recipients == [PUBLIC]


# ---- review: validated template text, or held ------------------------------------------------


def test_ungated_post_goes_to_its_channel_with_the_validated_template_text() -> None:
    policy = ungated()
    for channel in BOTH:
        routed, drafter = post(incident(), channel, policy)
        assert routed.topic == f"notify.{channel.value}" and isinstance(routed.record, NotificationCommand)
        skeleton = drafter.skeleton(incident(), channel, "en")
        assert skeleton.verdicts == ()
        words = skeleton.for_reader(None, policy.tone.public_timezone)
        cmd = routed.record
        assert cmd.text == words.text and cmd.template == "initial" and cmd.language == "en"
        assert "Payments outage in EU-WEST" in cmd.text and URL in cmd.text
        assert "{" not in cmd.text  # every placeholder filled for the public reader
        assert validate(words, skeleton.expectations) == []
        assert routed.audit.action == "drafted" and routed.audit.channel == channel.value
    social, _ = post(incident(), Channel.social, policy)
    assert isinstance(social.record, NotificationCommand) and len(social.record.text) <= 280


def test_public_posts_are_written_in_the_companys_default_language() -> None:
    routed, _ = post(incident(), Channel.social, ungated(tone={"default_language": "de"}))
    assert isinstance(routed.record, NotificationCommand) and routed.record.language == "de"
    assert "Untersuchung läuft" in routed.record.text
    fallback, _ = post(incident(), Channel.social, ungated(tone={"default_language": "xx"}))
    assert isinstance(fallback.record, NotificationCommand) and fallback.record.language == "en"


def test_gated_category_is_held_for_approval_never_emitted() -> None:
    for gate in ("always", "p1_p2"):
        policy = Policy.model_validate({"gates": {"categories": {"regional_outage": gate}}})
        for channel in BOTH:
            routed, _ = post(incident(), channel, policy)
            assert routed.topic == "approvals" and not routed.topic.startswith("notify.")
            approval = routed.record
            assert isinstance(approval, Approval) and approval.status is ApprovalStatus.pending
            assert approval.category == "regional_outage" and approval.verdicts == []
            assert approval.command.channel is channel and approval.command.customer_id == PUBLIC
            assert "Payments outage in EU-WEST" in approval.command.text  # the person approves the real words
            assert routed.key == approval.approval_id.encode() and routed.audit.action == "held"
    other_category_gated = ungated(gates={"categories": {"local_degradation": "always"}})
    assert post(incident(), Channel.social, other_category_gated)[0].topic == "notify.social"


def test_a_draft_that_fails_validation_is_held_with_its_verdicts() -> None:
    policy = Policy.model_validate({"tone": {"banned_phrases": ["no ETA yet"]}})
    routed, _ = post(incident(), Channel.social, policy)
    assert routed.topic == "approvals" and isinstance(routed.record, Approval)
    assert routed.record.reason == VALIDATION_FAILED and routed.record.category == "validation"
    assert routed.record.verdicts and any("no ETA yet" in v for v in routed.record.verdicts)


# ---- cadence ----------------------------------------------------------------------------------


def told(ledger: IncidentLedger, inc: Incident, policy: Policy, channels: list[Channel]) -> None:
    ledger.record(inc.version, Note.of(inc, policy.send_policy.rule(inc.kind)), [(PUBLIC, channels)])


def test_cadence_holds_back_updates_without_news_but_phase_changes_and_resolution_pass() -> None:
    policy, ledger = Policy(), IncidentLedger(ledger_id("inc_1"), 0)
    first = incident(1)
    assert due_channels(first, policy, ledger) == BOTH
    told(ledger, first, policy, BOTH)
    assert due_channels(first, policy, ledger) == []  # a replay of the same version
    flaps = [incident(v, minute=v, severity=Severity.P2 if v % 2 else Severity.P1) for v in range(2, 12)]
    assert [due_channels(f, policy, ledger) for f in flaps] == [[]] * 10  # flapping severity: nothing within 30 min
    identified = incident(12, minute=12, phase=Phase.identified)
    assert due_channels(identified, policy, ledger) == BOTH  # the page must not lag the phase
    told(ledger, identified, policy, BOTH)
    assert due_channels(incident(13, minute=20, phase=Phase.identified), policy, ledger) == []
    assert due_channels(incident(14, minute=45, phase=Phase.identified), policy, ledger) == BOTH  # promised update
    resolved = incident(15, minute=13, phase=Phase.resolved)
    assert due_channels(resolved, policy, ledger) == BOTH
    told(ledger, resolved, policy, BOTH)
    ledger.close(resolved.version)
    assert due_channels(resolved, policy, ledger) == []  # replayed after the resolution was posted
    assert due_channels(incident(16, minute=60), policy, ledger) == BOTH  # reopened: a first notice again


def test_cadence_is_per_channel_and_never_told_hears_no_resolution() -> None:
    policy, ledger = Policy(), IncidentLedger(ledger_id("inc_1"), 0)
    p3 = incident(1, severity=Severity.P3)
    told(ledger, p3, policy, due_channels(p3, policy, ledger))
    assert ledger.told_on(PUBLIC, Channel.social) is None
    resolved = incident(2, minute=5, phase=Phase.resolved, severity=Severity.P1)
    assert due_channels(resolved, policy, ledger) == [Channel.statuspage]  # social never said it was down


def test_phases_flapping_past_the_cap_stop_posting() -> None:
    policy = Policy.model_validate({"send_policy": {"default": {"max_per_channel": 2}}})
    rule, ledger = policy.send_policy.rule(IncidentKind.regional_outage), IncidentLedger(ledger_id("inc_1"), 0)
    phases = [Phase.investigating, Phase.identified, Phase.monitoring, Phase.identified]
    verdicts = []
    for version, phase in enumerate(phases, start=1):
        inc = incident(version, minute=version, phase=phase)
        verdicts.append(verdict(ledger.told_on(PUBLIC, Channel.social), inc, rule))
        if verdicts[-1].sends:
            told(ledger, inc, policy, [Channel.social])
    assert verdicts == [Verdict.first, Verdict.news, Verdict.capped, Verdict.capped]
    resolved = incident(9, minute=9, phase=Phase.resolved)
    assert verdict(ledger.told_on(PUBLIC, Channel.social), resolved, rule) is Verdict.resolution  # always, once

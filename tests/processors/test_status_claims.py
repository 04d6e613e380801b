"""Prose that contradicts the incident's status is caught per language; good drafts and every
shipped template (each language, channel and phase) pass."""

from __future__ import annotations

from dataclasses import replace

import pytest

from forewarn.policy import Policy
from forewarn.processors.draft import CHANNELS, LANGUAGES, TEMPLATES, Drafter
from forewarn.processors.draft.check import sample_incident
from forewarn.processors.draft.facts import STATUS_KEYS
from forewarn.processors.status_claims import CLAIMS, CONTRADICTS, contradictions
from forewarn.processors.validate import validate
from forewarn.schemas.models import Channel, Incident, Phase

URL = "https://status.example.com"
DRAFTER = Drafter(Policy(), URL)

#: Per language: a sentence claiming the incident is over, and one saying it is still being worked on.
OVER = {
    "en": "Good news: the issue has been fully resolved and service restored.",
    "de": "Die Störung wurde vollständig behoben.",
    "fr": "Le problème a été résolu.",
    "es": "El problema se ha resuelto por completo.",
    "pt": "O problema foi resolvido.",
    "ja": "問題は完全に解決しました。",
}
STILL = {
    "en": "We are still investigating the problem.",
    "de": "Wir untersuchen weiterhin die Störung.",
    "fr": "Nous poursuivons l’analyse du problème.",
    "es": "Seguimos investigando el problema.",
    "pt": "Ainda estamos investigando o problema.",
    "ja": "現在も調査中です。",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_resolved_claim_contradicts_investigating_and_an_ongoing_one_contradicts_resolved(language: str) -> None:
    assert [c.claim for c in contradictions(OVER[language], "investigating", language)][:1] == ["resolved"]
    assert contradictions(OVER[language], "resolved", language) == []
    assert [c.claim for c in contradictions(STILL[language], "resolved", language)] == ["ongoing"]
    assert contradictions(STILL[language], "investigating", language) == []


@pytest.mark.parametrize(
    "hedged",
    [
        "We will let you know as soon as service is fully restored.",
        "We will keep you posted until the issue is resolved.",
        "The issue isn't fully resolved yet.",
        "Service has not been restored.",
        "We expect it to be fully restored by {eta}.",
    ],
)
def test_conditions_futures_and_negations_are_not_claims(hedged: str) -> None:
    assert contradictions(hedged, "investigating", "en") == []


def test_a_resolution_may_say_the_root_cause_is_still_being_investigated() -> None:
    assert contradictions("It is resolved; we are still investigating the root cause.", "resolved", "en") == []
    assert contradictions("原因を引き続き調査しています。", "resolved", "ja") == []


def test_the_operators_cause_quoted_verbatim_is_not_the_drafters_claim() -> None:
    cause = "A rollback has been restored from backup."
    assert contradictions(f"What we know: {cause}", "identified", "en", quoted=(cause,)) == []
    assert contradictions(f"What we know: {cause}", "identified", "en") != []


def test_maintenance_claims_follow_the_window() -> None:
    assert [c.claim for c in contradictions("The maintenance is complete.", "in_progress", "en")] == ["completed"]
    assert [c.claim for c in contradictions("Die Wartung hat begonnen.", "scheduled", "de")] == ["underway"]
    assert contradictions("The maintenance is complete.", "completed", "en") == []


def test_every_shipped_language_has_phrases_and_every_status_has_rules() -> None:
    assert set(CLAIMS) == set(LANGUAGES)
    assert set(CONTRADICTS) == set(STATUS_KEYS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_validator_names_the_rule_and_passes_the_template(language: str) -> None:
    skeleton = DRAFTER.skeleton(sample_incident("initial"), Channel.email, language)
    assert validate(skeleton.draft, skeleton.expectations) == []
    lying = replace(skeleton.draft, text=OVER[language] + "\n\n" + skeleton.draft.text)
    verdicts = validate(lying, skeleton.expectations)
    assert {v.rule for v in verdicts} == {"status_contradiction"}
    assert "investigating" in str(verdicts[0])


def _versions() -> list[Incident]:
    out = []
    for template in TEMPLATES:
        incident = sample_incident(template)
        out.append(incident)
        out.append(incident.model_copy(update={"incident_id": f"{incident.incident_id}_nocause", "cause": None}))
    for phase in (Phase.investigating, Phase.identified, Phase.monitoring):
        out.append(sample_incident("update").model_copy(update={"incident_id": f"inc_{phase.value}", "phase": phase}))
    return out


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_in_every_channel_and_phase_makes_no_contradicting_claim(language: str) -> None:
    for incident in _versions():
        for channel in CHANNELS:
            skeleton = DRAFTER.skeleton(incident, channel, language)
            found = [str(v) for v in skeleton.verdicts]
            assert found == [], (incident.change, incident.phase, channel)


def test_a_hedge_in_an_earlier_clause_does_not_excuse_a_claim() -> None:
    assert contradictions("原因を特定し、問題は解決しました。", "identified", "ja") != []
    assert contradictions("We will update you soon. The issue has been resolved.", "investigating", "en") != []

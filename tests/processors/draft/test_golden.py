"""Golden files: every template in every channel and language, exactly as a customer receives it.

Regenerate after a deliberate wording change with ``FOREWARN_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

import pytest

from forewarn.policy import Policy
from forewarn.processors.draft import CHANNELS, LANGUAGES, TEMPLATES, Draft, Drafter, template_for
from forewarn.processors.draft.check import check_templates, sample_incident
from forewarn.processors.draft.facts import facts_for
from forewarn.processors.validate import Expectations, validate
from forewarn.schemas.models import Channel, Incident

from .samples import STATUS_URL, reader

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FOREWARN_UPDATE_GOLDEN") == "1"
DRAFTER = Drafter(Policy(), STATUS_URL)


def sections(words: Draft, channel: Channel) -> dict[str, str]:
    if channel is Channel.email:
        assert words.subject is not None and words.html is not None
        return {"email.subject": words.subject, "email.text": words.text, "email.html": words.html}
    if channel is Channel.helpdesk:
        assert words.subject is not None
        return {"helpdesk.subject": words.subject, "helpdesk": words.text}
    return {channel.value: words.text}


#: Versions beyond the one sample per template, where a flag changes what a message says.
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "resolution_sla_credit": ("resolution", {"flags": ["extended_outage", "executive_note", "sla_credit"]}),
    "resolution_plain": ("resolution", {"flags": []}),
    "maintenance_end_sla_credit": ("maintenance_end", {"flags": ["maintenance", "sla_credit"]}),
    # a post-mortem version written before postmortem_url: the status page is the only link
    "postmortem_without_url": ("postmortem", {"postmortem_url": None}),
}


def variant(name: str) -> Incident:
    template, update = VARIANTS[name]
    return sample_incident(template).model_copy(update={"incident_id": f"inc_{name}", **update})


def rendered(template: str, language: str, incident: Incident | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    for channel in CHANNELS:
        skeleton = DRAFTER.skeleton(incident or sample_incident(template), channel, language)
        assert skeleton.verdicts == (), [str(v) for v in skeleton.verdicts]
        out.update(sections(skeleton.for_reader(reader(language)), channel))
    return out


def as_file(parts: dict[str, str]) -> str:
    return "".join(f"=== {name} ===\n{text.rstrip()}\n" for name, text in parts.items())


def from_file(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        if line.startswith("=== ") and line.rstrip().endswith(" ==="):
            name = line.strip()[4:-4]
            parts[name] = ""
        elif name is not None:
            parts[name] += line
    return {k: v.rstrip() for k, v in parts.items()}


def assert_golden(path: Path, parts: dict[str, str]) -> None:
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(as_file(parts), encoding="utf-8")
    golden = from_file(path.read_text(encoding="utf-8"))
    assert set(golden) == {*parts}
    for name, text in parts.items():
        assert text.rstrip() == golden[name], f"{name} differs from {path}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_template_matches_golden_in_every_channel(template: str, language: str) -> None:
    assert_golden(GOLDEN / language / f"{template}.txt", rendered(template, language))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", VARIANTS)
def test_variant_matches_golden_in_every_channel(name: str, language: str) -> None:
    incident = variant(name)
    assert template_for(incident) == VARIANTS[name][0]
    assert_golden(GOLDEN / language / f"{name}.txt", rendered(VARIANTS[name][0], language, incident))


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("name", "credit"),
    [("resolution_sla_credit", True), ("resolution_plain", False), ("maintenance_end_sla_credit", True)],
)
def test_sla_credit_paragraph_whenever_a_credit_applies(name: str, credit: bool, language: str) -> None:
    incident = variant(name)
    paragraph = DRAFTER.parts(facts_for(incident, DRAFTER.policy), language)["sla_credit"]
    words = DRAFTER.skeleton(incident, Channel.email, language).for_reader(reader(language))
    assert (paragraph in words.text) is credit, (name, language)
    assert words.html is not None and (escape(paragraph) in words.html) is credit
    # the sample resolution (sla_breach) has it, the sample maintenance end (on time) does not
    for template, has in (("resolution", True), ("maintenance_end", False)):
        sample = DRAFTER.skeleton(sample_incident(template), Channel.email, language).for_reader(reader(language))
        assert (paragraph in sample.text) is has, template


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_personalised_draft_passes_validation_with_nothing_left_unfilled(template: str, language: str) -> None:
    for channel in CHANNELS:
        incident = sample_incident(template)
        words = DRAFTER.skeleton(incident, channel, language).for_reader(reader(language))
        report = facts_for(incident, DRAFTER.policy).postmortem_url  # the one other link a person gave
        expect = Expectations(
            channel=channel, language=language, status_url=STATUS_URL, links=(report,) if report else ()
        )
        assert validate(words, expect) == [], (template, language, channel)


def test_bundled_templates_pass_the_start_up_check() -> None:
    assert check_templates(Policy(), STATUS_URL) == []

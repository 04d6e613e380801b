"""Golden files: every template in every channel and language, exactly as a customer receives it.

Regenerate after a deliberate wording change with ``FOREWARN_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from forewarn.policy import Policy
from forewarn.processors.draft import CHANNELS, LANGUAGES, TEMPLATES, Draft, Drafter
from forewarn.processors.draft.check import check_templates, sample_incident
from forewarn.processors.validate import Expectations, validate
from forewarn.schemas.models import Channel

from .samples import STATUS_URL, reader

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FOREWARN_UPDATE_GOLDEN") == "1"
DRAFTER = Drafter(Policy(), STATUS_URL)


def sections(words: Draft, channel: Channel) -> dict[str, str]:
    if channel is Channel.email:
        assert words.subject is not None and words.html is not None
        return {"email.subject": words.subject, "email.text": words.text, "email.html": words.html}
    return {channel.value: words.text}


def rendered(template: str, language: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for channel in CHANNELS:
        skeleton = DRAFTER.skeleton(sample_incident(template), channel, language)
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


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_template_matches_golden_in_every_channel(template: str, language: str) -> None:
    path = GOLDEN / language / f"{template}.txt"
    parts = rendered(template, language)
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(as_file(parts), encoding="utf-8")
    golden = from_file(path.read_text(encoding="utf-8"))
    assert set(golden) == {*parts}
    for name, text in parts.items():
        assert text.rstrip() == golden[name], f"{language}/{template} {name} differs from {path}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", TEMPLATES)
def test_personalised_draft_passes_validation_with_nothing_left_unfilled(template: str, language: str) -> None:
    for channel in CHANNELS:
        words = DRAFTER.skeleton(sample_incident(template), channel, language).for_reader(reader(language))
        expect = Expectations(channel=channel, language=language, status_url=STATUS_URL)
        assert validate(words, expect) == [], (template, language, channel)


def test_bundled_templates_pass_the_start_up_check() -> None:
    assert check_templates(Policy(), STATUS_URL) == []

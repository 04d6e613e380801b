"""Rendering drafts from the bundled templates: per-language messages, per-channel layouts.

``templates/<lang>/messages.j2`` holds what is said, as named blocks (``initial_subject``,
``initial_body``, ``status_label``, ...); ``templates/layouts/<channel>.j2`` holds how a channel
arranges it. Both render in a sandbox with undefined variables as errors, the HTML layout with
autoescaping, so event text can neither inject markup nor template code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from forewarn.processors.draft.facts import PLACEHOLDER, TEMPLATES, Facts, skeleton_values
from forewarn.processors.draft.times import duration
from forewarn.schemas.models import Channel, DraftSource

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "pt", "ja")
FALLBACK_LANGUAGE = "en"
CHANNELS: tuple[Channel, ...] = (
    Channel.email,
    Channel.inapp,
    Channel.slack,
    Channel.teams,
    Channel.sms,
    Channel.statuspage,
    Channel.social,
    Channel.helpdesk,
)
#: Channels whose messages carry a subject of their own (``layouts/<channel>.subject.j2``): an email's,
#: and a helpdesk ticket's, which is what support agents see in their queue.
SUBJECT_CHANNELS: frozenset[Channel] = frozenset({Channel.email, Channel.helpdesk})
#: Rendered first, in this order, because later blocks (and the messages) use them as variables.
COMMON_BLOCKS: tuple[str, ...] = (
    "status_label",
    "what",
    "where",
    "title",
    "still_investigating",
    "impact",
    "greeting",
    "signoff",
    "link",
    "facts",
    "facts_short",
    "sla_credit",
    "helpdesk_intro",
)
MESSAGE_PARTS: tuple[str, ...] = ("subject", "headline", "body", "short")
#: A part only post-mortem messages have: the report's URL, which the HTML body links.
REPORT_URL = "report_url"


class DraftError(ValueError):
    """A template that cannot render, or a translation that is missing; says which and why."""


@dataclass(frozen=True)
class Draft:
    """A message for one channel. ``{placeholders}`` remain until ``personalise``."""

    template: str
    subject: str | None
    text: str
    html: str | None
    language: str = FALLBACK_LANGUAGE
    source: DraftSource = DraftSource.template


def bundled_templates() -> Path:
    return Path(str(resources.files("forewarn") / "templates"))


def _paragraphs(text: str, link: str = "") -> Markup:
    """Plain text to HTML paragraphs, escaping everything (autoescape does not reach filters).

    ``link`` (the post-mortem's URL, a plain http(s) one: ``facts.report_url``) becomes an
    anchor where the text states it, so an HTML reader can follow it like the status page link.
    """
    blocks = [b.strip() for b in re.split(r"\n\s*\n", str(text)) if b.strip()]
    html = "\n".join("<p>" + escape(b).replace("\n", "<br>\n") + "</p>" for b in blocks)
    if link:
        shown = escape(link)
        html = html.replace(shown, f'<a href="{shown}">{shown}</a>')
    return Markup(html)


def _environment(root: Path, autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(root)),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["paragraphs"] = _paragraphs
    return env


class Catalogue:
    """The template set: which languages exist, and rendering of one draft from a fact sheet."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or bundled_templates()
        self._text = _environment(self.root, autoescape=False)
        self._html = _environment(self.root, autoescape=True)
        self.languages = tuple(lang for lang in LANGUAGES if (self.root / lang / "messages.j2").is_file())
        if FALLBACK_LANGUAGE not in self.languages:
            raise DraftError(f"{self.root}: no {FALLBACK_LANGUAGE}/messages.j2, the fallback language")

    def language_for(self, requested: str) -> str:
        """The customer's language if we have it, else English."""
        lang = requested.strip().lower().replace("_", "-").split("-")[0]
        return lang if lang in self.languages else FALLBACK_LANGUAGE

    def _block(self, language: str, name: str, ctx: dict[str, Any]) -> str:
        path = f"{language}/messages.j2"
        try:
            template = self._text.get_template(path)
            block = template.blocks.get(name)
            if block is None:
                raise DraftError(f"{self.root / path}: missing translation: no block {name!r}")
            return "".join(block(template.new_context(ctx))).strip()
        except TemplateError as exc:
            raise DraftError(f"{self.root / path}: block {name!r} does not render: {exc}") from exc

    def parts(self, facts: Facts, language: str, status_url: str, tone: Mapping[str, str]) -> dict[str, str]:
        """Every block a layout may use, rendered for one fact sheet in one language."""
        ctx: dict[str, Any] = {
            **skeleton_values(facts),
            "service": facts.service,
            "region": facts.region,
            "severity": facts.severity,
            "phase": facts.phase,
            "symptom": facts.symptom,
            "status": facts.status,
            "cause": facts.cause,
            "sla_breached": facts.sla_breached,
            "duration": duration(facts.ongoing, language) if facts.ongoing else "",
            "status_url": status_url,
            "postmortem_url": facts.postmortem_url,
            "company": tone.get("company", ""),
        }
        for name in COMMON_BLOCKS:
            ctx[name] = self._block(language, name, ctx)
        parts = {name: ctx[name] for name in COMMON_BLOCKS}
        for part in MESSAGE_PARTS:
            parts[part] = self._block(language, f"{facts.template}_{part}", ctx)
        if tone.get("signoff"):
            parts["signoff"] = tone["signoff"]
        if facts.postmortem_url:
            parts[REPORT_URL] = facts.postmortem_url  # the HTML layout makes it a link
        return parts

    def _layout(self, name: str, parts: Mapping[str, str], language: str, status_url: str, html: bool) -> str:
        env = self._html if html else self._text
        try:
            out = env.get_template(f"layouts/{name}.j2").render(m=parts, status_url=status_url, language=language)
        except TemplateError as exc:
            raise DraftError(f"{self.root}/layouts/{name}.j2 does not render: {exc}") from exc
        return re.sub(r"\n{3,}", "\n\n", out).strip() + ("\n" if html or name == "email.text" else "")

    def arrange(
        self, parts: Mapping[str, str], template: str, channel: Channel, language: str, status_url: str
    ) -> Draft:
        """Lay out rendered parts for one channel."""
        if channel not in CHANNELS:
            raise DraftError(f"no template for channel {channel.value!r}; templates exist for {_names(CHANNELS)}")
        if channel is Channel.email:
            return Draft(
                template,
                self._layout("email.subject", parts, language, status_url, html=False).strip(),
                self._layout("email.text", parts, language, status_url, html=False),
                self._layout("email.html", parts, language, status_url, html=True),
                language,
            )
        subject = (
            self._layout(f"{channel.value}.subject", parts, language, status_url, html=False).strip()
            if channel in SUBJECT_CHANNELS
            else None
        )
        return Draft(
            template, subject, self._layout(channel.value, parts, language, status_url, html=False), None, language
        )

    def render(
        self, facts: Facts, channel: Channel, language: str, status_url: str, tone: Mapping[str, str] | None = None
    ) -> Draft:
        lang = self.language_for(language)
        return self.arrange(self.parts(facts, lang, status_url, tone or {}), facts.template, channel, lang, status_url)


def _names(channels: tuple[Channel, ...]) -> str:
    return ", ".join(c.value for c in channels)


#: Draft texts split at their placeholders (literal, name, literal, ...), by text: a skeleton's
#: words are filled for every reader of a fan-out, and a regex pass with a callback per
#: placeholder, three times a reader, was 5-8 % of the fan-out (bench/fanout_profile.py).
_SPLIT: dict[str, list[str]] = {}
_SPLIT_MAX = 4096


def _split(text: str) -> list[str]:
    parts = _SPLIT.get(text)
    if parts is None:
        if len(_SPLIT) >= _SPLIT_MAX:
            _SPLIT.clear()
        parts = _SPLIT[text] = PLACEHOLDER.split(text)
    return parts


def personalise(draft: Draft, values: Mapping[str, str]) -> Draft:
    """Fill the reader's placeholders; unknown ones stay so the validator can refuse the draft."""

    def fill(text: str, html: bool) -> str:
        parts = _split(text)
        if len(parts) == 1:
            return text
        out = parts.copy()
        for i in range(1, len(out), 2):
            name = out[i]
            if name not in values:
                out[i] = "{" + name + "}"
            else:
                out[i] = escape(values[name]) if html else values[name]
        return "".join(out)

    return replace(
        draft,
        subject=None if draft.subject is None else fill(draft.subject, False),
        text=fill(draft.text, False),
        html=None if draft.html is None else fill(draft.html, True),
    )


__all__ = ["CHANNELS", "LANGUAGES", "TEMPLATES", "Catalogue", "Draft", "DraftError", "personalise"]

"""The running incident summary: what is known and what is not, rewritten on every update.

It is built only from the fact sheet, so it can never claim more than the pipeline knows.
A model may rephrase it (``ModelSummary``) when one is configured, but its text must pass
the same checks as any draft — keep to the known facts, invent no times or links, leak
nothing internal the summary would not hold — or the template summary is used instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from forewarn.processors.internal import FactSheet
from forewarn.processors.validate import Verdict

_URL = re.compile(r"https?://[^\s<>\"')]+")
_CLOCK_TIME = re.compile(r"(?<!\d)(?:[01]?\d|2[0-3])[:h]\d{2}(?!\d)")

#: Rewrites a template summary; returns None when it has nothing better (or is not configured).
ModelSummary = Callable[[FactSheet, "Summary"], str | None]


@dataclass(frozen=True)
class Summary:
    known: tuple[str, ...]
    unknown: tuple[str, ...]
    source: str = "template"
    text_override: str | None = None

    @property
    def text(self) -> str:
        if self.text_override is not None:
            return self.text_override
        lines = ["Known:", *(f"- {k}" for k in self.known)]
        if self.unknown:
            lines += ["Not known yet:", *(f"- {u}" for u in self.unknown)]
        return "\n".join(lines)


def _duration(minutes: float) -> str:
    hours, mins = divmod(int(minutes), 60)
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def summarise(sheet: FactSheet) -> Summary:
    i = sheet.incident
    open_for = (sheet.now - i.opened_at).total_seconds() / 60
    known = [
        f"{i.service} in {i.region}: {i.title} ({i.severity.value}, {i.kind.value.replace('_', ' ')})",
        f"phase {i.phase.value} after {len(sheet.history) or 1} update(s); open {_duration(max(open_for, 0))}",
    ]
    unknown: list[str] = []
    if i.phase.value == "resolved" and i.resolved_at is not None:
        took = _duration((i.resolved_at - i.opened_at).total_seconds() / 60)
        known[1] = f"resolved at {i.resolved_at:%H:%M} UTC, {took} after opening"
    if i.cause:
        known.append(f"cause: {i.cause}")
    else:
        unknown.append("the cause")
    if i.eta is not None:
        known.append(f"ETA {i.eta:%Y-%m-%d %H:%M} UTC")
    elif i.phase.value != "resolved":
        unknown.append("when it will be fixed (no ETA)")
    if not sheet.targeted:
        known.append("no customers targeted")
    elif sheet.impact_complete:
        share = f" ({sheet.share:.1%} of active)" if sheet.share is not None else ""
        known.append(f"{sheet.affected} customers affected{share}, {sheet.enterprise} enterprise")
    else:
        unknown.append(f"full impact ({sheet.partitions_reported} of {sheet.partitions} partitions counted)")
    if sheet.held:
        known.append(f"{sum(sheet.held.values())} draft(s) waiting for approval")
    return Summary(tuple(known), tuple(unknown))


def check_model_summary(text: str, template: Summary, internal_terms: list[str]) -> list[Verdict]:
    """A model's summary may rephrase the template but not add times, links or facts beyond it."""
    verdicts = []
    if not text.strip():
        verdicts.append(Verdict("facts", "empty summary"))
    allowed_times = set(_CLOCK_TIME.findall(template.text))
    for found in _CLOCK_TIME.findall(text):
        if found not in allowed_times:
            verdicts.append(Verdict("invented_fact", f"time {found!r} is not in the fact sheet"))
    for url in _URL.findall(text):
        verdicts.append(Verdict("invented_fact", f"link {url!r} is not in the fact sheet"))
    lowered = text.lower()
    for term in internal_terms:
        if term.lower() in lowered and term.lower() not in template.text.lower():
            verdicts.append(Verdict("invented_fact", f"mentions {term!r}, which the summary does not"))
    if len(text) > 2000:
        verdicts.append(Verdict("length", f"summary is {len(text)} characters (max 2000)"))
    return verdicts


def running_summary(
    sheet: FactSheet, model: ModelSummary | None = None, internal_terms: list[str] | None = None
) -> tuple[Summary, list[Verdict]]:
    """The summary to show, and the verdicts that sent a model's rewrite back to the template."""
    template = summarise(sheet)
    if model is None:
        return template, []
    rewrite = model(sheet, template)
    if rewrite is None:
        return template, []
    verdicts = check_model_summary(rewrite, template, internal_terms or [])
    if verdicts:
        return template, verdicts
    return Summary(template.known, template.unknown, "model", rewrite.strip()), []

"""Every draft is checked before anyone can receive it, whoever wrote it (template, model, person).

``validate`` returns verdicts — one per broken rule, empty when the draft may go out. A draft
with verdicts is never sent: a model draft falls back to the template, a template draft goes to
a person with the verdicts listed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from forewarn.processors.draft.facts import PLACEHOLDER
from forewarn.processors.draft.render import Draft
from forewarn.processors.sms import plain, segments
from forewarn.processors.status_claims import contradictions
from forewarn.schemas.models import Channel

#: Characters per channel (SMS is counted in segments instead).
MAX_LENGTH: dict[Channel, int] = {
    Channel.email: 20_000,
    Channel.inapp: 280,
    Channel.slack: 3_000,
    Channel.teams: 3_000,
    Channel.statuspage: 5_000,
    Channel.social: 280,
}
MAX_SUBJECT = 200
MAX_SMS_SEGMENTS = 2
#: Placeholder stand-ins as wide as the widest value they can take, so a draft that fits with
#: placeholders also fits once they are filled.
_WIDEST = {"account": "A" * 60, "short": "X" * 22, "full": "X" * 34}

_TEMPLATE_LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|%\([a-z_]+\)s|\$\{[a-z_]+\}|\[\[[^\]]*\]\]")
_IPV4 = re.compile(r"(?<![\d.])(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}(?![\w:])")
_INTERNAL_HOST = re.compile(
    r"\b(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:internal|local|lan|corp|intra|intranet|localdomain|svc|home\.arpa))\b",
    re.IGNORECASE,
)
_STACK_TRACE = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|^\s+at [\w$.]+\([\w$]+\.(?:java|kt|scala|cs):\d+\)"
    r"|\b\w+(?:Exception|Error): |goroutine \d+ \[|^panic: |\bsegmentation fault\b|NullPointerException",
    re.MULTILINE,
)
_SECRET = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\bAKIA[0-9A-Z]{16}\b|\bsk-[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.|\bBearer\s+[A-Za-z0-9._~+/-]{16,}"
    r"|\b(?:password|passwd|secret|api[_-]?key|token)\s*[=:]\s*\S{4,}",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s<>\"')]+")
_CLOCK_TIME = re.compile(r"(?<!\d)(?:[01]?\d|2[0-3])[:h]\d{2}(?!\d)")
_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")

STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "is",
            "are",
            "we",
            "you",
            "to",
            "of",
            "for",
            "in",
            "has",
            "have",
            "been",
            "our",
            "your",
            "not",
            "with",
            "this",
            "will",
            "yet",
            "do",
            "all",
            "it",
            "be",
            "was",
            "on",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "sind",
            "wir",
            "sie",
            "ihr",
            "ihre",
            "nicht",
            "mit",
            "bei",
            "für",
            "von",
            "zu",
            "den",
            "dem",
            "ein",
            "eine",
            "noch",
            "keine",
            "auf",
            "nichts",
            "wird",
            "hat",
            "es",
            "müssen",
            "unsere",
            "unser",
            "wieder",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "et",
            "est",
            "sont",
            "nous",
            "vous",
            "des",
            "du",
            "un",
            "une",
            "pour",
            "pas",
            "qui",
            "sur",
            "au",
            "aux",
            "ne",
            "rien",
            "votre",
            "notre",
            "été",
            "avons",
            "été",
            "cette",
            "tenons",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "los",
            "las",
            "y",
            "es",
            "son",
            "estamos",
            "del",
            "una",
            "para",
            "que",
            "por",
            "con",
            "su",
            "sus",
            "se",
            "ha",
            "hemos",
            "le",
            "nada",
            "está",
            "al",
            "lo",
            "esta",
            "todavía",
        ]
    ),
    "pt": frozenset(
        [
            "o",
            "os",
            "as",
            "e",
            "é",
            "são",
            "estamos",
            "do",
            "da",
            "dos",
            "das",
            "um",
            "uma",
            "para",
            "em",
            "não",
            "que",
            "com",
            "seu",
            "sua",
            "foi",
            "você",
            "nada",
            "está",
            "ao",
            "nossos",
        ]
    ),
}


@dataclass(frozen=True)
class Verdict:
    """One broken rule, phrased for the person who has to fix the draft."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass(frozen=True)
class Expectations:
    """What a draft for one channel and language must (and must not) contain."""

    channel: Channel
    language: str
    status_url: str
    facts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    placeholders: frozenset[str] = frozenset()
    banned_phrases: tuple[str, ...] = ()
    never_mention: tuple[str, ...] = ()
    #: Internal facts behind the incident (signals, rule, internal services, approvers): matched
    #: as whole words, case-insensitively (``forewarn.processors.draft.facts.internal_facts``).
    internal_terms: tuple[str, ...] = ()
    #: Other customers' names (never the reader's own), matched as whole words.
    customer_names: Collection[str] = ()
    model_written: bool = False
    #: The status the version is in (``facts.STATUS_KEYS``): the prose may not claim otherwise
    #: (``forewarn.processors.status_claims``). None: not checked.
    status: str | None = None
    #: Incident facts a draft repeats verbatim (the operator's cause): not the drafter's claims.
    quoted: tuple[str, ...] = ()
    #: Links a draft may carry besides the status page: the published post-mortem a person gave.
    links: tuple[str, ...] = ()


def _widest(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "account":
            return _WIDEST["account"]
        return _WIDEST["short"] if name.endswith("_short") else _WIDEST["full"]

    return PLACEHOLDER.sub(one, text)


def _length(draft: Draft, expect: Expectations) -> Iterable[Verdict]:
    text = _widest(draft.text)
    if expect.channel is Channel.sms:
        encoding, count = segments(text)
        if count > MAX_SMS_SEGMENTS:
            yield Verdict("length", f"sms needs {count} {encoding} segments (max {MAX_SMS_SEGMENTS})")
        return
    limit = MAX_LENGTH.get(expect.channel)
    if limit is not None and len(text) > limit:
        yield Verdict("length", f"{expect.channel.value} text is {len(text)} characters (max {limit})")
    if draft.subject is not None and len(_widest(draft.subject)) > MAX_SUBJECT:
        yield Verdict("length", f"subject is {len(draft.subject)} characters (max {MAX_SUBJECT})")
    if expect.channel is Channel.email and not (draft.subject or "").strip():
        yield Verdict("length", "email has no subject")


def _placeholders(texts: list[str], allowed: frozenset[str]) -> Iterable[Verdict]:
    for text in texts:
        leftover = _TEMPLATE_LEFTOVER.search(text)
        if leftover:
            yield Verdict("placeholder", f"template syntax left in the text: {leftover.group(0)!r}")
            return
        unfilled = sorted({m.group(1) for m in PLACEHOLDER.finditer(text)} - allowed)
        if unfilled:
            yield Verdict("placeholder", "unfilled placeholder " + ", ".join("{" + n + "}" for n in unfilled))
            return


def _leaks(text: str, expect: Expectations) -> Iterable[Verdict]:
    without_urls = _URL.sub(" ", text)
    for pattern, rule, what in (
        (_IPV4, "internal_host", "IP address"),
        (_IPV6, "internal_host", "IP address"),
        (_INTERNAL_HOST, "internal_host", "internal hostname"),
        (_STACK_TRACE, "stack_trace", "stack trace"),
        (_SECRET, "secret", "what looks like a secret"),
    ):
        found = pattern.search(without_urls if rule != "secret" else text)
        if found:
            shown = found.group(0) if rule != "secret" else found.group(0)[:6] + "…"
            yield Verdict(rule, f"{what} in the text: {shown!r}")
    for url in _URL.findall(text):
        host = url.split("/")[2] if url.count("/") >= 2 else url
        if _INTERNAL_HOST.fullmatch(host.split(":")[0]) or _IPV4.fullmatch(host.split(":")[0]):
            yield Verdict("internal_host", f"link to an internal address: {url!r}")
    lowered = text.lower()
    for term in expect.never_mention:
        if term and term.lower() in lowered:
            yield Verdict("internal_host", f"mentions {term!r}, which the policy says never to mention")


def _internal(text: str, expect: Expectations) -> Iterable[Verdict]:
    for term in expect.internal_terms:
        if term and re.search(r"(?<!\w)" + re.escape(term) + r"(?!\w)", text, re.IGNORECASE):
            yield Verdict("internal_fact", f"states {term!r}, an internal fact (signal, rule, service or approver)")


def name_key(name: str) -> str:
    """How a customer name is compared: its words, lower-cased, single-spaced."""
    return " ".join(w.lower() for w in _WORD.findall(name))


def word_grams(text: str) -> frozenset[str]:
    """Every run of one to five words of the text, lower-cased (what ``name_key`` is looked up in)."""
    words = [w.lower() for w in _WORD.findall(text)]
    return frozenset(" ".join(words[i : i + n]) for n in range(1, 6) for i in range(len(words) - n + 1))


def named(text: str, grams: frozenset[str], keyed: Iterable[tuple[str, str]]) -> list[str]:
    """The names (given with their ``name_key``) that occur in ``text`` (whose ``word_grams`` are given)."""
    hits = []
    for name, key in keyed:
        if len(key) < 3:
            continue
        if key in grams or (_CJK.search(name) and name in text):
            hits.append(name)
    return sorted(hits)


def customer_name_hits(text: str, names: Collection[str]) -> list[str]:
    """Other customers' names in the text, matched on whole words, case-insensitively."""
    if not names:
        return []
    return named(text, word_grams(text), ((name, name_key(name)) for name in names))


def _facts(text: str, expect: Expectations) -> Iterable[Verdict]:
    lowered = plain(text).lower()
    for fact, alternatives in expect.facts.items():
        if not any(alt and plain(alt).lower() in lowered for alt in alternatives):
            shown = " or ".join(repr(a) for a in alternatives if a)
            yield Verdict("facts", f"{fact} missing (expected {shown})")


def _foreign_links(text: str, expect: Expectations) -> Iterable[Verdict]:
    """Only our status page (and a post-mortem a person published) may be linked: a link from
    event text or a model is never passed on."""
    for url in _URL.findall(text):
        if not url.startswith(expect.status_url) and url.rstrip(".,;:!?") not in expect.links:
            yield Verdict("invented_fact", f"link that is not our status page: {url!r}")


def _model_facts(text: str, expect: Expectations) -> Iterable[Verdict]:
    """A model may only restate the fact sheet: no times it made up (times are placeholders)."""
    stray = _CLOCK_TIME.search(PLACEHOLDER.sub(" ", _URL.sub(" ", text)))
    if stray:
        yield Verdict("invented_fact", f"time {stray.group(0)!r} not from the fact sheet (times are placeholders)")


def _status(text: str, expect: Expectations) -> Iterable[Verdict]:
    """The facts block states the right status; the words around it must not say another."""
    if expect.status is None:
        return
    for claim in contradictions(text, expect.status, expect.language, expect.quoted):
        said = f"says {claim.phrase!r} ({claim.claim})"
        yield Verdict("status_contradiction", f"{said} but the status is {expect.status}")


def detect_language(text: str) -> str | None:
    """The most likely of our languages, or None when the text is too short to tell."""
    text = PLACEHOLDER.sub(" ", _URL.sub(" ", text))
    letters = [c for c in text if c.isalpha()]
    if letters and sum(1 for c in letters if _CJK.match(c)) / len(letters) > 0.2:
        return "ja"
    words = [w.lower() for w in _WORD.findall(text)]
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in STOPWORDS.items()}
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if ranked[0][1] < 3 or ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]


def validate(draft: Draft, expect: Expectations) -> list[Verdict]:
    texts = [t for t in (draft.subject, draft.text, draft.html) if t]
    visible = "\n".join(t for t in (draft.subject, draft.text) if t)
    verdicts = [*_length(draft, expect), *_placeholders(texts, expect.placeholders)]
    if expect.status_url not in draft.text or (draft.html is not None and expect.status_url not in draft.html):
        verdicts.append(Verdict("link", f"status page link {expect.status_url} missing"))
    verdicts += _leaks(visible, expect)
    verdicts += _internal(visible, expect)
    hits = customer_name_hits(visible, expect.customer_names)
    if hits:
        verdicts.append(Verdict("other_customer", "names another customer: " + ", ".join(hits)))
    verdicts += _facts(visible, expect)
    verdicts += _status(visible, expect)
    lowered = visible.lower()
    for phrase in expect.banned_phrases:
        if phrase and phrase.lower() in lowered:
            verdicts.append(Verdict("banned_phrase", f"uses {phrase!r} (tone guide)"))
    detected = detect_language(visible)
    if detected is not None and detected != expect.language:
        verdicts.append(Verdict("language", f"reads as {detected!r}, expected {expect.language!r}"))
    verdicts += _foreign_links(visible, expect)
    if expect.model_written:
        verdicts += _model_facts(visible, expect)
    return verdicts

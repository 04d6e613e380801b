"""What a draft's prose claims about the incident's status, per language, from phrase lists.

The required-facts check cannot see a contradiction: the layouts append a facts block with the
right status label, so a model draft saying "fully resolved" while the incident is still being
investigated has every required fact and would go out. This module finds status *claims* in the
words themselves — "has been resolved", "service restored", "still investigating" — and
``CONTRADICTS`` says which claims a status rules out.

Phrases are data: one ``LanguageClaims`` per shipped language, matched case-insensitively on
whole words (Japanese, written without spaces, on substrings). A phrase is not a claim when a
hedge stands close to it in the same clause: a condition or future ("until", "once", "will"),
or a negation ("not") before it; a cause after it ("still investigating the root cause" is what
a resolution may say). False positives are safe — a model draft falls back to the template, a
person's edit is refused with the verdict — so the lists favour plain, unambiguous wording.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Claim names, as they appear in verdicts.
RESOLVED = "resolved"  # the incident is over
RESTORED = "restored"  # the service works again (a monitoring version may say so)
ONGOING = "ongoing"  # the incident is still being worked on
UNDERWAY = "underway"  # maintenance is running
COMPLETED = "completed"  # maintenance is done

#: Per status (``forewarn.processors.draft.facts.STATUS_KEYS``): the claims that contradict it.
CONTRADICTS: Mapping[str, frozenset[str]] = {
    "investigating": frozenset({RESOLVED, RESTORED}),
    "identified": frozenset({RESOLVED, RESTORED}),
    "monitoring": frozenset({RESOLVED}),
    "resolved": frozenset({ONGOING}),
    "false_alarm": frozenset({ONGOING}),
    "scheduled": frozenset({UNDERWAY, COMPLETED}),
    "in_progress": frozenset({COMPLETED}),
    "completed": frozenset({UNDERWAY, ONGOING}),
    "cancelled": frozenset({UNDERWAY, COMPLETED}),
}


@dataclass(frozen=True)
class LanguageClaims:
    """One language's claim phrases and the hedges that make a phrase no claim."""

    claims: Mapping[str, tuple[str, ...]]
    #: Words (tokens) within ``window`` tokens before a phrase, same clause: a condition, a
    #: future or a negation. For ``spaced=False`` languages: substrings within ``window`` characters.
    before: tuple[str, ...] = ()
    #: The same, after a phrase (a cause being investigated; Japanese conditional endings).
    after: tuple[str, ...] = ()
    spaced: bool = True
    window: int = 8


CLAIMS: Mapping[str, LanguageClaims] = {
    "en": LanguageClaims(
        claims={
            RESOLVED: (
                "has been resolved",
                "have been resolved",
                "is resolved",
                "are resolved",
                "is now resolved",
                "fully resolved",
                "completely resolved",
                "has been fixed",
                "is fixed",
                "is now fixed",
                "incident is over",
                "incident is closed",
            ),
            RESTORED: (
                "service restored",
                "services restored",
                "has been restored",
                "have been restored",
                "is restored",
                "are restored",
                "fully restored",
                "is back to normal",
                "are back to normal",
                "back up and running",
                "back online",
                "working normally again",
                "fully operational again",
                "fully operational",
            ),
            ONGOING: (
                "still investigating",
                "are investigating",
                "are currently investigating",
                "continue to investigate",
                "continuing to investigate",
                "investigation is ongoing",
                "investigation is still ongoing",
                "still working on a fix",
                "are working on a fix",
                "not yet resolved",
                "has not been resolved",
                "still unavailable",
                "remains unavailable",
                "still experiencing",
            ),
            UNDERWAY: (
                "maintenance is in progress",
                "maintenance is underway",
                "maintenance is under way",
                "maintenance has started",
                "maintenance is ongoing",
                "maintenance is still running",
            ),
            COMPLETED: (
                "maintenance is complete",
                "maintenance is completed",
                "maintenance has been completed",
                "maintenance has finished",
                "maintenance has ended",
                "maintenance is over",
            ),
        },
        before=(
            "until",
            "once",
            "when",
            "whenever",
            "after",
            "before",
            "if",
            "unless",
            "soon",
            "will",
            "would",
            "should",
            "may",
            "might",
            "expect",
            "expected",
            "expecting",
            "hope",
            "aim",
            "not",
            "never",
            "no",
            "isn't",
            "aren't",
            "hasn't",
            "haven't",
            "wasn't",
            "weren't",
            "won't",
            "cannot",
            "can't",
        ),
        after=("cause", "causes", "why", "prevent", "improvements", "lessons"),
    ),
    "de": LanguageClaims(
        claims={
            RESOLVED: (
                "ist behoben",
                "sind behoben",
                "wurde behoben",
                "wurden behoben",
                "ist nun behoben",
                "vollständig behoben",
                "ist gelöst",
                "wurde gelöst",
                "ist beseitigt",
                "wurde beseitigt",
            ),
            RESTORED: (
                "wiederhergestellt",
                "funktioniert wieder",
                "funktionieren wieder",
                "läuft wieder",
                "laufen wieder",
                "wieder verfügbar",
                "wieder erreichbar",
                "wieder normal",
                "wieder voll funktionsfähig",
            ),
            ONGOING: (
                "untersuchen weiterhin",
                "untersuchen noch",
                "wir untersuchen",
                "noch nicht behoben",
                "arbeiten an einer lösung",
                "arbeiten weiterhin",
                "weiterhin nicht erreichbar",
                "weiterhin gestört",
                "noch immer nicht erreichbar",
            ),
            UNDERWAY: ("wartung läuft", "wartung hat begonnen", "wartung ist im gange", "wartung dauert an"),
            COMPLETED: ("wartung ist abgeschlossen", "wartung wurde abgeschlossen", "wartung ist beendet"),
        },
        before=(
            "sobald",
            "bis",
            "wenn",
            "falls",
            "nachdem",
            "bevor",
            "wird",
            "werden",
            "soll",
            "sollte",
            "sollen",
            "voraussichtlich",
            "erwarten",
            "hoffen",
            "nicht",
            "kein",
            "keine",
            "nie",
        ),
        after=("ursache", "ursachen", "warum"),
    ),
    "fr": LanguageClaims(
        claims={
            RESOLVED: (
                "est résolu",
                "est résolue",
                "sont résolus",
                "a été résolu",
                "a été résolue",
                "ont été résolus",
                "entièrement résolu",
                "complètement résolu",
                "est corrigé",
                "a été corrigé",
            ),
            RESTORED: (
                "rétabli",
                "rétablie",
                "rétablis",
                "fonctionne de nouveau",
                "fonctionne à nouveau",
                "de nouveau disponible",
                "à nouveau disponible",
                "de nouveau opérationnel",
                "revenu à la normale",
                "retour à la normale",
            ),
            ONGOING: (
                "poursuivons l'analyse",
                "poursuivons nos recherches",
                "continuons d'analyser",
                "continuons à analyser",
                "nous analysons",
                "nous enquêtons",
                "pas encore résolu",
                "travaillons sur un correctif",
                "préparons un correctif",
                "toujours indisponible",
                "reste indisponible",
            ),
            UNDERWAY: ("maintenance est en cours", "maintenance a commencé", "maintenance se poursuit"),
            COMPLETED: ("maintenance est terminée", "maintenance a été terminée", "maintenance est achevée"),
        },
        before=(
            "jusqu",
            "dès",
            "lorsque",
            "quand",
            "fois",
            "si",
            "avant",
            "après",
            "sera",
            "seront",
            "devrait",
            "devraient",
            "prévoyons",
            "espérons",
            "pas",
            "ne",
            "n",
            "jamais",
        ),
        after=("cause", "causes", "pourquoi"),
    ),
    "es": LanguageClaims(
        claims={
            RESOLVED: (
                "se ha resuelto",
                "se han resuelto",
                "ha sido resuelto",
                "ha sido resuelta",
                "está resuelto",
                "está resuelta",
                "quedó resuelto",
                "ha quedado resuelto",
                "completamente resuelto",
                "se ha solucionado",
                "está solucionado",
            ),
            RESTORED: (
                "restablecido",
                "restablecida",
                "restablecidos",
                "vuelve a funcionar",
                "ha vuelto a funcionar",
                "vuelve a estar disponible",
                "de nuevo disponible",
                "operativo de nuevo",
                "funciona con normalidad de nuevo",
            ),
            ONGOING: (
                "seguimos investigando",
                "estamos investigando",
                "continuamos investigando",
                "sigue sin resolverse",
                "no se ha resuelto",
                "estamos trabajando en una solución",
                "sigue sin estar disponible",
                "sigue sin funcionar",
            ),
            UNDERWAY: ("mantenimiento está en curso", "ha comenzado el mantenimiento", "mantenimiento ha comenzado"),
            COMPLETED: ("mantenimiento ha finalizado", "mantenimiento ha terminado", "mantenimiento se ha completado"),
        },
        before=(
            "hasta",
            "cuando",
            "vez",
            "si",
            "antes",
            "después",
            "pronto",
            "cuanto",
            "será",
            "serán",
            "debería",
            "esperamos",
            "prevemos",
            "no",
            "nunca",
        ),
        after=("causa", "causas", "por qué"),
    ),
    "pt": LanguageClaims(
        claims={
            RESOLVED: (
                "foi resolvido",
                "foi resolvida",
                "foram resolvidos",
                "está resolvido",
                "está resolvida",
                "totalmente resolvido",
                "foi corrigido",
                "foi solucionado",
            ),
            RESTORED: (
                "restabelecido",
                "restabelecida",
                "foi restaurado",
                "foi restaurada",
                "voltou a funcionar",
                "volta a funcionar",
                "disponível novamente",
                "normalizado",
                "normalizada",
            ),
            ONGOING: (
                "ainda estamos investigando",
                "estamos investigando",
                "continuamos investigando",
                "seguimos investigando",
                "ainda não foi resolvido",
                "ainda não foi resolvida",
                "estamos trabalhando em uma correção",
                "continua indisponível",
                "segue indisponível",
            ),
            UNDERWAY: ("manutenção está em andamento", "manutenção começou", "manutenção está em curso"),
            COMPLETED: ("manutenção foi concluída", "manutenção está concluída", "manutenção terminou"),
        },
        before=(
            "até",
            "quando",
            "assim",
            "caso",
            "antes",
            "depois",
            "após",
            "logo",
            "será",
            "serão",
            "deve",
            "deverá",
            "esperamos",
            "prevemos",
            "não",
            "nunca",
        ),
        after=("causa", "causas", "por que"),
    ),
    "ja": LanguageClaims(
        claims={
            RESOLVED: ("解決しました", "解決いたしました", "解消しました", "解消いたしました", "完全に解決"),
            RESTORED: ("復旧しました", "復旧いたしました", "正常に戻りました", "復旧済み", "正常に復旧"),
            ONGOING: (
                "調査中です",
                "調査を続けています",
                "調査しています",
                "引き続き調査",
                "対応中です",
                "修正に取り組んでいます",
                "復旧していません",
                "解決していません",
            ),
            UNDERWAY: ("メンテナンスを開始しました", "メンテナンスを実施中", "メンテナンス中です"),
            COMPLETED: ("メンテナンスが完了しました", "メンテナンスを完了しました", "メンテナンスは完了"),
        },
        before=("原因",),
        after=("ら", "次第", "予定", "見込み"),
        spaced=False,
        window=10,
    ),
}

_CLAUSE_END = re.compile(r"[.!?;:\n。、！？；：]")
_TOKEN = re.compile(r"[\w']+", re.UNICODE)


@dataclass(frozen=True)
class StatusClaim:
    """A phrase found in a draft that claims ``claim`` about the incident."""

    claim: str
    phrase: str


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'").replace("‘", "'")).lower()


def _clause_before(text: str, start: int) -> str:
    ends = [m.end() for m in _CLAUSE_END.finditer(text, 0, start)]
    return text[ends[-1] if ends else 0 : start]


def _clause_after(text: str, end: int) -> str:
    found = _CLAUSE_END.search(text, end)
    return text[end : found.start() if found else len(text)]


def _hedged(text: str, start: int, end: int, words: LanguageClaims) -> bool:
    before, after = _clause_before(text, start), _clause_after(text, end)
    if not words.spaced:
        near_before, near_after = before[-words.window :], after[: words.window]
        return any(h in near_before for h in words.before) or any(h in near_after for h in words.after)
    tokens_before = set(_TOKEN.findall(before)[-words.window :])
    near_after = " ".join(_TOKEN.findall(after)[: words.window // 2])
    if not tokens_before.isdisjoint(words.before):
        return True
    return any(re.search(r"(?<!\w)" + re.escape(h) + r"(?!\w)", near_after) for h in words.after)


def claims_in(text: str, language: str, quoted: Iterable[str] = ()) -> list[StatusClaim]:
    """The status claims ``text`` makes in ``language`` (none for a language without phrases).

    ``quoted`` are facts repeated verbatim from the incident (an operator's cause): what they say
    is the incident's own record, not the drafter's claim, so they are left out.
    """
    words = CLAIMS.get(language)
    if words is None:
        return []
    lowered = _normalised(text)
    for fact in quoted:
        if fact.strip():
            lowered = lowered.replace(_normalised(fact), " ")
    found: list[StatusClaim] = []
    for claim, phrases in words.claims.items():
        phrase = next((p for p in phrases if _claimed(lowered, p, words)), None)
        if phrase is not None:  # one finding per claim: the verdict names the first phrase
            found.append(StatusClaim(claim, phrase))
    return found


def _claimed(lowered: str, phrase: str, words: LanguageClaims) -> bool:
    pattern = re.escape(_normalised(phrase))
    if words.spaced:
        pattern = r"(?<!\w)" + pattern + r"(?!\w)"
    return any(not _hedged(lowered, m.start(), m.end(), words) for m in re.finditer(pattern, lowered))


def contradictions(text: str, status: str, language: str, quoted: Iterable[str] = ()) -> list[StatusClaim]:
    """The claims in ``text`` that contradict ``status`` (empty for a status without rules)."""
    ruled_out = CONTRADICTS.get(status, frozenset())
    return [c for c in claims_in(text, language, quoted) if c.claim in ruled_out]

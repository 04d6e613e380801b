"""The company's own view of an incident: the war-room update and the support team's pack.

Both are rendered from one ``FactSheet``: the incident version plus what customers are never
told — the signals and rule behind it, the services it depends on, how many customers of which
plan and region are affected, and which drafts wait for whose approval. ``internal_terms``
names the facts from the sheet that must never reach a customer; every customer draft is
checked against the same terms (``forewarn.processors.draft.facts.internal_facts``, the
validator's ``internal_terms``).

The support team's canned responses are the customer drafts themselves (same templates, same
facts, the reader's language), addressed to a placeholder reader, so what support says can
never disagree with what customers were told.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from forewarn.policy import Policy
from forewarn.processors.draft import Draft
from forewarn.processors.draft.facts import dependency_chain as dependency_chain
from forewarn.processors.draft.facts import internal_facts
from forewarn.processors.ids import stable_id
from forewarn.schemas.models import (
    AffectedAccount,
    Channel,
    Contacts,
    CustomerSegment,
    Incident,
    NotificationCommand,
)

#: Who inside the company hears what.
WAR_ROOM, SUPPORT, LEADERSHIP = "war_room", "support", "leadership"
AUDIENCES: tuple[str, ...] = (WAR_ROOM, SUPPORT, LEADERSHIP)
#: How a canned response addresses the customer until the support agent fills it in.
READER = "[customer name]"


@dataclass(frozen=True)
class CustomerDraft:
    """Words a customer would read, with the checks they failed (none: fit to send).

    The internal side hands these to people who pass them on (support's canned responses, the
    executive note held for approval), so the verdicts travel with the words.
    """

    draft: Draft
    verdicts: tuple[str, ...] = ()


#: A customer draft for one incident version, reader and channel, checked like any customer draft.
CustomerWords = Callable[[Incident, CustomerSegment, Channel], CustomerDraft]


@dataclass(frozen=True)
class PhaseStep:
    version: int
    phase: str
    change: str
    severity: str
    at: datetime


@dataclass(frozen=True)
class FactSheet:
    """Everything the internal side knows about one incident at one moment."""

    incident: Incident
    now: datetime
    history: tuple[PhaseStep, ...] = ()
    affected: int = 0
    active_total: int = 0
    by_plan: Mapping[str, int] = field(default_factory=dict)
    by_region: Mapping[str, int] = field(default_factory=dict)
    by_language: Mapping[str, int] = field(default_factory=dict)
    enterprise: int = 0
    accounts: tuple[AffectedAccount, ...] = ()
    accounts_omitted: int = 0
    partitions_reported: int = 0
    partitions: int = 0
    targeted: bool = True
    held: Mapping[str, int] = field(default_factory=dict)
    approvers: tuple[str, ...] = ()
    dependency_chain: tuple[str, ...] = ()
    summary: str = ""

    @property
    def share(self) -> float | None:
        return self.affected / self.active_total if self.active_total else None

    @property
    def impact_complete(self) -> bool:
        return not self.targeted or (self.partitions > 0 and self.partitions_reported >= self.partitions)


@dataclass(frozen=True)
class InternalMessage:
    """One message to one internal audience; ``slot`` makes its id unique within the incident."""

    audience: str
    kind: str
    slot: str
    subject: str
    text: str


def internal_terms(sheet: FactSheet, policy: Policy) -> list[str]:
    """Strings from the sheet that must never appear in a customer-facing message."""
    return list(internal_facts(sheet.incident, policy, sheet.approvers, sheet.dependency_chain))


def _counts(counts: Mapping[str, int]) -> str:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{name} {n}" for name, n in ranked) or "none"


def _share(sheet: FactSheet) -> str:
    share = sheet.share
    return f"{share:.1%} of {sheet.active_total} active" if share is not None else "share unknown"


def impact_lines(sheet: FactSheet) -> list[str]:
    if not sheet.targeted:
        return ["Customers: none targeted (internal-only incident or a service customers do not use)."]
    partial = (
        ""
        if sheet.impact_complete
        else f" (partial: {sheet.partitions_reported} of {sheet.partitions} partitions reported)"
    )
    return [
        f"Customers affected: {sheet.affected} ({_share(sheet)}){partial}; enterprise accounts: {sheet.enterprise}",
        f"  by plan: {_counts(sheet.by_plan)}",
        f"  by region: {_counts(sheet.by_region)}",
        f"  by language: {_counts(sheet.by_language)}",
    ]


def approval_lines(sheet: FactSheet) -> list[str]:
    if not sheet.held:
        return ["Drafts held for approval: none"]
    who = ", ".join(sheet.approvers) or "anyone with the approval console"
    lines = [f"Drafts held for approval: {sum(sheet.held.values())} — must be approved by {who}"]
    lines += [f"  {group}: {n}" for group, n in sorted(sheet.held.items())]
    return lines


def war_room_update(sheet: FactSheet) -> InternalMessage:
    """Every incident version: the technical facts behind what customers are told."""
    i = sheet.incident
    lines = [
        f"[{i.severity.value}] {i.title} — v{i.version} {i.change}, phase {i.phase.value}",
        f"Incident {i.incident_id} ({i.kind.value}), {i.service} in {i.region}",
        f"Opened {i.opened_at:%Y-%m-%d %H:%M} UTC",
        f"Rule that fired: {i.rule or 'n/a'}",
        f"Signals: {', '.join(i.signal_ids) or 'none recorded'} (first at {i.first_signal_at:%H:%M:%S} UTC)",
        f"Dependency chain: {' -> '.join(sheet.dependency_chain) or i.service}",
        f"Cause: {i.cause or 'not known yet'}; ETA: {f'{i.eta:%Y-%m-%d %H:%M} UTC' if i.eta else 'none'}",
        *impact_lines(sheet),
        *approval_lines(sheet),
    ]
    if sheet.summary:
        lines += ["", "Summary:", sheet.summary]
    subject = f"[internal][{i.severity.value}] {i.title} — {i.phase.value} (v{i.version})"
    return InternalMessage(WAR_ROOM, "update", f"v{i.version}", subject, "\n".join(lines) + "\n")


def support_reader(language: str) -> CustomerSegment:
    """The placeholder reader a canned response is written for."""
    return CustomerSegment(
        customer_id="support-canned-response",
        account_name=READER,
        plan="",
        language=language,
        contacts=Contacts(),
        updated_at=datetime(1970, 1, 1),
    )


#: Support's canned reply is the reader's email draft: the full message, greeting to sign-off.
CANNED_CHANNEL = Channel.email


def canned_response(incident: Incident, reader: CustomerSegment, words: CustomerWords) -> CustomerDraft:
    """The one definition of a canned reply, for the support pack (placeholder reader) and the
    helpdesk's known-issue answer (the ticket's own customer): what that reader was told."""
    return words(incident, reader, CANNED_CHANNEL)


def canned_responses(sheet: FactSheet, words: CustomerWords) -> dict[str, CustomerDraft]:
    """One reply per language the affected customers use (English when none are known yet)."""
    languages = sorted(sheet.by_language) or ["en"]
    return {lang: canned_response(sheet.incident, support_reader(lang), words) for lang in languages}


def known_issue_macro(sheet: FactSheet, english: CustomerDraft, status_url: str) -> list[str]:
    i = sheet.incident
    reply = (
        "  public reply: the English canned response below"
        if not english.verdicts
        else "  public reply: none — the English draft failed its checks; link the status page instead"
    )
    return [
        "Helpdesk macro — known issue:",
        f"  title: Known issue: {i.title}",
        f"  tags: known_issue, {i.incident_id}, {i.service}",
        f"  status link: {status_url}",
        "  internal note: linked to incident " + i.incident_id + f" ({i.severity.value}, {i.phase.value})",
        reply,
        f"  subject: {english.draft.subject or i.title}",
    ]


def account_lines(sheet: FactSheet) -> list[str]:
    lines = [f"Affected accounts ({len(sheet.accounts)} listed, {sheet.accounts_omitted} more not listed):"]
    unlisted = sheet.enterprise - sum(1 for a in sheet.accounts if a.enterprise)
    if unlisted > 0:  # past internal.enterprise_listed_max: they get no executive note from forewarn
        lines.append(f"  {unlisted} enterprise accounts are not listed and get no drafted executive note")
    for a in sheet.accounts:
        tag = " [enterprise]" if a.enterprise else ""
        lines.append(f"  {a.account_name} ({a.customer_id}) — {a.plan}{tag}, {a.language}, {', '.join(a.regions)}")
    return lines


def support_pack(sheet: FactSheet, words: CustomerWords, status_url: str) -> InternalMessage:
    """On open and on every phase change: what support needs before the first ticket arrives."""
    i = sheet.incident
    replies = canned_responses(sheet, words)
    english = replies.get("en") or next(iter(replies.values()))
    lines = [
        f"Support alert: {i.title} — {i.phase.value} ({i.severity.value})",
        f"Status page: {status_url}",
        *impact_lines(sheet),
        "",
        *known_issue_macro(sheet, english, status_url),
        "",
    ]
    for lang, reply in replies.items():
        if reply.verdicts:  # never hand support words that may not reach a customer
            failed = "; ".join(reply.verdicts)
            lines += [f"--- Canned response ({lang}): not for customers, it failed its checks: {failed} ---", ""]
            continue
        draft = reply.draft
        lines += [f"--- Canned response ({lang}) ---", *([draft.subject] if draft.subject else []), draft.text, ""]
    lines += account_lines(sheet)
    subject = f"[support] Known issue: {i.title} — {i.phase.value}"
    return InternalMessage(SUPPORT, "support", f"{i.phase.value}-v{i.version}", subject, "\n".join(lines) + "\n")


def internal_commands(
    message: InternalMessage,
    incident: Incident,
    destinations: tuple[list[str], str | None],
    now: datetime,
    dry_run: bool = False,
) -> list[NotificationCommand]:
    """One command per destination (the audience's mail list, its webhook) on the internal channel.

    The id names the incident, the message and the destination, so a replay re-sends nothing
    and a failing webhook never makes the mail list hear the same message twice.
    """
    emails, webhook = destinations
    commands = []
    for destination, recipients in (("email", emails), ("webhook", [webhook] if webhook else [])):
        if not recipients:
            continue
        what = (incident.incident_id, message.kind, message.slot, message.audience, destination)
        commands.append(
            NotificationCommand(
                notification_id="ntf_" + stable_id("internal", *what),
                incident_id=incident.incident_id,
                incident_version=incident.version,
                customer_id=f"internal:{message.audience}",
                channel=Channel.internal,
                recipients=list(recipients),
                subject=message.subject,
                text=message.text,
                severity=incident.severity,
                kind=incident.kind,
                phase=incident.phase,
                template=f"internal_{message.kind}",
                dry_run=dry_run,
                signal_at=incident.first_signal_at,
                created_at=now,
                metadata={
                    "audience": message.audience,
                    "kind": message.kind,
                    "slot": message.slot,
                    "destination": destination,
                },
            )
        )
    return commands

"""Leadership's cadence: hourly briefings while a P1 is open, and the extended-outage note.

Briefings are numbered by the hour of the incident they belong to (slot 0 at opening, slot 1
an hour later, ...), so whatever drives time — a tick, a late record, a replay — a slot is
briefed at most once, and a gap in ticks briefs the current hour instead of every missed one.
All times are event times passed in.

An incident detection flags as an extended outage (no ETA after ``rules.extended_outage_after``,
the same verdict that tightens the customer cadence) drafts the executive note (the customer
template ``executive_note``) for each affected enterprise account and holds it for approval: a
person decides whether leadership writes to those customers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from forewarn.policy_internal import InternalPolicy
from forewarn.processors import cadence
from forewarn.processors.ids import stable_id
from forewarn.processors.internal import LEADERSHIP, CustomerWords, FactSheet, InternalMessage, impact_lines
from forewarn.processors.target import recipients
from forewarn.schemas.models import (
    AffectedAccount,
    Approval,
    ApprovalStatus,
    Channel,
    Contacts,
    CustomerSegment,
    DraftSource,
    Incident,
    NotificationCommand,
    Phase,
)

EXECUTIVE_NOTE = "executive_note"


def briefing_slot(incident: Incident, now: datetime, policy: InternalPolicy) -> int | None:
    """The hour-of-incident slot a briefing is due for at ``now``; None when none applies."""
    if incident.severity not in policy.briefing_severities or incident.phase is Phase.resolved:
        return None
    elapsed = now - incident.opened_at
    if elapsed < timedelta(0):
        return None
    return int(elapsed / timedelta(minutes=policy.briefing_every_minutes))


def is_extended_outage(incident: Incident, policy: InternalPolicy) -> bool:
    """Detection's extended-outage verdict (one rule, see ``cadence``), for the severities with a note."""
    return incident.severity in policy.executive_note_severities and cadence.is_extended_outage(incident)


def _open_for(sheet: FactSheet) -> str:
    minutes = int((sheet.now - sheet.incident.opened_at).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def executive_briefing(sheet: FactSheet, slot: int) -> InternalMessage:
    i = sheet.incident
    lines = [
        f"Executive briefing #{slot + 1} — {i.title} ({i.severity.value})",
        f"Open for {_open_for(sheet)}; phase {i.phase.value}; ETA {f'{i.eta:%H:%M} UTC' if i.eta else 'none yet'}",
        *impact_lines(sheet),
        "",
        sheet.summary or "(no summary yet)",
    ]
    subject = f"[briefing][{i.severity.value}] {i.title} — hour {slot}"
    return InternalMessage(LEADERSHIP, "briefing", f"hour-{slot}", subject, "\n".join(lines) + "\n")


def closing_briefing(sheet: FactSheet) -> InternalMessage:
    i = sheet.incident
    end = i.resolved_at or sheet.now
    minutes = int((end - i.first_signal_at).total_seconds() // 60)
    lines = [
        f"Resolved — {i.title} ({i.severity.value})",
        f"Time to resolve (first signal to resolution): {minutes // 60} h {minutes % 60:02d} min",
        *impact_lines(sheet),
        f"A post-mortem draft is ready: forewarn postmortem draft {i.incident_id}",
    ]
    subject = f"[briefing][{i.severity.value}] Resolved: {i.title}"
    return InternalMessage(LEADERSHIP, "briefing", "resolved", subject, "\n".join(lines) + "\n")


def extended_outage_notice(sheet: FactSheet, held: int) -> InternalMessage:
    i = sheet.incident
    text = (
        f"{i.title} has been open {_open_for(sheet)} without an ETA.\n"
        f"Executive notes to {held} enterprise account(s) are drafted and held for approval.\n"
    )
    subject = f"[briefing][{i.severity.value}] Extended outage: {i.title}"
    return InternalMessage(LEADERSHIP, "extended", "extended", subject, text)


def reader_of(account: AffectedAccount) -> CustomerSegment:
    return CustomerSegment(
        customer_id=account.customer_id,
        account_name=account.account_name,
        plan=account.plan,
        enterprise=account.enterprise,
        regions=list(account.regions),
        language=account.language,
        timezone=account.timezone,
        contacts=Contacts(emails=list(account.emails)),
        updated_at=datetime(1970, 1, 1),
    )


def executive_notes(sheet: FactSheet, words: CustomerWords, dry_run: bool = False) -> list[Approval]:
    """One held email per affected enterprise account with an address: approval decides if it goes."""
    incident = sheet.incident.model_copy(update={"change": "extended"})
    held = []
    for account in sheet.accounts:
        if not account.enterprise or not account.emails:
            continue
        reader = reader_of(account)
        checked = words(incident, reader, Channel.email)
        draft = checked.draft
        approval_id = stable_id(EXECUTIVE_NOTE, incident.incident_id, account.customer_id)
        command = NotificationCommand(
            notification_id="ntf_" + stable_id(EXECUTIVE_NOTE, incident.incident_id, account.customer_id, "email"),
            incident_id=incident.incident_id,
            incident_version=incident.version,
            customer_id=account.customer_id,
            channel=Channel.email,
            language=draft.language,
            recipients=recipients(reader, Channel.email),
            subject=draft.subject,
            text=draft.text,
            html=draft.html,
            severity=incident.severity,
            kind=incident.kind,
            phase=incident.phase,
            template=EXECUTIVE_NOTE,
            draft_source=DraftSource.template,
            approval_id=approval_id,
            dry_run=dry_run,
            signal_at=incident.first_signal_at,
            created_at=sheet.now,
        )
        held.append(
            Approval(
                approval_id=approval_id,
                incident_id=incident.incident_id,
                incident_version=incident.version,
                status=ApprovalStatus.pending,
                category=EXECUTIVE_NOTE,
                reason=f"extended outage: open {_open_for(sheet)} without an ETA",
                command=command,
                verdicts=list(checked.verdicts),  # the approver sees what the checks found
                requested_at=sheet.now,
            )
        )
    return held

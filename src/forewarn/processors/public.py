"""Public channels (status page mirror, social): one post per incident update, not per customer.

Targeting fans an update out to customers; these channels address everyone at once, so an update
gets at most one command per public channel under the pseudo-customer ``public``, with the same
deterministic notification id scheme so a replay can never post twice. Otherwise a post takes the
path a customer's command takes: the category's channel rule (``send_policy``) picks the channels,
the cadence decides whether this version may post, and the command starts blank — review
(``streams/review.py`` → ``processors/review.py``) drafts it from the channel's template in the
company's default language, validates it (social fits 280 characters), and holds it on the
approvals topic when validation fails or the policy gates the category. Nothing gated reaches
``notify.statuspage`` or ``notify.social`` except as an approved record.

Cadence is the customer rule (``processors/cadence.py``) for the one reader ``public``, kept in
an ``IncidentLedger`` of its own, except that a phase change posts even within the interval: a
public page must not say "investigating" after the cause was identified. Resolution passes
(once); the per-channel cap still bounds an incident that flaps between phases.
"""

from __future__ import annotations

from datetime import datetime

from forewarn.policy import CadenceRule, Policy
from forewarn.processors.cadence import IncidentLedger, Told, Verdict, decide, is_postmortem
from forewarn.processors.draft import template_for
from forewarn.processors.ids import notification_id
from forewarn.processors.target import PUBLIC_CHANNELS, channels_by_severity
from forewarn.schemas.models import Channel, DraftSource, Incident, NotificationCommand

PUBLIC = "public"

__all__ = ["PUBLIC", "PUBLIC_CHANNELS", "due_channels", "ledger_id", "public_channels", "public_command", "verdict"]


def public_channels(incident: Incident, policy: Policy) -> list[Channel]:
    """The public channels the category's channel rule names for this severity; none while internal."""
    if incident.internal or not policy.service(incident.service).customer_facing:
        return []
    return [c for c in channels_by_severity(incident, policy) if c in PUBLIC_CHANNELS]


def verdict(told: Told | None, incident: Incident, rule: CadenceRule) -> Verdict:
    """The cadence for the public reader: the customer rule, but a phase change need not wait."""
    found = decide(told, incident, rule)
    if found is Verdict.too_soon and told is not None and incident.phase is not told.note.phase:
        return Verdict.news
    return found


def ledger_id(incident_id: str) -> str:
    """The public reader's ledger, apart from the customers' (same table, different keys)."""
    return f"{incident_id}|{PUBLIC}"


def due_channels(incident: Incident, policy: Policy, ledger: IncidentLedger) -> list[Channel]:
    """The public channels this version posts on: wanted by the policy and allowed by the cadence."""
    if ledger.closed is not None and incident.version <= ledger.closed:
        return []  # a replay after the resolution was posted
    if is_postmortem(incident) and ledger.expired(incident.updated_at):
        return []  # published too long after the resolution to post about
    rule = policy.send_policy.rule(incident.kind)
    return [c for c in public_channels(incident, policy) if verdict(ledger.told_on(PUBLIC, c), incident, rule).sends]


def public_command(incident: Incident, channel: Channel, *, now: datetime, dry_run: bool) -> NotificationCommand:
    """A blank command for one public channel; review drafts, validates and gates its words."""
    return NotificationCommand(
        notification_id=notification_id(incident.incident_id, incident.version, PUBLIC, channel),
        incident_id=incident.incident_id,
        incident_version=incident.version,
        customer_id=PUBLIC,
        channel=channel,
        recipients=[PUBLIC],
        subject=None,
        text="",
        severity=incident.severity,
        kind=incident.kind,
        phase=incident.phase,
        template=template_for(incident),
        draft_source=DraftSource.template,
        dry_run=dry_run,
        signal_at=incident.first_signal_at,
        created_at=now,
    )

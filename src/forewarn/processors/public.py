"""Public channels (status page mirror, social) hear once per incident update, not per customer.

Targeting fans an update out to customers; these channels address everyone at once, so they
get one command per incident version under the pseudo-customer ``public``, with the same
deterministic notification id scheme so a replay can never post twice.
"""

from __future__ import annotations

from datetime import datetime

from forewarn.policy import Policy
from forewarn.processors.draft import template_for
from forewarn.processors.ids import notification_id
from forewarn.schemas.models import Channel, DraftSource, Incident, NotificationCommand, Phase

PUBLIC = "public"
PUBLIC_CHANNELS = (Channel.statuspage, Channel.social)

_WORDS = {
    Phase.investigating: "We are investigating",
    Phase.identified: "We have identified the cause of",
    Phase.monitoring: "A fix is in place and we are monitoring",
    Phase.resolved: "Resolved:",
}


def public_text(incident: Incident, status_url: str) -> str:
    where = "" if incident.region == "global" else f" in {incident.region.upper()}"
    return f"{_WORDS[incident.phase]} {incident.title}{where}. Updates: {status_url}"


def public_commands(
    incident: Incident, policy: Policy, status_url: str, *, now: datetime, dry_run: bool
) -> list[NotificationCommand]:
    if incident.internal or not policy.service(incident.service).customer_facing:
        return []
    wanted = [c for c in policy.channels.get(incident.severity, []) if c in PUBLIC_CHANNELS]
    return [
        NotificationCommand(
            notification_id=notification_id(incident.incident_id, incident.version, PUBLIC, channel),
            incident_id=incident.incident_id,
            incident_version=incident.version,
            customer_id=PUBLIC,
            channel=channel,
            recipients=[PUBLIC],
            subject=incident.title,
            text=public_text(incident, status_url),
            severity=incident.severity,
            kind=incident.kind,
            phase=incident.phase,
            template=template_for(incident),
            draft_source=DraftSource.template,
            dry_run=dry_run,
            signal_at=incident.first_signal_at,
            created_at=now,
        )
        for channel in wanted
    ]

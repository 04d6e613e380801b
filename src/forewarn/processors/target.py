"""Who hears about an incident version, and on which channels.

An incident version is broadcast to every partition of the customer table; each
partition answers for the customers it holds, so fan-out splits across workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from forewarn.policy import Policy
from forewarn.processors.ids import stable_id
from forewarn.schemas.models import Channel, CustomerSegment, Incident, TargetingRequest


def plan_targeting(incident: Incident, policy: Policy, partitions: int) -> list[TargetingRequest]:
    """One request per customer-table partition; none while the incident is internal."""
    if incident.internal:
        return []
    service = policy.service(incident.service)
    if not service.customer_facing:
        return []
    regions = [] if incident.region == "global" else [incident.region]
    request_id = stable_id(incident.incident_id, incident.version)
    return [
        TargetingRequest(
            request_id=request_id,
            partition=p,
            incident=incident,
            channels=list(policy.channels.get(incident.severity, [])),
            regions=regions,
            features=list(service.features),
            active_within_hours=policy.active_within_hours,
            customer_id=incident.customer_id,
        )
        for p in range(partitions)
    ]


def is_affected(segment: CustomerSegment, request: TargetingRequest, now: datetime) -> bool:
    if request.customer_id is not None:
        return segment.customer_id == request.customer_id
    if request.regions and not set(request.regions).intersection(segment.regions):
        return False
    if request.plans and segment.plan not in request.plans:
        return False
    if request.features and not set(request.features).intersection(segment.features):
        return False
    if request.active_within_hours is not None:
        since = now - timedelta(hours=request.active_within_hours)
        if not any(t >= since for t in segment.last_active.values()):
            return False
    return True


def recipients(segment: CustomerSegment, channel: Channel) -> list[str]:
    """The contact addresses of a channel; empty means the customer can't be reached there."""
    c = segment.contacts
    match channel:
        case Channel.email:
            return list(c.emails)
        case Channel.sms:
            return list(c.phones)
        case Channel.slack:
            return [c.slack_webhook] if c.slack_webhook else []
        case Channel.teams:
            return [c.teams_webhook] if c.teams_webhook else []
        case Channel.inapp:
            return list(c.inapp_user_ids) or [segment.customer_id]
        case Channel.statuspage | Channel.social | Channel.helpdesk:
            return [segment.customer_id]
        case _:
            return []


def channels_for(segment: CustomerSegment, request: TargetingRequest, policy: Policy) -> list[Channel]:
    """The request's channels this customer can receive: enterprise-only ones need enterprise."""
    chosen: list[Channel] = []
    for channel in request.channels:
        if channel in policy.enterprise_only_channels and not segment.enterprise:
            continue
        if channel in (Channel.slack, Channel.teams) and not segment.enterprise:
            continue
        if channel in (Channel.statuspage, Channel.social):
            continue  # public channels are posted once per incident, not per customer
        if recipients(segment, channel):
            chosen.append(channel)
    return chosen

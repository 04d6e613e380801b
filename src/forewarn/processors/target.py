"""Who hears about an incident version, and on which channels.

An incident version is broadcast to every partition of the customer table; each
partition answers for the customers it holds, so fan-out splits across workers. The
filters run on a customer's ``Profile`` (see ``segment_index``) so a partition can decide
for 100,000s of customers without decoding one segment; ``is_affected`` applies the very
same rule to a full segment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from forewarn.policy import Policy
from forewarn.processors.cadence import is_postmortem
from forewarn.processors.ids import stable_id
from forewarn.processors.segment_index import Profile
from forewarn.schemas.models import Channel, CustomerSegment, Incident, TargetingRequest

#: Posted once per incident, not per customer, so targeting never addresses them.
PUBLIC_CHANNELS = frozenset({Channel.statuspage, Channel.social})
#: Bridges into a customer's own chat, offered to enterprise accounts that configured one.
BRIDGES = frozenset({Channel.slack, Channel.teams})
PERSONAL_CHANNELS = tuple(c for c in Channel if c not in PUBLIC_CHANNELS)
#: Where a published post-mortem is announced: a report to read, not an alert (no SMS, no chat
#: bridge, no helpdesk ticket), and only where the severity's channels already reached people.
POSTMORTEM_CHANNELS = frozenset({Channel.email, Channel.inapp, Channel.statuspage})


def channels_by_severity(incident: Incident, policy: Policy) -> list[Channel]:
    rule = policy.send_policy.rule(incident.kind)
    table = rule.channels if rule.channels is not None else policy.channels
    channels = list(table.get(incident.severity, []))
    if is_postmortem(incident):
        return [c for c in channels if c in POSTMORTEM_CHANNELS]
    return channels


def request_channels(incident: Incident, policy: Policy, *, helpdesk: bool = False) -> list[Channel]:
    """The policy's channels for the version, plus the helpdesk whenever one is configured.

    The helpdesk is the support team's record, not a message a customer chooses to get, so it
    follows the deployment (a configured helpdesk hears of every customer-facing update for
    every affected account), not the severity matrix; cadence and review still apply to it.
    """
    channels = channels_by_severity(incident, policy)
    if helpdesk and Channel.helpdesk not in channels and not is_postmortem(incident):
        channels.append(Channel.helpdesk)
    return channels


def plan_targeting(
    incident: Incident, policy: Policy, partitions: int, *, helpdesk: bool = False
) -> list[TargetingRequest]:
    """One request per customer-table partition; none while the incident is internal."""
    if incident.internal:
        return []
    service = policy.service(incident.service)
    if not service.customer_facing:
        return []
    single = incident.customer_id
    regions = [] if incident.region == "global" or single else [incident.region]
    request_id = stable_id(incident.incident_id, incident.version)
    return [
        TargetingRequest(
            request_id=request_id,
            partition=p,
            incident=incident,
            channels=request_channels(incident, policy, helpdesk=helpdesk),
            regions=regions,
            plans=[] if single else list(service.plans),
            features=[] if single else list(service.features),
            active_within_hours=None if single else policy.active_within_hours,
            customer_id=single,
        )
        for p in range(partitions)
    ]


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


def _reach(emails: Sequence[str], phones: Sequence[str], slack: str | None, teams: str | None) -> frozenset[str]:
    """The personal channels ``recipients`` finds an address on (in-app and helpdesk: the account)."""
    reach = {Channel.inapp.value, Channel.helpdesk.value}
    if emails:
        reach.add(Channel.email.value)
    if phones:
        reach.add(Channel.sms.value)
    if slack:
        reach.add(Channel.slack.value)
    if teams:
        reach.add(Channel.teams.value)
    return frozenset(reach)


def _latest(last_active: Mapping[str, datetime]) -> int:
    """Latest activity on any feature, in epoch seconds (0: never seen active)."""
    return int(max(last_active.values()).timestamp()) if last_active else 0


def profile_of(segment: CustomerSegment) -> Profile:
    c = segment.contacts
    return Profile(
        plan=segment.plan,
        enterprise=segment.enterprise,
        regions=tuple(sorted(set(segment.regions))),
        features=tuple(sorted(set(segment.features))),
        reach=_reach(c.emails, c.phones, c.slack_webhook, c.teams_webhook),
    )


def last_active_s(segment: CustomerSegment) -> int:
    return _latest(segment.last_active)


def row_of_fields(fields: Mapping[str, Any]) -> tuple[Profile, int]:
    """``profile_of`` and ``last_active_s`` on a segment as fastavro reads it (the table's hot path)."""
    c = fields["contacts"]
    profile = Profile(
        plan=fields["plan"],
        enterprise=fields["enterprise"],
        regions=tuple(sorted(set(fields["regions"]))),
        features=tuple(sorted(set(fields["features"]))),
        reach=_reach(c["emails"], c["phones"], c["slack_webhook"], c["teams_webhook"]),
    )
    return profile, _latest(fields["last_active"])


def active_since_s(request: TargetingRequest, now: datetime) -> int | None:
    """The activity cut-off of a request in epoch seconds, None when activity doesn't matter."""
    if request.active_within_hours is None:
        return None
    return int((now - timedelta(hours=request.active_within_hours)).timestamp())


def matches(customer_id: str, profile: Profile, active_s: int, request: TargetingRequest, since_s: int | None) -> bool:
    """The targeting filters: single customer, regions, plans, features used, recent activity."""
    if request.customer_id is not None:
        return customer_id == request.customer_id
    if request.regions and not any(r in profile.regions for r in request.regions):
        return False
    if request.plans and profile.plan not in request.plans:
        return False
    if request.features and not any(f in profile.features for f in request.features):
        return False
    return since_s is None or active_s >= since_s


def is_affected(segment: CustomerSegment, request: TargetingRequest, now: datetime) -> bool:
    return matches(
        segment.customer_id, profile_of(segment), last_active_s(segment), request, active_since_s(request, now)
    )


def channels_for(profile: Profile, request: TargetingRequest, policy: Policy) -> list[Channel]:
    """The request's channels this customer can receive: enterprise-only ones need enterprise."""
    chosen: list[Channel] = []
    for channel in request.channels:
        if channel in PUBLIC_CHANNELS:
            continue  # public channels are posted once per incident, not per customer
        if (channel in policy.enterprise_only_channels or channel in BRIDGES) and not profile.enterprise:
            continue
        if channel.value in profile.reach:
            chosen.append(channel)
    return chosen


def unreachable_channels(profile: Profile, request: TargetingRequest, policy: Policy) -> list[Channel]:
    """The request's channels this customer would get but has no address on.

    ``channels_for``'s complement among the channels offered to this customer (not the public
    ones, not enterprise-only ones for other plans): what a replay reports as unreachable. A chat
    bridge is offered only to accounts that set one up, so a missing one is no gap.
    """
    missing: list[Channel] = []
    for channel in request.channels:
        if channel in PUBLIC_CHANNELS or channel in BRIDGES:
            continue
        if channel in policy.enterprise_only_channels and not profile.enterprise:
            continue
        if channel.value not in profile.reach:
            missing.append(channel)
    return missing

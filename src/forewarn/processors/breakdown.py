"""Who one partition found affected, counted by plan, region and language for the internal side.

Counts cover every affected customer; the account list is capped (enterprise accounts first,
then by name) because a large outage affects more accounts than anyone reads, and enterprise
accounts keep their email addresses only so a held executive note can reach them once approved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from forewarn.processors.segment_index import Profile
from forewarn.schemas.models import AffectedAccount, CustomerSegment, ImpactBreakdown, TargetingRequest


@dataclass(frozen=True, slots=True)
class Affected:
    """What the breakdown counts and sorts one customer by: its index profile and two names.

    The full segment is read only for the accounts listed (``account`` in ``breakdown_of``).
    """

    customer_id: str
    account_name: str
    language: str
    profile: Profile


def account_of(segment: CustomerSegment) -> AffectedAccount:
    return AffectedAccount(
        customer_id=segment.customer_id,
        account_name=segment.account_name,
        plan=segment.plan,
        enterprise=segment.enterprise,
        language=segment.language,
        timezone=segment.timezone,
        regions=sorted(segment.regions),
        emails=list(segment.contacts.emails) if segment.enterprise else [],
    )


def breakdown_of(
    request: TargetingRequest,
    partitions: int,
    affected: Iterable[Affected],
    account: Callable[[str], AffectedAccount],
    active_total: int,
    listed: int,
    now: datetime,
    enterprise_max: int = 2000,
) -> ImpactBreakdown:
    """``account``: the listed entry of one affected customer id (its full segment, read then)."""
    regions = set(request.regions)
    by_plan: Counter[str] = Counter()
    by_region: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    found = list(affected)
    for one in found:
        by_plan[one.profile.plan] += 1
        by_language[one.language] += 1
        for region in one.profile.regions:
            if not regions or region in regions:
                by_region[region] += 1
    found.sort(key=lambda a: (not a.profile.enterprise, a.account_name, a.customer_id))
    enterprise = sum(1 for a in found if a.profile.enterprise)
    # Enterprise accounts are listed past the cap (each is owed an executive note on an extended
    # outage), up to ``enterprise_max``: the breakdown is one record, and must stay one record's size.
    shown = max(listed, min(enterprise_max, enterprise))
    accounts = [account(one.customer_id) for one in found[:shown]]
    incident = request.incident
    return ImpactBreakdown(
        incident_id=incident.incident_id,
        incident_version=incident.version,
        partition=request.partition,
        partitions=partitions,
        affected=len(found),
        active_total=active_total,
        by_plan=dict(by_plan),
        by_region=dict(by_region),
        by_language=dict(by_language),
        enterprise=enterprise,
        accounts=accounts,
        accounts_omitted=len(found) - len(accounts),
        computed_at=now,
    )

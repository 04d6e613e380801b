"""Who one partition found affected, counted by plan, region and language for the internal side.

Counts cover every affected customer; the account list is capped (enterprise accounts first,
then by name) because a large outage affects more accounts than anyone reads, and enterprise
accounts keep their email addresses only so a held executive note can reach them once approved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from forewarn.schemas.models import AffectedAccount, CustomerSegment, ImpactBreakdown, TargetingRequest


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
    segments: Iterable[CustomerSegment],
    active_total: int,
    listed: int,
    now: datetime,
    enterprise_max: int = 2000,
) -> ImpactBreakdown:
    regions = set(request.regions)
    by_plan: Counter[str] = Counter()
    by_region: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    accounts: list[AffectedAccount] = []
    for segment in segments:
        by_plan[segment.plan] += 1
        by_language[segment.language] += 1
        for region in segment.regions:
            if not regions or region in regions:
                by_region[region] += 1
        accounts.append(account_of(segment))
    accounts.sort(key=lambda a: (not a.enterprise, a.account_name, a.customer_id))
    # Enterprise accounts are listed past the cap (each is owed an executive note on an extended
    # outage), up to ``enterprise_max``: the breakdown is one record, and must stay one record's size.
    shown = max(listed, min(enterprise_max, sum(1 for a in accounts if a.enterprise)))
    incident = request.incident
    return ImpactBreakdown(
        incident_id=incident.incident_id,
        incident_version=incident.version,
        partition=request.partition,
        partitions=partitions,
        affected=len(accounts),
        active_total=active_total,
        by_plan=dict(by_plan),
        by_region=dict(by_region),
        by_language=dict(by_language),
        enterprise=sum(1 for a in accounts if a.enterprise),
        accounts=accounts[:shown],
        accounts_omitted=max(0, len(accounts) - shown),
        computed_at=now,
    )

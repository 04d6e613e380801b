"""A partition's breakdown counts everyone and lists the accounts support needs first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from factories import T0, customer
from forewarn.processors.breakdown import Affected, account_of, breakdown_of
from forewarn.processors.target import profile_of
from forewarn.schemas.models import AffectedAccount, CustomerSegment, ImpactBreakdown, TargetingRequest
from internal_factories import incident


class Accounts:
    """``breakdown_of``'s reader of full segments, noting whom it was asked for."""

    def __init__(self, segments: Sequence[CustomerSegment]) -> None:
        self.by_id = {s.customer_id: s for s in segments}
        self.read: list[str] = []

    def __call__(self, customer_id: str) -> AffectedAccount:
        self.read.append(customer_id)
        return account_of(self.by_id[customer_id])


def breakdown(
    request: TargetingRequest, segments: Sequence[CustomerSegment], accounts: Accounts | None = None, **kw: Any
) -> ImpactBreakdown:
    affected = [Affected(s.customer_id, s.account_name, s.language, profile_of(s)) for s in segments]
    return breakdown_of(request, 4, affected, accounts or Accounts(segments), now=T0, **kw)


def test_counts_everyone_and_lists_enterprise_first_up_to_the_cap() -> None:
    request = TargetingRequest(request_id="r", partition=1, incident=incident(), regions=["eu-west"])
    segments = [
        customer("zeta", regions=("eu-west", "us-east"), language="de"),
        customer("acme", regions=("eu-west",), plan="enterprise", enterprise=True),
        customer("beta", regions=("eu-west",), plan="starter", language="fr"),
    ]
    accounts = Accounts(segments)
    report = breakdown(request, segments, accounts, active_total=30, listed=2)
    assert (report.partition, report.partitions, report.affected, report.active_total) == (1, 4, 3, 30)
    assert report.by_plan == {"pro": 1, "enterprise": 1, "starter": 1}
    assert report.by_region == {"eu-west": 3}  # only the incident's regions count
    assert report.by_language == {"de": 1, "en": 1, "fr": 1}
    assert [a.customer_id for a in report.accounts] == ["acme", "beta"] and report.accounts_omitted == 1
    assert report.accounts[0].emails == ["ops@acme.example"]  # enterprise: where an executive note goes
    assert report.accounts[1].emails == []  # others keep no address
    assert report.enterprise == 1
    assert accounts.read == ["acme", "beta"]  # the omitted one's segment is never read in full


def test_every_enterprise_account_is_listed_past_the_cap() -> None:
    """Each is owed an executive note on an extended outage; the cap only trims the others."""
    request = TargetingRequest(request_id="r", partition=0, incident=incident(), regions=["eu-west"])
    big = [customer(f"ent-{n}", regions=("eu-west",), plan="enterprise", enterprise=True) for n in range(3)]
    report = breakdown(request, [*big, customer("small", regions=("eu-west",))], active_total=10, listed=2)
    assert [a.customer_id for a in report.accounts] == ["ent-0", "ent-1", "ent-2"]
    assert report.accounts_omitted == 1 and report.enterprise == 3


def test_enterprise_accounts_past_their_own_bound_are_counted_not_listed() -> None:
    """A partition's breakdown is one Kafka record: tens of thousands of enterprise accounts can't all fit."""
    request = TargetingRequest(request_id="r", partition=0, incident=incident(), regions=["eu-west"])
    big = [customer(f"ent-{n}", regions=("eu-west",), plan="enterprise", enterprise=True) for n in range(5)]
    report = breakdown(request, big, active_total=10, listed=2, enterprise_max=3)
    assert [a.customer_id for a in report.accounts] == ["ent-0", "ent-1", "ent-2"]
    assert report.accounts_omitted == 2 and report.enterprise == 5

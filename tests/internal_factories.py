"""Builders shared by the internal-side processor tests: an incident, a breakdown, a room."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from factories import T0
from forewarn.policy import Policy, ServicePolicy
from forewarn.policy_drafting import Gate, GatePolicy
from forewarn.processors.draft import draft
from forewarn.processors.incident_room import Room
from forewarn.processors.internal import CustomerDraft, CustomerWords
from forewarn.schemas.models import (
    AffectedAccount,
    FactKind,
    ImpactBreakdown,
    Incident,
    IncidentKind,
    InternalFact,
    Phase,
    Severity,
)

STATUS_URL = "https://status.example.com"


def words() -> CustomerWords:
    return lambda incident, reader, channel: CustomerDraft(draft(incident, reader, channel, STATUS_URL))


def policy() -> Policy:
    return Policy(
        services={
            "payments": ServicePolicy(display_name="Payments", depends_on=["ledger-db", "card-gateway"]),
            "ledger-db": ServicePolicy(customer_facing=False, depends_on=["pg-cluster-7"]),
            "pg-cluster-7": ServicePolicy(customer_facing=False),
        },
        gates=GatePolicy(default=Gate.never, oncall_emails=["oncall-lead@corp.example"]),
    )


def incident(version: int = 1, minute: float = 0, **extra: Any) -> Incident:
    fields: dict[str, Any] = {
        "incident_id": "inc_1",
        "version": version,
        "dedup_key": "payments|eu-west|outage",
        "title": "Payments outage in EU-WEST",
        "service": "payments",
        "region": "eu-west",
        "symptom": "outage",
        "phase": Phase.investigating,
        "severity": Severity.P1,
        "kind": IncidentKind.regional_outage,
        "change": "opened" if version == 1 else "phase",
        "opened_at": T0,
        "updated_at": T0 + timedelta(minutes=minute),
        "first_signal_at": T0 - timedelta(minutes=2),
        "rule": "outage_window_5m",
        "signal_ids": ["evt_am_7f3a9c", "evt_pd_118b2e"],
        "affected_services": ["payments"],
    }
    fields.update(extra)
    return Incident(**fields)


def account(cid: str, language: str = "en", plan: str = "pro", enterprise: bool = False) -> AffectedAccount:
    return AffectedAccount(
        customer_id=cid,
        account_name=f"{cid} Ltd",
        plan=plan,
        enterprise=enterprise,
        language=language,
        regions=["eu-west"],
        emails=[f"cto@{cid}.example"] if enterprise else [],
    )


def breakdown(partition: int, version: int = 1, accounts: tuple[AffectedAccount, ...] = ()) -> ImpactBreakdown:
    plans: dict[str, int] = {}
    languages: dict[str, int] = {}
    for a in accounts:
        plans[a.plan] = plans.get(a.plan, 0) + 1
        languages[a.language] = languages.get(a.language, 0) + 1
    return ImpactBreakdown(
        incident_id="inc_1",
        incident_version=version,
        partition=partition,
        partitions=2,
        affected=len(accounts),
        active_total=10,
        by_plan=plans,
        by_region={"eu-west": len(accounts)} if accounts else {},
        by_language=languages,
        enterprise=sum(a.enterprise for a in accounts),
        accounts=list(accounts),
        computed_at=T0,
    )


def room(**extra: Any) -> Room:
    return Room(policy=extra.pop("policy", policy()), words=words(), status_url=STATUS_URL, **extra)


def incident_fact(i: Incident) -> InternalFact:
    return InternalFact(
        fact_id=f"i{i.version}", kind=FactKind.incident, incident_id=i.incident_id, at=i.updated_at, incident=i
    )


def breakdown_fact(b: ImpactBreakdown, minute: float = 0) -> InternalFact:
    return InternalFact(
        fact_id=f"b{b.incident_version}-{b.partition}",
        kind=FactKind.breakdown,
        incident_id=b.incident_id,
        at=T0 + timedelta(minutes=minute),
        breakdown=b,
    )


def tick(minute: float) -> InternalFact:
    return InternalFact(fact_id=f"t{minute}", kind=FactKind.tick, at=T0 + timedelta(minutes=minute))

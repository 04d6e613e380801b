"""The rules: what a closed window of a metric says, and which alerts count as what.

Metric samples carry fractions (error rate 0.072, availability 0.9991); thresholds in the
policy read in percent. A window is a breach, or clean, or (when the policy switched the
rule off) says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from forewarn.policy_rules import RulesPolicy, Thresholds
from forewarn.schemas.models import ObservabilityEvent

#: metric -> the symptom (and so the dedup key) its windows speak for.
METRIC_SYMPTOMS = {"error_rate": "error_rate", "latency_p99_ms": "latency", "availability": "availability"}
#: Symptoms that describe one customer impact, so they are one incident whichever signal came
#: first: a service an alert calls down is what customers feel when its availability rule
#: breaches. Errors and slowness stay apart: they hurt differently and resolve on their own.
SAME_IMPACT: tuple[frozenset[str], ...] = (frozenset({"outage", "availability"}),)
OPENING_SEVERITIES = frozenset({"critical", "error"})
#: Flags an alert can carry that say on their own that customers are hurt.
SERIOUS_FLAGS = frozenset({"outage", "data_loss", "security"})


@dataclass(frozen=True, slots=True)
class Verdict:
    breach: bool
    outage: bool = False
    sla_breach: bool = False


def same_impact(symptom: str) -> tuple[str, ...]:
    """The symptom itself first (its own incident wins), then those meaning the same to customers."""
    for family in SAME_IMPACT:
        if symptom in family:
            return (symptom, *sorted(family - {symptom}))
    return (symptom,)


def judge(metric: str, mean: float, limits: Thresholds) -> Verdict | None:
    """A window's mean against the service's thresholds; None when no rule covers the metric."""
    if metric == "error_rate":
        if limits.error_rate_pct is None:
            return None
        pct = mean * 100
        return Verdict(pct > limits.error_rate_pct, outage=pct >= limits.outage_error_rate_pct)
    if metric == "latency_p99_ms":
        if limits.latency_p99_ms is None:
            return None
        return Verdict(mean > limits.latency_p99_ms)
    if metric == "availability":
        if limits.availability_pct is None:
            return None
        pct = mean * 100
        return Verdict(
            pct < limits.availability_pct,
            outage=pct <= limits.outage_availability_pct,
            sla_breach=limits.slo_pct is not None and pct < limits.slo_pct,
        )
    return None


def opens_incident(event: ObservabilityEvent) -> bool:
    """A firing alert serious enough to open an incident by itself (warnings only corroborate)."""
    return (
        event.severity in OPENING_SEVERITIES or event.symptom == "outage" or not SERIOUS_FLAGS.isdisjoint(event.flags)
    )


def confirms_at_once(event: ObservabilityEvent, rules: RulesPolicy) -> bool:
    """Explicit, critical outage alerts and data-loss/security flags need no second opinion;
    nor do alerts of the severities the policy trusts as already confirmed by their source."""
    explicit_outage = event.symptom == "outage" or "outage" in event.flags
    if rules.outage_alerts_confirm and explicit_outage and event.severity == "critical":
        return True
    if event.severity in rules.confirmed_alert_severities:
        return True
    return "data_loss" in event.flags or "security" in event.flags

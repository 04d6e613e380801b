"""Severity and kind of an incident: the matrix every later decision keys on.

Severity: P1 for a complete outage (an outage symptom or flag), a data-loss or security flag,
or more than 25 % of active customers affected; P2 for 10–25 %; P3 under 10 %; P4 for
cosmetic issues. The share comes from targeting's impact reports once they are in, and from
the service's declared share until then.
"""

from __future__ import annotations

from forewarn.schemas.models import IncidentKind, Severity

P1_FLAGS = frozenset({"data_loss", "security", "outage"})


def classify_severity(*, symptom: str, flags: list[str], share_affected: float | None) -> Severity:
    if symptom == "outage" or P1_FLAGS.intersection(flags):
        return Severity.P1
    if "cosmetic" in flags:
        return Severity.P4
    share = share_affected if share_affected is not None else 0.0
    if share > 0.25:
        return Severity.P1
    if share >= 0.10:
        return Severity.P2
    return Severity.P3


def classify_kind(*, symptom: str, region: str, customer_id: str | None, flags: list[str]) -> IncidentKind:
    if customer_id:
        return IncidentKind.single_customer
    if "maintenance" in flags:
        return IncidentKind.maintenance
    if "sla_breach" in flags:
        return IncidentKind.sla_breach
    if (symptom in ("outage", "availability") or "outage" in flags) and region != "global":
        return IncidentKind.regional_outage
    return IncidentKind.local_degradation


def share_of(affected: int, active_total: int) -> float | None:
    """Share of active customers affected; None when there is nobody active to divide by."""
    if active_total <= 0:
        return None
    return min(1.0, max(0.0, affected / active_total))

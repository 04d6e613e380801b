"""Who was affected by an incident version but not messaged, and why: recorded only when asked.

Targeting decides per customer and channel; a "no" (cadence held it back, a phase change the
customer never heard of the start of, no address on the channel) normally leaves no trace,
because one row per customer, channel and version would grow with the customer base on every
update. ``forewarn replay`` turns ``report_suppressed`` on (refused outside a dry run) so its
report can say why a customer heard nothing; even then a fan-out lists at most ``cap`` of
them per version and partition and only counts the rest, so a replay against a production-
sized customer file still writes a bounded audit topic.

The rows are ``AuditRecord``s on the audit topic (stage ``target``, action ``suppressed``, the
verdict in ``verdicts``), pseudonymised like every audit row: the replay, which holds the
customer table, maps them back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from forewarn.processors.cadence import Verdict
from forewarn.processors.ids import notification_id, pseudonymise, stable_id
from forewarn.schemas.models import AuditRecord, Channel, Incident

#: Not a cadence verdict: the customer's profile has no address on a channel the version uses.
UNREACHABLE = "unreachable"
#: The verdicts worth a row. ``already_handled`` is a replayed or restarted version, not a
#: customer left out; every verdict that sends leaves its own command.
REPORTED = frozenset({Verdict.too_soon.value, Verdict.no_news.value, Verdict.capped.value, Verdict.never_told.value})
#: Rows listed per incident version and customer-table partition; the rest are counted.
SUPPRESSED_CAP = 500
ACTION = "suppressed"
UNLISTED_ACTION = "suppressed_unlisted"


@dataclass
class HeldBack:
    """The held-back (customer, channel, verdict) triples of one targeting request, bounded.

    ``take`` drains what is still to send, so each fan-out chunk sends (and acknowledges) its
    own rows; ``unlisted`` counts, per verdict, what the cap kept out of the list.
    """

    cap: int = SUPPRESSED_CAP
    pending: list[tuple[str, Channel, str]] = field(default_factory=list)
    listed: int = 0
    unlisted: Counter[str] = field(default_factory=Counter)

    def add(self, customer_id: str, channel: Channel, verdict: str) -> None:
        if verdict != UNREACHABLE and verdict not in REPORTED:
            return
        if self.listed >= self.cap:
            self.unlisted[verdict] += 1
            return
        self.listed += 1
        self.pending.append((customer_id, channel, verdict))

    def take(self) -> list[tuple[str, Channel, str]]:
        taken, self.pending = self.pending, []
        return taken


def suppressed_audit(
    incident: Incident, customer_id: str, channel: Channel, verdict: str, pseudonym_key: str, now: datetime
) -> AuditRecord:
    """One held-back message; its id is the one a replay of the same decision gets again."""
    would_be = notification_id(incident.incident_id, incident.version, customer_id, channel.value)
    return AuditRecord(
        audit_id=stable_id("target", ACTION, would_be),
        recorded_at=now,
        stage="target",
        action=ACTION,
        incident_id=incident.incident_id,
        incident_version=incident.version,
        notification_id=would_be,
        customer_ref=pseudonymise(customer_id, pseudonym_key),
        channel=channel.value,
        severity=incident.severity.value,
        kind=incident.kind.value,
        phase=incident.phase.value,
        signal_at=incident.first_signal_at,
        verdicts=[verdict],
    )


def unlisted_audit(incident: Incident, partition: int, counts: Counter[str], now: datetime) -> AuditRecord:
    """How many held-back messages of one version and partition the cap left out, per verdict."""
    return AuditRecord(
        audit_id=stable_id("target", UNLISTED_ACTION, incident.incident_id, incident.version, partition),
        recorded_at=now,
        stage="target",
        action=UNLISTED_ACTION,
        incident_id=incident.incident_id,
        incident_version=incident.version,
        severity=incident.severity.value,
        kind=incident.kind.value,
        phase=incident.phase.value,
        verdicts=sorted(counts),
        detail={"partition": str(partition), "count": str(sum(counts.values()))}
        | {f"count_{verdict}": str(n) for verdict, n in sorted(counts.items())},
    )

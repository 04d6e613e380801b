"""Every query in docs/analyst-queries.md, run against a small dataset with known answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from forewarn.db.client import Warehouse, open_clickhouse
from forewarn.db.migrations import migrate
from forewarn.schemas.models import AuditRecord, Incident, IncidentKind, Phase, Severity
from forewarn.sinks.clickhouse import AuditStore

DOC = Path(__file__).resolve().parents[2] / "docs" / "analyst-queries.md"
NOW = datetime.now(UTC).replace(microsecond=0)
MONTH = date(NOW.year, NOW.month, 1)


def queries() -> dict[str, str]:
    text = DOC.read_text()
    return {m.group(1): m.group(2) for m in re.finditer(r"^## (.+?)\n.*?```sql\n(.*?)```", text, re.M | re.S)}


def incident(
    iid: str,
    version: int,
    severity: Severity,
    phase: Phase,
    signal: datetime,
    at: datetime,
    *,
    acked: datetime | None = None,
    kind: IncidentKind = IncidentKind.regional_outage,
) -> Incident:
    return Incident(
        incident_id=iid,
        version=version,
        dedup_key=iid,
        title=iid,
        service="payments",
        region="eu-west",
        symptom="outage",
        phase=phase,
        severity=severity,
        kind=kind,
        change="update",
        opened_at=signal,
        updated_at=at,
        first_signal_at=signal,
        resolved_at=at if phase is Phase.resolved else None,
        acknowledged_at=acked,
    )


def sent(
    aid: str,
    iid: str,
    channel: str,
    at: datetime,
    action: str = "delivered",
    who: str = "r1",
    version: int | None = None,
) -> AuditRecord:
    """A delivery receipt's audit row: like the real one it has no severity or kind."""
    return AuditRecord(
        audit_id=aid,
        recorded_at=at,
        stage="deliver",
        action=action,
        incident_id=iid,
        channel=channel,
        customer_ref=who,
        sent_at=at,
        incident_version=version,
    )


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    t = NOW - timedelta(hours=6)
    minute = timedelta(minutes=1)
    with open_clickhouse(f"chdb://{tmp_path / 'ch'}") as wh:
        migrate(wh)
        store = AuditStore(wh)
        store.write(
            [
                # P1: resolved after 60 min, first customer told after 120 s, acknowledged after 240 s
                incident("inc-a", 1, Severity.P1, Phase.investigating, t, t),
                incident("inc-a", 2, Severity.P1, Phase.resolved, t, t + 60 * minute, acked=t + 4 * minute),
                # P1: resolved after 30 min, told after 60 s, acknowledged after 120 s
                incident("inc-b", 1, Severity.P1, Phase.investigating, t, t),
                incident("inc-b", 2, Severity.P1, Phase.resolved, t, t + 30 * minute, acked=t + 2 * minute),
                # P2: still open and nobody acknowledged it, told after 300 s; it was a regional outage
                # when told (version 1), a local degradation since (version 2)
                incident("inc-c", 1, Severity.P2, Phase.investigating, t, t),
                incident("inc-c", 2, Severity.P2, Phase.investigating, t, t, kind=IncidentKind.local_degradation),
                sent("s1", "inc-a", "email", t + timedelta(seconds=120)),
                sent("s2", "inc-a", "email", t + timedelta(seconds=180), who="r2"),
                sent("s3", "inc-a", "internal", t + timedelta(seconds=10)),  # internal never counts
                sent("s4", "inc-b", "sms", t + timedelta(seconds=60)),
                sent("s5", "inc-c", "email", t + timedelta(seconds=300), version=1),
                sent("s6", "inc-c", "email", t + timedelta(seconds=400), action="dead_lettered", who="r3"),
                AuditRecord(
                    audit_id="k1",
                    recorded_at=t,
                    stage="helpdesk",
                    action="known_issue",
                    incident_id="inc-a",
                    customer_ref="r1",
                ),
                AuditRecord(
                    audit_id="k2",
                    recorded_at=t,
                    stage="helpdesk",
                    action="known_issue",
                    incident_id="inc-a",
                    customer_ref="r2",
                ),
                AuditRecord(
                    audit_id="k3",
                    recorded_at=t,
                    stage="helpdesk",
                    action="known_issue",
                    incident_id="inc-c",
                    customer_ref="r1",
                ),
            ]
        )
        yield wh


def run(wh: Warehouse, title: str) -> list[tuple[object, ...]]:
    return list(wh.query(queries()[title]))


def test_the_doc_has_the_queries() -> None:
    assert list(queries()) == [
        "MTTR by severity per month",
        "Time to first notification, p50 and p95",
        "Time to acknowledge, p50 and p95",
        "Messages per channel",
        "Notifications by severity and kind",
        "Tickets flagged as known issue",
    ]


def test_mttr_by_severity_per_month(warehouse: Warehouse) -> None:
    rows = run(warehouse, "MTTR by severity per month")
    start_month = (NOW - timedelta(hours=6)).date().replace(day=1)
    assert [(m, s, n, avg, p50) for m, s, n, avg, p50 in rows] == [(start_month, "P1", 2, 45.0, 45.0)]


def test_time_to_first_notification(warehouse: Warehouse) -> None:
    rows = run(warehouse, "Time to first notification, p50 and p95")
    assert [(s, n) for s, n, _, _ in rows] == [("P1", 2), ("P2", 1)]
    p1 = rows[0]
    assert (p1[2], p1[3]) == (90.0, pytest.approx(117.0))  # interpolated between 60 s and 120 s
    assert rows[1][2:] == (300.0, 300.0)


def test_time_to_acknowledge(warehouse: Warehouse) -> None:
    rows = run(warehouse, "Time to acknowledge, p50 and p95")
    assert [(s, n, a) for s, n, a, *_ in rows] == [("P1", 2, 2), ("P2", 1, 0)]
    assert rows[0][3:] == (180.0, 180.0, pytest.approx(234.0))  # mean; 120 s and 240 s interpolated
    assert rows[1][3:] == (None, None, None)  # nobody acknowledged inc-c: no time is made up


def test_notifications_by_severity_and_kind(warehouse: Warehouse) -> None:
    """Receipts carry neither: they come from the version told (s5), else the latest (s6)."""
    rows = run(warehouse, "Notifications by severity and kind")
    assert [r[:5] for r in rows] == [
        ("P1", "regional_outage", "email", 2, 0),
        ("P1", "regional_outage", "internal", 1, 0),
        ("P1", "regional_outage", "sms", 1, 0),
        ("P2", "local_degradation", "email", 0, 1),
        ("P2", "regional_outage", "email", 1, 0),
    ]
    assert [r[5] for r in rows] == [1, 1, 1, 0, 1]  # incidents notified


def test_messages_per_channel(warehouse: Warehouse) -> None:
    rows = run(warehouse, "Messages per channel")
    assert [(c, d, nd) for c, d, nd, _, _ in rows] == [("email", 3, 1), ("internal", 1, 0), ("sms", 1, 0)]


def test_tickets_flagged_as_known_issue(warehouse: Warehouse) -> None:
    rows = run(warehouse, "Tickets flagged as known issue")
    assert [(i, n, c) for i, n, c, _ in rows] == [("inc-a", 2, 2), ("inc-c", 1, 1)]

"""Reading one incident's record back out of ClickHouse for its post-mortem draft."""

from __future__ import annotations

from typing import Any

from forewarn.db.client import Warehouse
from forewarn.processors.postmortem import Postmortem, build

VERSION_COLUMNS = (
    "incident_id",
    "version",
    "title",
    "severity",
    "phase",
    "change",
    "rule",
    "updated_at",
    "first_signal_at",
    "resolved_at",
    "signal_ids",
)
AUDIT_COLUMNS = (
    "stage",
    "action",
    "recorded_at",
    "sent_at",
    "notification_id",
    "channel",
    "incident_version",
    "customer_ref",
    "approver",
    "detail",
)


def _named(columns: tuple[str, ...], rows: Any) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def load_postmortem(warehouse: Warehouse, incident_id: str) -> Postmortem:
    """The draft for one incident; ``ValueError`` when nothing was recorded for it."""
    params = {"id": incident_id}
    versions = warehouse.query(
        f"SELECT {', '.join(VERSION_COLUMNS)} FROM incidents FINAL WHERE incident_id = {{id:String}} ORDER BY version",
        params,
    )
    audit = warehouse.query(
        f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit FINAL WHERE incident_id = {{id:String}}", params
    )
    try:
        return build(_named(VERSION_COLUMNS, versions), _named(AUDIT_COLUMNS, audit))
    except ValueError as exc:
        raise ValueError(f"incident {incident_id}: {exc}") from exc

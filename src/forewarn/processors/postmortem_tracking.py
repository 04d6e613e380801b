"""Post-mortem tracking: which incidents owe one, by when, and where each one stands.

The obligation is derived from the record (the ``postmortems`` view, migration 0004); progress
is itself an audit record (stage ``postmortem``), so who moved a post-mortem along, and when,
stays in the same trail as the incident it explains.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from forewarn.processors.ids import stable_id
from forewarn.schemas.models import AuditRecord, Severity

DUE_AFTER = {Severity.P1: timedelta(hours=48), Severity.P2: timedelta(hours=72), Severity.P3: timedelta(days=7)}
#: P1 and P2 post-mortems are published on the public status page.
PUBLISHED_ON_STATUS_PAGE = frozenset({Severity.P1, Severity.P2})


class PostmortemState(StrEnum):
    due = "due"
    drafting = "drafting"
    in_review = "in_review"
    published = "published"


ORDER = list(PostmortemState)


class PostmortemError(ValueError):
    """A transition the workflow does not allow; the message says what is allowed."""


def due_at(severity: Severity, resolved_at: datetime) -> datetime | None:
    """When the post-mortem is due, or None when the severity owes none (P4)."""
    after = DUE_AFTER.get(severity)
    return None if after is None else resolved_at + after


def transition(
    incident_id: str,
    current: PostmortemState,
    target: PostmortemState,
    *,
    now: datetime,
    author: str,
    url: str | None = None,
) -> AuditRecord:
    """The audit record that moves a post-mortem forward; never backwards, and publishing needs a URL."""
    if target is PostmortemState.due or ORDER.index(target) <= ORDER.index(current):
        allowed = ", ".join(s.value for s in ORDER[ORDER.index(current) + 1 :]) or "nothing (already published)"
        raise PostmortemError(f"post-mortem of {incident_id} is {current.value}; it can move to {allowed}")
    if target is PostmortemState.published and not (url and url.startswith(("https://", "http://"))):
        raise PostmortemError("publishing a post-mortem needs its public URL (--url https://…)")
    detail = {"author": author}
    if url:
        detail["url"] = url
    return AuditRecord(
        audit_id=stable_id("postmortem", incident_id, target.value),
        recorded_at=now,
        stage="postmortem",
        action=target.value,
        incident_id=incident_id,
        approver=author,
        detail=detail,
    )

"""The post-mortem draft is the audit record, ordered: nothing added, nothing left out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from factories import T0
from forewarn.processors.postmortem import build, render_markdown


def version(v: int, minutes: int, phase: str, resolved: bool = False) -> dict[str, Any]:
    return {
        "incident_id": "inc_1",
        "version": v,
        "title": "Payments outage",
        "severity": "P1",
        "phase": phase,
        "change": "opened" if v == 1 else "phase",
        "rule": "outage_5m",
        "updated_at": T0 + timedelta(minutes=minutes),
        "first_signal_at": T0 - timedelta(minutes=2),
        "resolved_at": T0 + timedelta(minutes=minutes) if resolved else None,
        "signal_ids": ["evt_a", "evt_b"],
    }


def row(stage: str, action: str, minutes: int, nid: str | None = None, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "stage": stage,
        "action": action,
        "recorded_at": T0 + timedelta(minutes=minutes),
        "sent_at": None,
        "notification_id": nid,
        "channel": "email",
        "incident_version": 1,
        "customer_ref": "cus_x",
        "approver": None,
        "detail": {},
    }
    fields.update(extra)
    return fields


AUDIT = [
    row("deliver", "delivered", 1, "ntf_1", sent_at=T0 + timedelta(seconds=50)),
    row("deliver", "delivered", 1, "ntf_2"),
    row("deliver", "failed", 1, "ntf_3"),  # not sent
    row("deliver", "delivered", 2, "ntf_4", channel="internal", customer_ref="internal:support"),
    row("approve", "held", 3, "ntf_5", detail={"category": "executive_note"}),
    row("approve", "approved", 9, "ntf_5", approver="ann", detail={"category": "executive_note"}),
    row("internal", "summary", 4, detail={"summary": "Known:\n- down"}),
    row("target", "drafted", 1, "ntf_1"),
]


def test_every_sent_message_and_every_approval_step_is_listed() -> None:
    pm = build([version(2, 30, "resolved", True), version(1, 0, "investigating")], AUDIT)
    assert [m.notification_id for m in pm.messages] == ["ntf_1", "ntf_2", "ntf_4"]
    assert [(a.action, a.approver) for a in pm.approvals] == [("held", None), ("approved", "ann")]
    assert pm.mttr_s == 32 * 60 and pm.summary == "Known:\n- down"
    whats = [e.what for e in pm.timeline]
    assert whats[0] == "first signal (evt_a, evt_b)"
    assert "v1 opened: phase investigating, P1 (rule outage_5m)" in whats
    assert "v1: 2 message(s) sent on email" in whats and "v1: 1 message(s) sent on internal" in whats
    assert "draft approved by ann (executive_note, email)" in whats
    assert [e.at for e in pm.timeline] == sorted(e.at for e in pm.timeline)


def test_markdown_has_the_timeline_and_both_appendices() -> None:
    text = render_markdown(build([version(1, 0, "investigating")], AUDIT))
    assert text.startswith("# Post-mortem (draft): Payments outage")
    assert "not resolved" in text and "## Appendix A: messages sent (3)" in text
    assert "| ntf_4 | internal:support |" in text and "## Appendix B: approvals (2)" in text


def test_an_unknown_incident_is_an_error() -> None:
    with pytest.raises(ValueError, match="no incident versions"):
        build([], AUDIT)

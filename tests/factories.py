"""Small builders for test records, so each test states only what matters to it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2

from forewarn.policy import Policy
from forewarn.processors.ids import stable_id
from forewarn.schemas.models import (
    Channel,
    Contacts,
    CustomerSegment,
    IncidentKind,
    NotificationCommand,
    ObservabilityEvent,
    Phase,
    Severity,
    SignalStatus,
)

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

#: Faust reads this from the environment. A killed worker's partitions are handed on only when its
#: session times out (Faust's default: 60 s); crash tests would spend most of their time waiting.
SHORT_SESSION = {"BROKER_SESSION_TIMEOUT": "10"}


def event(
    status: str = "firing",
    *,
    minute: int = 0,
    service: str = "payments",
    region: str = "eu-west",
    symptom: str = "outage",
    severity: str = "critical",
    **extra: Any,
) -> ObservabilityEvent:
    at = T0 + timedelta(minutes=minute)
    fields: dict[str, Any] = {
        "event_id": stable_id(service, region, symptom, status, minute),
        "source": "alertmanager",
        "source_ref": "fp1",
        "service": service,
        "region": region,
        "symptom": symptom,
        "status": SignalStatus(status),
        "severity": severity,
        "summary": "Payments API down",
        "occurred_at": at,
        "received_at": at,
    }
    fields.update(extra)
    return ObservabilityEvent(**fields)


def customer(
    cid: str = "c1",
    *,
    regions: tuple[str, ...] = ("eu-west",),
    plan: str = "pro",
    enterprise: bool = False,
    **extra: Any,
) -> CustomerSegment:
    fields: dict[str, Any] = {
        "customer_id": cid,
        "account_name": f"{cid} GmbH",
        "plan": plan,
        "enterprise": enterprise,
        "regions": list(regions),
        "features": ["payments"],
        "contacts": Contacts(emails=[f"ops@{cid}.example"], phones=["+4915112345678"], inapp_user_ids=["u1"]),
        "updated_at": T0,
    }
    fields.update(extra)
    return CustomerSegment(**fields)


def command(nid: str = "ntf_1", dry_run: bool = False) -> NotificationCommand:
    return NotificationCommand(
        notification_id=nid,
        incident_id="inc",
        incident_version=1,
        customer_id="c1",
        channel=Channel.email,
        recipients=["ops@c1.example"],
        text="hi",
        severity=Severity.P1,
        kind=IncidentKind.regional_outage,
        phase=Phase.investigating,
        created_at=T0,
        dry_run=dry_run,
    )


def alertmanager_line(status: str = "firing") -> dict[str, object]:
    """One `forewarn produce raw` line: a critical PaymentsDown alert in eu-west, stamped now."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {"alertname": "PaymentsDown", "service": "payments", "region": "eu-west", "severity": "critical"}
    return {
        "source": "alertmanager",
        "received_at": now,
        "body": {
            "version": "4",
            "status": status,
            "receiver": "forewarn",
            "groupKey": '{}:{alertname="PaymentsDown"}',
            "groupLabels": {"alertname": "PaymentsDown"},
            "commonLabels": labels,
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "truncatedAlerts": 0,
            "alerts": [
                {
                    "status": status,
                    "labels": labels,
                    "annotations": {"summary": "Payments API returns 503 in eu-west"},
                    "startsAt": now,
                    "endsAt": now if status == "resolved" else "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": "a1b2c3d4e5f60718",
                }
            ],
        },
    }


def anthropic_reply(parts: dict[str, str] | str) -> Callable[[httpx2.Request], httpx2.Response]:
    """A Messages API answer whose one text block is ``parts`` (JSON-encoded when a dict)."""
    text = parts if isinstance(parts, str) else json.dumps(parts)
    body = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 512, "output_tokens": 128},
    }
    return lambda request: httpx2.Response(200, json=body)


def ungated(**sections: Any) -> Policy:
    """A policy that holds no category for a person, plus ``sections``: what a test of the
    ungated path states, now that a policy which says nothing gates every draft (``always``)."""
    gates = {"default": "never", **sections.pop("gates", {})}
    return Policy.model_validate({**sections, "gates": gates})


#: A policy file's gates for a broker test of the ungated path (a file without them holds every draft).
UNGATED_GATES = "gates:\n  default: never\n"


def ungated_policy_file(tmp_path: Path, extra: str = "") -> Path:
    """A policy file that gates nothing, plus ``extra`` YAML (other top-level sections)."""
    path = tmp_path / "policy.yaml"
    path.write_text(UNGATED_GATES + extra)
    return path


def wait_customers(settings: Any, worker: Any, timeout_s: float = 120) -> None:
    """Every customer published so far applied to the worker's table, before a test sends the
    signal or incident it targets: the table's load and the pipeline run concurrently, so
    without this the first version can be targeted against a half-loaded table."""
    from forewarn.publish import group_caught_up, wait_until

    def loaded() -> bool:
        worker.check()
        return group_caught_up(settings, settings.app_id, ["customers"])

    wait_until(loaded, timeout_s, "the worker's table to hold every customer published")

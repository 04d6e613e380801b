"""PagerDuty Events API v2 (``event_action`` trigger | acknowledge | resolve): one event per message.

Required: ``event_action``; for a trigger ``payload.summary``, ``payload.source`` and
``payload.severity`` (as PagerDuty itself requires); for acknowledge/resolve ``dedup_key``.
``routing_key`` is an integration secret and is never copied into the event.

Dedup-key convention: keys forewarn creates read ``service|region|symptom``. Acknowledge and
resolve messages usually carry no payload, only the key: such an event is marked ``KEY_ONLY``
and its identity is provisional (the convention's, else the key as service, region "global",
symptom "alert"). The dedup stage (``processors.detect.dedup``) replaces it with the identity
of the trigger that used the key, whatever the key looks like. A trigger without a dedup_key
gets the convention key as its ``source_ref``.
"""

from __future__ import annotations

from forewarn.schemas.models import ObservabilityEvent, SignalStatus

from ._common import SEVERITIES, SYMPTOMS, SignalContext, build_event, flags_of, symptom_of
from ._fields import as_object, child, finite_number, one_of, optional_str, required, required_str

ACTIONS = {
    "trigger": SignalStatus.firing,
    "acknowledge": SignalStatus.acknowledged,
    "resolve": SignalStatus.resolved,
}
PAYLOAD_LABELS = ("source", "component", "group", "class")
#: Label on an acknowledge/resolve that carried only its dedup_key: its identity is a guess until
#: the dedup stage finds its trigger's.
KEY_ONLY = "forewarn.key_only"


def normalize(doc: object, ctx: SignalContext) -> list[ObservabilityEvent]:
    body = as_object(doc, "")
    action = one_of(required_str(body, "event_action", ""), ACTIONS, "event_action")
    status = ACTIONS[action]
    if status is SignalStatus.firing or body.get("payload") is not None:
        return [_with_payload(body, status, ctx)]
    return [_from_dedup_key(required_str(body, "dedup_key", ""), action, status, ctx)]


def _with_payload(body: dict[str, object], status: SignalStatus, ctx: SignalContext) -> ObservabilityEvent:
    payload = as_object(required(body, "payload", ""), "payload")
    summary = required_str(payload, "summary", "payload")
    source = required_str(payload, "source", "payload")
    severity = one_of(required_str(payload, "severity", "payload"), SEVERITIES, "payload.severity")
    labels = _details(payload.get("custom_details"), "payload.custom_details")
    for key in PAYLOAD_LABELS:
        value = optional_str(payload, key, "payload")
        if value is not None:
            labels[key] = value

    service = optional_str(payload, "component", "payload") or source
    region = labels.get("region") or "global"
    symptom = symptom_of(labels, labels.get("class") or summary)
    timestamp = payload.get("timestamp")
    occurred_at = ctx.received_at if timestamp is None else ctx.event_time(timestamp, "payload.timestamp")
    return build_event(
        ctx,
        source_ref=optional_str(body, "dedup_key", "") or f"{service}|{region}|{symptom}",
        service=service,
        region=region,
        symptom=symptom,
        status=status,
        severity=severity,
        summary=summary,
        occurred_at=occurred_at,
        labels=labels,
        flags=flags_of(labels),
        customer_id=labels.get("customer_id") or None,
    )


def _from_dedup_key(dedup_key: str, action: str, status: SignalStatus, ctx: SignalContext) -> ObservabilityEvent:
    """A bare acknowledge/resolve: identity from the key, time from the record (PD sends none)."""
    service, region, symptom = convention(dedup_key) or (dedup_key, "global", "alert")
    return build_event(
        ctx,
        source_ref=dedup_key,
        service=service,
        region=region,
        symptom=symptom,
        status=status,
        severity="info",
        summary=f"PagerDuty {action} for {dedup_key}",
        occurred_at=ctx.received_at,
        labels={KEY_ONLY: "true"},
        flags=[],
    )


def convention(dedup_key: str) -> tuple[str, str, str] | None:
    """(service, region, symptom) of a key following forewarn's convention, else None."""
    parts = dedup_key.split("|")
    if len(parts) == 3 and all(parts) and parts[2] in SYMPTOMS:
        return parts[0], parts[1], parts[2]
    return None


def _details(value: object, path: str) -> dict[str, str]:
    """``custom_details`` is free-form: keep its scalar entries as labels, skip nested structure."""
    if not isinstance(value, dict):
        return {}
    labels: dict[str, str] = {}
    for key, detail in value.items():
        if isinstance(detail, str):
            labels[key] = detail
        elif isinstance(detail, bool):
            labels[key] = "true" if detail else "false"
        elif isinstance(detail, int):
            labels[key] = str(detail)
        elif isinstance(detail, float):
            labels[key] = repr(finite_number(detail, child(path, key)))
    return labels

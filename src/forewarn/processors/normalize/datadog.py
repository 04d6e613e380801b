"""Datadog monitor webhook: one event per notification.

Datadog posts whatever JSON template the webhook is configured with, so forewarn documents the
template it expects (the default variables plus the alert ones; every value may arrive as a
string because Datadog interpolates ``$VARIABLES`` into text):

    {"id": "$ID", "last_updated": "$LAST_UPDATED", "event_type": "$EVENT_TYPE",
     "title": "$EVENT_TITLE", "date": "$DATE", "org": {"id": "$ORG_ID", "name": "$ORG_NAME"},
     "body": "$EVENT_MSG", "alert_id": "$ALERT_ID", "alert_type": "$ALERT_TYPE",
     "alert_transition": "$ALERT_TRANSITION", "alert_status": "$ALERT_STATUS",
     "alert_metric": "$ALERT_METRIC", "alert_query": "$ALERT_QUERY", "tags": "$TAGS",
     "priority": "$ALERT_PRIORITY", "aggreg_key": "$AGGREG_KEY",
     "alert_cycle_key": "$ALERT_CYCLE_KEY", "snapshot": "$SNAPSHOT"}

Required: ``alert_id``, ``alert_transition``, ``date`` (epoch ms), ``title``, and a ``service:``
tag. ``source_ref`` is ``alert_cycle_key`` (links a trigger to its recovery), else
``aggreg_key``, else the monitor id.
"""

from __future__ import annotations

from forewarn.schemas.models import ObservabilityEvent, SignalStatus

from ._common import SignalContext, build_event, flags_of, symptom_of
from ._fields import as_object, identifier, item, missing, one_of, optional_str, required, required_str, wrong_type

TRANSITIONS = {
    "triggered": SignalStatus.firing,
    "re-triggered": SignalStatus.firing,
    "warn": SignalStatus.firing,
    "re-warn": SignalStatus.firing,
    "no data": SignalStatus.firing,
    "re-no data": SignalStatus.firing,
    "renotify": SignalStatus.firing,
    "recovered": SignalStatus.resolved,
}
ALERT_TYPES = {"error": "error", "warning": "warning", "info": "info", "success": "info"}
WARN_TRANSITIONS = frozenset({"warn", "re-warn", "no data", "re-no data"})


def normalize(doc: object, ctx: SignalContext) -> list[ObservabilityEvent]:
    body = as_object(doc, "")
    monitor_id = identifier(required(body, "alert_id", ""), "alert_id")
    transition = required_str(body, "alert_transition", "").strip().lower()
    status = TRANSITIONS[one_of(transition, TRANSITIONS, "alert_transition")]
    title = required_str(body, "title", "")
    labels = _tags(body.get("tags"), "tags")
    service = labels.get("service")
    if not service:
        raise missing("tags.service")
    return [
        build_event(
            ctx,
            source_ref=optional_str(body, "alert_cycle_key", "") or optional_str(body, "aggreg_key", "") or monitor_id,
            service=service,
            region=labels.get("region") or "global",
            symptom=symptom_of(labels, title),
            status=status,
            severity=_severity(body, transition),
            summary=title,
            description=optional_str(body, "body", ""),
            occurred_at=ctx.event_time(required(body, "date", ""), "date"),
            labels=labels,
            flags=flags_of(labels),
            customer_id=labels.get("customer_id") or None,
        )
    ]


def _severity(body: dict[str, object], transition: str) -> str:
    """``alert_type`` says how bad; a P1 monitor in error is critical; without a type, Warn is warning."""
    alert_type = optional_str(body, "alert_type", "")
    if alert_type is not None:
        severity = ALERT_TYPES[one_of(alert_type.lower(), ALERT_TYPES, "alert_type")]
    elif transition == "recovered":
        severity = "info"
    else:
        severity = "warning" if transition in WARN_TRANSITIONS else "error"
    priority = optional_str(body, "priority", "")
    if severity == "error" and priority is not None and priority.upper() == "P1":
        return "critical"
    return severity


def _tags(value: object, path: str) -> dict[str, str]:
    """``$TAGS`` is "key:value,key:value"; a list of such strings is accepted too. Bare tags map to ""."""
    if value is None:
        return {}
    if isinstance(value, str):
        tags = value.split(",")
    elif isinstance(value, list):
        tags = []
        for i, tag in enumerate(value):
            if not isinstance(tag, str):
                raise wrong_type(item(path, i), "string", tag)
            tags.append(tag)
    else:
        raise wrong_type(path, "comma-separated string or array of strings", value)
    labels: dict[str, str] = {}
    for tag in tags:
        key, _, tag_value = tag.strip().partition(":")
        if key:
            labels.setdefault(key, tag_value)
    return labels

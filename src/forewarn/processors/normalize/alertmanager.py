"""Prometheus Alertmanager webhook (``version: "4"``): one event per alert in the group.

Required: ``version`` == "4", ``alerts[]``, and per alert ``status``, ``labels`` with one of
``service``/``job``/``app``, ``startsAt`` (and a real ``endsAt`` when resolved). The group-level
fields (receiver, groupKey, commonLabels, ...) are ignored: each alert carries its full label set.

Firing alerts are re-sent every ``repeat_interval`` with their original ``startsAt``; using that
as event time (and in the id) makes the repeats recognisable duplicates downstream.
"""

from __future__ import annotations

from forewarn.schemas.models import ObservabilityEvent, SignalStatus

from ._common import SignalContext, build_event, first_label, flags_of, series_ref, severity_of, symptom_of
from ._fields import as_list, as_object, child, item, missing, one_of, optional_str, required, required_str, str_map
from .errors import NormalizeError

SERVICE_LABELS = ("service", "job", "app")
REGION_LABELS = ("region", "cluster", "zone")
STATUSES = {"firing": SignalStatus.firing, "resolved": SignalStatus.resolved}

#: Go's zero ``time.Time``: Alertmanager's "no end time yet".
ZERO_TIME_PREFIX = "0001-01-01T00:00:00"


def normalize(doc: object, ctx: SignalContext) -> list[ObservabilityEvent]:
    body = as_object(doc, "")
    version = required(body, "version", "")
    if version != "4":
        raise NormalizeError(f"version: expected '4', got {version!r}", "wrong_type")
    alerts = as_list(required(body, "alerts", ""), "alerts")
    return [_alert(as_object(alert, item("alerts", i)), item("alerts", i), ctx) for i, alert in enumerate(alerts)]


def _alert(alert: dict[str, object], path: str, ctx: SignalContext) -> ObservabilityEvent:
    status = STATUSES[one_of(required_str(alert, "status", path), STATUSES, child(path, "status"))]
    labels_path = child(path, "labels")
    labels = str_map(required(alert, "labels", path), labels_path)
    annotations = str_map(alert.get("annotations"), child(path, "annotations"))

    service = first_label(labels, SERVICE_LABELS)
    if service is None:
        raise missing(child(labels_path, "service"), " (nor job, app)")
    region = first_label(labels, REGION_LABELS) or "global"
    name = labels.get("alertname", "")

    when, when_path = _event_time(alert, status, path)
    summary = annotations.get("summary")
    description = annotations.get("description")
    if not summary:
        summary, description = description or name or "alert", None

    return build_event(
        ctx,
        source_ref=optional_str(alert, "fingerprint", path) or _label_digest(labels),
        service=service,
        region=region,
        symptom=symptom_of(labels, name),
        status=status,
        severity=severity_of(labels.get("severity"), default="warning"),
        summary=summary,
        description=description,
        occurred_at=ctx.event_time(when, when_path),
        labels=labels,
        flags=flags_of(labels),
        customer_id=labels.get("customer_id") or None,
    )


def _event_time(alert: dict[str, object], status: SignalStatus, path: str) -> tuple[object, str]:
    """When it started firing, or when it stopped: the moment the customer's experience changed."""
    if status is SignalStatus.firing:
        return required(alert, "startsAt", path), child(path, "startsAt")
    ends_at = required(alert, "endsAt", path)
    if isinstance(ends_at, str) and ends_at.startswith(ZERO_TIME_PREFIX):
        raise NormalizeError(f"{child(path, 'endsAt')}: resolved alert has no end time", "wrong_type")
    return ends_at, child(path, "endsAt")


def _label_digest(labels: dict[str, str]) -> str:
    """Alertmanager's own identity is the label set; hash it when the fingerprint is missing."""
    return series_ref(*(f"{key}={value}" for key, value in sorted(labels.items())))

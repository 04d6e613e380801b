"""Sentry issue-alert webhook (``Sentry-Hook-Resource: event_alert``): one event per delivery.

Required: ``action`` == "triggered", ``data.event`` with ``event_id``, ``title`` and a time
(``datetime``, else epoch ``timestamp``). The service is the ``service`` tag, else the project
slug from ``data.event.url`` (the event itself only carries the numeric project id), else that id.
``source_ref`` is the issue id, so every alert about one issue lands on one incident.
"""

from __future__ import annotations

import re
from datetime import datetime

from forewarn.schemas.models import ObservabilityEvent, SignalStatus

from ._common import SignalContext, build_event, flags_of
from ._fields import (
    as_list,
    as_object,
    child,
    identifier,
    item,
    missing,
    one_of,
    optional_str,
    required,
    required_str,
    wrong_type,
)

LEVELS = {"fatal": "critical", "error": "error", "warning": "warning", "info": "info", "debug": "info"}
_PROJECT_SLUG = re.compile(r"/projects/[^/]+/([^/]+)/")
EVENT = "data.event"


def normalize(doc: object, ctx: SignalContext) -> list[ObservabilityEvent]:
    body = as_object(doc, "")
    one_of(required_str(body, "action", ""), ("triggered",), "action")
    data = as_object(required(body, "data", ""), "data")
    event = as_object(required(data, "event", "data"), EVENT)

    event_ref = required_str(event, "event_id", EVENT)
    title = required_str(event, "title", EVENT)
    labels = _tags(event.get("tags"), child(EVENT, "tags"))
    rule = optional_str(data, "triggered_rule", "data")
    if rule is not None:
        labels.setdefault("triggered_rule", rule)
    issue = event.get("issue_id")
    level = optional_str(event, "level", EVENT)

    return [
        build_event(
            ctx,
            source_ref=event_ref if issue is None else identifier(issue, child(EVENT, "issue_id")),
            service=labels.get("service") or _project(event),
            region=labels.get("region") or "global",
            symptom="error_rate",
            status=SignalStatus.firing,
            severity=LEVELS.get(level.lower(), "error") if level else "error",
            summary=title,
            description=optional_str(event, "culprit", EVENT),
            occurred_at=_occurred_at(event, ctx),
            labels=labels,
            flags=flags_of(labels),
            customer_id=labels.get("customer_id") or None,
        )
    ]


def _project(event: dict[str, object]) -> str:
    url = optional_str(event, "url", EVENT)
    match = _PROJECT_SLUG.search(url) if url else None
    if match:
        return match.group(1)
    project = event.get("project")
    if project is None:
        raise missing(child(EVENT, "tags.service"), " (nor a project in data.event.url or data.event.project)")
    return identifier(project, child(EVENT, "project"))


def _occurred_at(event: dict[str, object], ctx: SignalContext) -> datetime:
    """``datetime`` is the ISO form of ``timestamp``; either will do, ISO first."""
    for key in ("datetime", "timestamp"):
        value = event.get(key)
        if value is not None:
            return ctx.event_time(value, child(EVENT, key))
    raise missing(child(EVENT, "datetime"), " (nor timestamp)")


def _tags(value: object, path: str) -> dict[str, str]:
    """Sentry sends tags as ``[[key, value], ...]``; the first value for a key wins."""
    labels: dict[str, str] = {}
    if value is None:
        return labels
    for i, pair in enumerate(as_list(value, path)):
        if not (isinstance(pair, list) and len(pair) == 2):
            raise wrong_type(item(path, i), "[key, value] pair", pair)
        key, tag = pair
        if not isinstance(key, str):
            raise wrong_type(item(item(path, i), 0), "string", key)
        if not isinstance(tag, str):
            raise wrong_type(item(item(path, i), 1), "string", tag)
        labels.setdefault(key, tag)
    return labels

"""Generic JSON metric samples, one object or an array of them (batching is how ingest keeps up).

Each sample: ``{"service", "region"?, "metric", "value", "timestamp", "labels"?}`` with
``metric`` one of error_rate | latency_p99_ms | availability, ``value`` a finite number,
``timestamp`` RFC 3339 or epoch seconds/ms, and ``labels`` string to string. A missing or
empty region means "global". Samples become ``firing`` events of severity "info": whether a
value is a breach is for the windowed rules to decide, not for ingest. A bad sample rejects
the whole message, so the dead letter holds the batch exactly as it was sent.

This is the high-volume source, so it has two paths: ``_sample`` accepts the common shape
(epoch-number timestamp, plain labels) with a handful of type checks and builds the event
directly; anything else goes to ``_checked_sample``, which owns every rule and every error
message. The tests assert both paths agree on whatever the fast one accepts. ``signals`` is
what ingest calls: the same, except that a plain sample comes out as a ``Sample`` (all that
its run keeps of it) instead of a full event.
"""

from __future__ import annotations

from math import isfinite
from typing import cast

from forewarn.schemas.models import ObservabilityEvent, SignalStatus

from ._common import FLAG_LABELS, Sample, SignalContext, build_event, construct_event, event_id, flags_of
from ._fields import as_object, child, finite_number, item, one_of, optional_str, required, required_str, str_map
from ._time import EPOCH, EPOCH_MS_THRESHOLD, MILLISECOND, epoch_to_datetime, to_millis

#: metric name -> symptom it evidences.
METRICS = {"error_rate": "error_rate", "latency_p99_ms": "latency", "availability": "availability"}
#: The fast path takes epoch numbers in (0, 1e14): seconds or milliseconds up to the year 5138,
#: all convertible without range errors. Others (and RFC 3339 text) take the checked path.
_FAST_EPOCH_LIMIT = 10**14
#: Integers a double holds exactly; larger ones take the checked path, which reports overflow.
_FAST_INT_LIMIT = 2**53
#: Integer epoch times below 2**32 s (the year 2106) become milliseconds by arithmetic with
#: the instant ``epoch_to_datetime`` gives: its double's error there is under half a
#: microsecond, which it rounds away. Later ones go through the datetime, as events do.
_EXACT_MS_LIMIT = 2**32 * 1000
_FLAG_KEYS = frozenset(FLAG_LABELS)
_FIRING = SignalStatus.firing


def normalize(doc: object, ctx: SignalContext) -> list[ObservabilityEvent]:
    # Without ``packed`` every item is an event; the cast saves a per-sample check.
    if isinstance(doc, list):
        return cast(list[ObservabilityEvent], [_sample(sample, i, ctx, False) for i, sample in enumerate(doc)])
    return [cast(ObservabilityEvent, _sample(doc, None, ctx, False))]


def signals(doc: object, ctx: SignalContext) -> list[ObservabilityEvent | Sample]:
    """As ``normalize``, with plain samples as :class:`Sample` (what ingest groups into runs)."""
    if isinstance(doc, list):
        return [_sample(sample, i, ctx, True) for i, sample in enumerate(doc)]
    return [_sample(doc, None, ctx, True)]


def _sample(doc: object, index: int | None, ctx: SignalContext, packed: bool) -> ObservabilityEvent | Sample:
    """The common shape, checked inline; anything unusual is handed to ``_checked_sample``.

    ``packed``: a sample that raises no flag and names no customer comes out as a Sample.
    """
    if type(doc) is not dict:
        return _checked_sample(doc, index, ctx)
    service = doc.get("service")
    region = doc.get("region")
    if region is None or region == "":
        region = "global"
    metric = doc.get("metric")
    value = doc.get("value")
    timestamp = doc.get("timestamp")
    labels = doc.get("labels")
    if labels is None:
        labels = {}
    if not (
        type(service) is str
        and service
        and type(region) is str
        and type(metric) is str
        and metric in METRICS
        and (type(value) is float or (type(value) is int and -_FAST_INT_LIMIT <= value <= _FAST_INT_LIMIT))
        and (type(timestamp) is int or type(timestamp) is float)
        and 0 < timestamp < _FAST_EPOCH_LIMIT
        and type(labels) is dict
    ):
        return _checked_sample(doc, index, ctx)
    for label in labels.values():
        if type(label) is not str:
            return _checked_sample(doc, index, ctx)
    number = float(value)
    flags = [] if _FLAG_KEYS.isdisjoint(labels) else flags_of(labels)
    customer_id = labels.get("customer_id") or None
    if packed and not flags and customer_id is None:
        if type(timestamp) is int and timestamp < _EXACT_MS_LIMIT:
            at = timestamp if timestamp >= EPOCH_MS_THRESHOLD else timestamp * 1000
        else:
            at = (to_millis(epoch_to_datetime(timestamp)) - EPOCH) // MILLISECOND
        if not (isfinite(number) and ctx.earliest_ms <= at <= ctx.latest_ms):
            return _checked_sample(doc, index, ctx)
        return Sample(service, region, metric, at, number)
    occurred_at = to_millis(epoch_to_datetime(timestamp))
    if not (isfinite(number) and ctx.earliest <= occurred_at <= ctx.latest):
        return _checked_sample(doc, index, ctx)
    source_ref = f"{service}|{region}|{metric}"
    return construct_event(
        {
            "event_id": event_id(ctx.source, source_ref, _FIRING, occurred_at, metric, number),
            "source": ctx.source,
            "source_ref": source_ref,
            "service": service,
            "region": region,
            "symptom": METRICS[metric],
            "status": _FIRING,
            "severity": "info",
            "metric": metric,
            "value": number,
            "summary": f"{metric} {number:g} for {service} in {region}",
            "description": None,
            "labels": labels,
            "flags": flags,
            "customer_id": customer_id,
            "occurred_at": occurred_at,
            "received_at": ctx.received_at,
        }
    )


def _checked_sample(doc: object, index: int | None, ctx: SignalContext) -> ObservabilityEvent:
    path = "" if index is None else item("", index)
    sample = as_object(doc, path)
    service = required_str(sample, "service", path)
    region = optional_str(sample, "region", path) or "global"
    metric = one_of(required_str(sample, "metric", path), METRICS, child(path, "metric"))
    value = finite_number(required(sample, "value", path), child(path, "value"))
    occurred_at = ctx.event_time(required(sample, "timestamp", path), child(path, "timestamp"))
    labels = str_map(sample.get("labels"), child(path, "labels"))
    return build_event(
        ctx,
        source_ref=f"{service}|{region}|{metric}",
        service=service,
        region=region,
        symptom=METRICS[metric],
        status=SignalStatus.firing,
        severity="info",
        summary=f"{metric} {value:g} for {service} in {region}",
        occurred_at=occurred_at,
        labels=labels,
        flags=flags_of(labels),
        customer_id=labels.get("customer_id") or None,
        metric=metric,
        value=value,
    )

"""Generic JSON metric samples, one object or an array of them (batching is how ingest keeps up).

Each sample: ``{"service", "region"?, "metric", "value", "timestamp", "labels"?}`` with
``metric`` one of error_rate | latency_p99_ms | availability, ``value`` a finite number,
``timestamp`` RFC 3339 or epoch seconds/ms, and ``labels`` string to string. A missing or
empty region means "global". Samples become ``firing`` events of severity "info": whether a
value is a breach is for the windowed rules to decide, not for ingest. A bad sample rejects
the whole message, so the dead letter holds the batch exactly as it was sent.

This is the high-volume source, so it has four paths, each an accelerator for the next.
``packed`` (what ingest calls) has msgspec decode the body straight into typed ``_Plain``
structs, which holds when every object has only the documented keys with the common types
(epoch-number timestamp); a body it cannot type that way goes to ``signals`` parsed
generically. ``signals`` checks the common plain shape (no flag, no customer) inline, in one
loop over the batch, and appends each such sample to the message's current ``Samples``: no
object per sample at all. Anything else goes to ``_sample``, which builds the event directly
for the common shape with a handful of type checks, and hands the rest to ``_checked_sample``,
which owns every rule and every error message. The tests assert that all of them agree on
whatever the faster ones accept.
"""

from __future__ import annotations

from collections.abc import Callable
from math import isfinite
from typing import Annotated, Literal

import msgspec

from forewarn.schemas.models import ObservabilityEvent, SignalStatus

from ._common import (
    FLAG_LABELS,
    UTF8_BOM,
    Samples,
    SignalContext,
    build_event,
    construct_event,
    event_id,
    flags_of,
    parse_json,
)
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
    if isinstance(doc, list):
        return [_sample(sample, i, ctx) for i, sample in enumerate(doc)]
    return [_sample(doc, None, ctx)]


_EPOCH_RANGE = msgspec.Meta(gt=0, lt=_FAST_EPOCH_LIMIT)


class _Plain(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A sample in the common shape, as msgspec's typed decoder reads it (checks done in C).

    Unknown keys are refused rather than skipped: a body of these alone then nests only two
    deep, so the typed pass never accepts what the generic parser's depth limit would reject.
    A missing region or labels and an explicit null mean the same in every path.
    """

    service: Annotated[str, msgspec.Meta(min_length=1)]
    metric: Literal["error_rate", "latency_p99_ms", "availability"]
    value: int | float
    #: Epoch seconds or milliseconds in (0, 1e14); others are for the generic path to judge.
    timestamp: Annotated[int, _EPOCH_RANGE] | Annotated[float, _EPOCH_RANGE]
    region: str | None = None
    labels: dict[str, str] | None = None


_PLAIN_BODY = msgspec.json.Decoder(list[_Plain] | _Plain)
_PLAIN_FIELDS = _Plain.__struct_fields__


def packed(body: bytes, ctx: SignalContext) -> list[ObservabilityEvent | Samples]:
    """``signals`` of the body: typed by msgspec when it can be, parsed generically otherwise.

    At ten samples a message, the generic parse and the checks in Python cost ~15 µs; the
    typed decode and the loop below about a third of that. Whatever msgspec refuses (another
    key, a string timestamp, NaN, a malformed body...) is decided by the generic path, so
    every error message is still ``_checked_sample``'s.
    """
    try:
        decoded = _PLAIN_BODY.decode(body.removeprefix(UTF8_BOM))
    except (msgspec.DecodeError, ValueError):  # invalid UTF-8 is a UnicodeDecodeError
        return signals(parse_json(body), ctx)
    items, indexed = (decoded, True) if type(decoded) is list else ([decoded], False)
    out: list[ObservabilityEvent | Samples] = []
    earliest, latest = ctx.earliest_ms, ctx.latest_ms
    int_limit, exact_limit, ms_threshold = _FAST_INT_LIMIT, _EXACT_MS_LIMIT, EPOCH_MS_THRESHOLD
    # the open series, in locals: attribute lookups were a good part of this loop's cost
    service: str | None = None
    region = metric = ""
    add_at: Callable[[int], None] = _nowhere
    add_value: Callable[[float], None] = _nowhere
    for index, sample in enumerate(items):
        value = sample.value
        timestamp = sample.timestamp
        labels = sample.labels
        if (type(value) is float or -int_limit <= value <= int_limit) and (labels is None or _plain_labels(labels)):
            if type(timestamp) is int and timestamp < exact_limit:
                at = timestamp if timestamp >= ms_threshold else timestamp * 1000
            else:
                at = (to_millis(epoch_to_datetime(timestamp)) - EPOCH) // MILLISECOND
            if earliest <= at <= latest:
                # finite: msgspec refuses NaN, Infinity and literals beyond a double's range
                number = value if type(value) is float else float(value)
                if sample.service == service and sample.metric == metric and (sample.region or "global") == region:
                    add_at(at)
                    add_value(number)
                else:
                    service, region, metric = sample.service, sample.region or "global", sample.metric
                    series = Samples(service, region, metric, [at], [number])
                    add_at, add_value = series.at.append, series.values.append
                    out.append(series)
                continue
        # the generic path's verdict on the same object (its keys are exactly the fields)
        doc = {name: getattr(sample, name) for name in _PLAIN_FIELDS}
        out.append(_sample(doc, index if indexed else None, ctx))
        service = None  # what follows comes after this event
    return out


def _nowhere(_: float) -> None:
    """Where samples would go before a series is open (never called: no series matches None)."""


def signals(doc: object, ctx: SignalContext) -> list[ObservabilityEvent | Samples]:
    """As ``normalize``, with runs of plain samples of one series as :class:`Samples`.

    The checks are ``_sample``'s, inlined: at ten samples a message a call and a tuple per
    sample were a third of normalisation. Whatever they do not pass, ``_sample`` decides.
    """
    items, indexed = (doc, True) if type(doc) is list else ([doc], False)
    out: list[ObservabilityEvent | Samples] = []
    series: Samples | None = None
    earliest, latest = ctx.earliest_ms, ctx.latest_ms
    finite = isfinite
    for index, sample in enumerate(items):
        if type(sample) is dict:
            get = sample.get
            service = get("service")
            region = get("region")
            if region is None or region == "":
                region = "global"
            metric = get("metric")
            value = get("value")
            timestamp = get("timestamp")
            labels = get("labels")
            if (
                type(service) is str
                and service
                and type(region) is str
                and type(metric) is str
                and metric in METRICS
                and (type(value) is float or (type(value) is int and -_FAST_INT_LIMIT <= value <= _FAST_INT_LIMIT))
                and (type(timestamp) is int or type(timestamp) is float)
                and 0 < timestamp < _FAST_EPOCH_LIMIT
                and (labels is None or _plain_labels(labels))
            ):
                if type(timestamp) is int and timestamp < _EXACT_MS_LIMIT:
                    at = timestamp if timestamp >= EPOCH_MS_THRESHOLD else timestamp * 1000
                else:
                    at = (to_millis(epoch_to_datetime(timestamp)) - EPOCH) // MILLISECOND
                number = value if type(value) is float else float(value)
                if finite(number) and earliest <= at <= latest:
                    if (
                        series is not None
                        and series.service == service
                        and series.region == region
                        and series.metric == metric
                    ):
                        series.at.append(at)
                        series.values.append(number)
                    else:
                        series = Samples(service, region, metric, [at], [number])
                        out.append(series)
                    continue
        out.append(_sample(sample, index if indexed else None, ctx))
        series = None  # what follows comes after this event
    return out


def _plain_labels(labels: object) -> bool:
    """String labels that raise no flag and name no customer: nothing a run would lose."""
    if type(labels) is not dict:
        return False
    for label in labels.values():
        if type(label) is not str:
            return False
    return (_FLAG_KEYS.isdisjoint(labels) or not flags_of(labels)) and not labels.get("customer_id")


def _sample(doc: object, index: int | None, ctx: SignalContext) -> ObservabilityEvent:
    """The common shape, checked inline; anything unusual is handed to ``_checked_sample``."""
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
            "flags": [] if _FLAG_KEYS.isdisjoint(labels) else flags_of(labels),
            "customer_id": labels.get("customer_id") or None,
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

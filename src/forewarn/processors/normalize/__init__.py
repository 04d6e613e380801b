"""The ``normalize`` stage: a source-native payload (RawSignal) in, ObservabilityEvents out.

Pure: no Kafka, no clock. Event times are judged against the record's ``received_at``, so a
replay of the raw topic normalises to byte-identical events (event ids are deterministic).
Anything that cannot become an event raises :class:`NormalizeError`, whose ``error_type`` and
``reason`` go straight into the dead letter; nothing is half-normalised.

Each source lives in its own module behind :class:`SourceAdapter`; ``ADAPTERS`` is the whole
list of what forewarn understands, keyed by ``RawSignal.source``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Protocol

from forewarn.schemas.models import ObservabilityEvent, RawSignal

from . import alertmanager, datadog, json_metric, pagerduty, sentry
from ._common import Samples, SignalContext, SourceAdapter, parse_json, signal_count
from .errors import ERROR_TYPES, ErrorType, NormalizeError

__all__ = [
    "ADAPTERS",
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_FUTURE_SKEW",
    "ERROR_TYPES",
    "MAX_BODY_BYTES",
    "PACKED_ADAPTERS",
    "ErrorType",
    "NormalizeError",
    "PackedAdapter",
    "Samples",
    "SignalContext",
    "SourceAdapter",
    "normalize",
    "normalize_signals",
    "parse_json",
    "signal_count",
]

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_FUTURE_SKEW = timedelta(minutes=5)
DEFAULT_MAX_AGE = timedelta(days=30)

ADAPTERS: Mapping[str, SourceAdapter] = MappingProxyType(
    {
        "alertmanager": alertmanager.normalize,
        "pagerduty": pagerduty.normalize,
        "datadog": datadog.normalize,
        "sentry": sentry.normalize,
        "json": json_metric.normalize,
    }
)


class PackedAdapter(Protocol):
    """A source whose plain metric samples can come out as :class:`Samples` instead of events.

    It takes the body, not the parsed document: a decoder typed for the source's plain shape
    reads it several times faster than a generic parse followed by checks in Python.
    """

    def __call__(self, body: bytes, ctx: SignalContext, /) -> list[ObservabilityEvent | Samples]: ...


#: Sources with a packed form (``normalize_signals``); the others' events are used as they are.
PACKED_ADAPTERS: Mapping[str, PackedAdapter] = MappingProxyType({"json": json_metric.packed})


def normalize(
    raw: RawSignal,
    *,
    max_bytes: int = MAX_BODY_BYTES,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
    max_age: timedelta = DEFAULT_MAX_AGE,
    adapters: Mapping[str, SourceAdapter] = ADAPTERS,
) -> list[ObservabilityEvent]:
    """Turn one raw payload into zero or more events, or say precisely why it cannot be done.

    ``max_future_skew`` bounds how far a sender's clock may run ahead of ``received_at``;
    ``max_age`` bounds how stale an event may be before it no longer describes the present.
    """
    adapter = adapters.get(raw.source)
    if adapter is None:
        raise _unknown(raw.source, adapters)
    return adapter(*_parsed(raw, max_bytes, max_future_skew, max_age))


def normalize_signals(
    raw: RawSignal,
    *,
    max_bytes: int = MAX_BODY_BYTES,
    max_future_skew: timedelta = DEFAULT_MAX_FUTURE_SKEW,
    max_age: timedelta = DEFAULT_MAX_AGE,
) -> Sequence[ObservabilityEvent | Samples]:
    """``normalize`` for ingest: the same signals, the same errors, but plain metric samples
    of a source in ``PACKED_ADAPTERS`` come out packed per series (:class:`Samples`), not as
    full events, because ingest only packs them into runs (``SignalGrouper``) and never sends
    them whole. ``signal_count`` says how many events that is."""
    packed = PACKED_ADAPTERS.get(raw.source)
    if packed is not None:
        _check_size(raw, max_bytes)
        return packed(raw.body, _context(raw, max_future_skew, max_age))
    return normalize(raw, max_bytes=max_bytes, max_future_skew=max_future_skew, max_age=max_age)


def _unknown(source: str, adapters: Mapping[str, SourceAdapter]) -> NormalizeError:
    known = ", ".join(sorted(adapters))
    return NormalizeError(f"source: unknown source {source!r} (known: {known})", "unknown_source")


def _parsed(
    raw: RawSignal, max_bytes: int, max_future_skew: timedelta, max_age: timedelta
) -> tuple[object, SignalContext]:
    _check_size(raw, max_bytes)
    return parse_json(raw.body), _context(raw, max_future_skew, max_age)


def _check_size(raw: RawSignal, max_bytes: int) -> None:
    if len(raw.body) > max_bytes:
        raise NormalizeError(f"body: {len(raw.body)} bytes exceeds the limit of {max_bytes}", "oversized")


def _context(raw: RawSignal, max_future_skew: timedelta, max_age: timedelta) -> SignalContext:
    return SignalContext.of(raw.source, raw.received_at, max_future_skew=max_future_skew, max_age=max_age)

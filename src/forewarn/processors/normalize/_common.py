"""What every source adapter shares: its context and interface, label mapping, event identity.

Nothing here reads a clock: the credible time window comes from ``received_at`` on the record,
so a replay normalises to identical events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import NamedTuple, Protocol

import pydantic_core

from forewarn.schemas.models import ObservabilityEvent, SignalStatus

from ._time import EPOCH, MICROSECOND, MILLISECOND, parse_time, to_millis
from .errors import NormalizeError

SYMPTOMS: frozenset[str] = frozenset({"error_rate", "latency", "availability", "outage", "alert"})
SEVERITIES: frozenset[str] = frozenset({"critical", "error", "warning", "info"})

#: Vendor and team severity words -> forewarn's four levels. Unknown words fall back per adapter.
SEVERITY_ALIASES: Mapping[str, str] = {
    **{word: "critical" for word in ("critical", "crit", "page", "p1", "sev1", "fatal", "emergency", "disaster")},
    **{word: "error" for word in ("error", "err", "major", "high", "p2", "sev2")},
    **{word: "warning" for word in ("warning", "warn", "minor", "medium", "p3", "sev3")},
    **{word: "info" for word in ("info", "informational", "notice", "low", "none", "debug", "p4", "p5", "sev4")},
}

#: Labels that, set to "true", raise a flag the classifier treats as non-negotiable.
FLAG_LABELS: tuple[str, ...] = ("data_loss", "security", "compliance", "outage")
_FLAG_LABEL_SET = frozenset(FLAG_LABELS)

_EVENT_FIELDS: frozenset[str] = frozenset(ObservabilityEvent.model_fields)


class Samples(NamedTuple):
    """Consecutive plain metric samples of one series, as the signals topic carries them (a ``SampleRun``).

    Plain samples (no flag raised, no customer named) are only ever packed into runs, which keep
    service, metric, time and value; building the full event (id digest, summary, seventeen
    fields) for each was most of normalisation's cost, and even a small tuple per sample was a
    tenth of it. A sender batches a series' samples together, so one of these usually holds a
    whole message. The grouper treats each sample exactly as the event it stands for
    (``signals.is_sample`` holds for it).
    """

    service: str
    region: str
    metric: str
    #: Event times, epoch milliseconds UTC (what ``to_ms(event.occurred_at)`` gives).
    at: list[int]
    values: list[float]


def signal_count(signals: Iterable[ObservabilityEvent | Samples]) -> int:
    """How many observability events these stand for (each sample of a ``Samples`` is one)."""
    return sum(len(s.at) if type(s) is Samples else 1 for s in signals)


class SignalContext(NamedTuple):
    """What an adapter knows besides the body: who sent it, when, and which event times are credible.

    A named tuple, not a frozen dataclass: one is built per raw message, and the dataclass's
    eight ``object.__setattr__`` calls were a tenth of normalising a ten-sample message.
    """

    source: str
    received_at: datetime
    max_future_skew: timedelta
    max_age: timedelta
    earliest: datetime
    latest: datetime
    #: The same bounds in whole epoch milliseconds (rounded inwards), for times already in ms.
    earliest_ms: int
    latest_ms: int

    @classmethod
    def of(cls, source: str, received_at: datetime, *, max_future_skew: timedelta, max_age: timedelta) -> SignalContext:
        received = received_at if received_at.tzinfo is UTC else _as_utc(received_at)
        if received.microsecond % 1000:
            received = to_millis(received)
        earliest = _shifted(received, -max_age, datetime.min)
        latest = _shifted(received, max_future_skew, datetime.max)
        received_ms = (received - EPOCH) // MILLISECOND
        age_ms, skew_ms = _whole_ms(max_age), _whole_ms(max_future_skew)
        clamped = earliest.year == 1 or latest.year == 9999
        return cls(
            source,
            received,
            max_future_skew,
            max_age,
            earliest,
            latest,
            received_ms - age_ms if age_ms is not None and not clamped else -((EPOCH - earliest) // MILLISECOND),
            received_ms + skew_ms if skew_ms is not None and not clamped else (latest - EPOCH) // MILLISECOND,
        )

    def event_time(self, value: object, path: str) -> datetime:
        """Parse an event time and reject clocks too far off to order incidents by."""
        return self.check_time(parse_time(value, path), path)

    def check_time(self, at: datetime, path: str) -> datetime:
        """Bounds-check an event time and cut it to the wire's precision (Avro timestamp-millis)."""
        if at > self.latest:
            raise NormalizeError(
                f"{path}: {at.isoformat()} is {at - self.received_at} after received_at "
                f"{self.received_at.isoformat()} (allowed skew {self.max_future_skew})",
                "invalid",
            )
        if at < self.earliest:
            raise NormalizeError(
                f"{path}: {at.isoformat()} is more than {self.max_age} before received_at "
                f"{self.received_at.isoformat()}",
                "invalid",
            )
        return to_millis(at)


def _as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


_whole: dict[timedelta, int | None] = {}


def _whole_ms(span: timedelta) -> int | None:
    """``span`` in milliseconds when it is a whole number of them (a config value: cached)."""
    if span in _whole:
        return _whole[span]
    if len(_whole) >= 64:
        _whole.clear()
    ms = _whole[span] = span // MILLISECOND if not span % MILLISECOND else None
    return ms


def _shifted(at: datetime, by: timedelta, limit: datetime) -> datetime:
    """``at + by``, clamped to the calendar's end instead of overflowing."""
    try:
        return at + by
    except OverflowError:
        return limit.replace(tzinfo=UTC)


class SourceAdapter(Protocol):
    """One source's mapping from its parsed payload to events; the only thing a new source adds."""

    def __call__(self, doc: object, ctx: SignalContext, /) -> list[ObservabilityEvent]: ...


# --- label mapping ------------------------------------------------------------------------------


def first_label(labels: Mapping[str, str], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = labels.get(key)
        if value:
            return value
    return None


def infer_symptom(name: str) -> str:
    """Guess the symptom from an alert's name when the sender did not label it."""
    lowered = name.lower()
    if "latency" in lowered:
        return "latency"
    if "error" in lowered:
        return "error_rate"
    if "down" in lowered or "outage" in lowered or "unavailable" in lowered:
        return "outage"
    if "availability" in lowered:
        return "availability"
    return "alert"


def symptom_of(labels: Mapping[str, str], name: str) -> str:
    """An explicit ``symptom`` label wins when forewarn knows it; otherwise infer from the name."""
    labelled = labels.get("symptom")
    return labelled if labelled in SYMPTOMS else infer_symptom(name)


def severity_of(word: str | None, default: str) -> str:
    if not word:
        return default
    return SEVERITY_ALIASES.get(word.strip().lower(), default)


def flags_of(labels: Mapping[str, str]) -> list[str]:
    if _FLAG_LABEL_SET.isdisjoint(labels):
        return []
    return [flag for flag in FLAG_LABELS if labels.get(flag, "").lower() == "true"]


# --- identity and construction ------------------------------------------------------------------


def event_id(
    source: str,
    source_ref: str,
    status: SignalStatus,
    occurred_at: datetime,
    metric: str | None,
    value: float | None,
) -> str:
    """Same signal, same id: identity, status and event time, never the moment we received it.

    Only ``source_ref`` is free text and every part after it has a fixed alphabet, so the
    separator-joined key is unambiguous and a crafted reference cannot collide with another.
    """
    micros = (occurred_at - EPOCH) // MICROSECOND
    key = f"{source}\x1f{source_ref}\x1f{status}\x1f{micros}\x1f{metric or ''}\x1f{value!r}"
    return blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def series_ref(*parts: str) -> str:
    """A stable reference for signals whose source gives none: a digest of what identifies them."""
    joined = "\x1f".join(parts)
    return blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def build_event(
    ctx: SignalContext,
    *,
    source_ref: str,
    service: str,
    region: str,
    symptom: str,
    status: SignalStatus,
    severity: str,
    summary: str,
    occurred_at: datetime,
    labels: dict[str, str],
    flags: list[str],
    customer_id: str | None = None,
    description: str | None = None,
    metric: str | None = None,
    value: float | None = None,
) -> ObservabilityEvent:
    """Assemble an event from fields the adapter has already checked, skipping pydantic validation.

    Validation would re-check what the adapter just checked and, at ~5 µs an event, cost about
    as much as the rest of normalisation; the tests round-trip every fixture's events through
    the validating constructor so a drift between the adapters and the model fails loudly.
    """
    return construct_event(
        {
            "event_id": event_id(ctx.source, source_ref, status, occurred_at, metric, value),
            "source": ctx.source,
            "source_ref": source_ref,
            "service": service,
            "region": region,
            "symptom": symptom,
            "status": status,
            "severity": severity,
            "metric": metric,
            "value": value,
            "summary": summary,
            "description": description,
            "labels": labels,
            "flags": flags,
            "customer_id": customer_id,
            "occurred_at": occurred_at,
            "received_at": ctx.received_at,
        }
    )


_new_event = ObservabilityEvent.__new__
_set = object.__setattr__


def construct_event(fields: dict[str, object]) -> ObservabilityEvent:
    """``ObservabilityEvent.model_construct`` for a dict holding every field, at a tenth of its cost.

    ``model_construct`` walks the field list in Python resolving aliases and defaults (~8 µs
    here, slower than validating); with every field present and no aliases that walk is pure
    overhead. This sets the same four attributes it sets; pydantic is pinned and a test
    compares the two.
    """
    event = _new_event(ObservabilityEvent)
    _set(event, "__dict__", fields)
    _set(event, "__pydantic_fields_set__", set(_EVENT_FIELDS))
    _set(event, "__pydantic_extra__", None)
    _set(event, "__pydantic_private__", None)
    return event


# --- parsing ------------------------------------------------------------------------------------

UTF8_BOM = b"\xef\xbb\xbf"


def parse_json(body: bytes) -> object:
    """Parse with pydantic-core's JSON reader (already a dependency, ~1.5x the stdlib's speed).

    It rejects nesting beyond a fixed depth and lone surrogates instead of crashing later, and,
    like the stdlib, reads NaN/Infinity, which the adapters reject as ``invalid`` with a path.
    """
    try:
        return pydantic_core.from_json(body.removeprefix(UTF8_BOM))
    except ValueError as exc:
        raise NormalizeError(f"body: {exc}", "malformed_json") from None

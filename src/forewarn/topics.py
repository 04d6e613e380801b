"""The topics forewarn reads and writes: names, partitions and configs in one place.

Topics are public contracts (see ``schemas/``); ``forewarn topics create`` and the
Faust wiring both read this list so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHANNELS: tuple[str, ...] = ("email", "inapp", "slack", "teams", "sms", "statuspage", "social", "helpdesk", "internal")

WEEK_MS = 7 * 24 * 3600 * 1000
#: Raw payloads over the 1 MiB limit must still reach the normaliser (and the dead-letter
#: topic, original bytes included) rather than bounce off the broker unseen.
OVERSIZE_HEADROOM_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its short name (without prefix), its record schema and its broker config."""

    name: str
    schema: str
    compacted: bool = False
    retention_ms: int = WEEK_MS
    partitions: int | None = None  # None: the deployment's default partition count
    max_message_bytes: int | None = None  # None: the broker's default (1 MiB)

    def config(self) -> dict[str, str]:
        if self.compacted:
            conf = {"cleanup.policy": "compact", "min.compaction.lag.ms": "0", "segment.ms": "3600000"}
        else:
            conf = {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms)}
        if self.max_message_bytes:
            conf["max.message.bytes"] = str(self.max_message_bytes)
        return conf


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("raw", "io.forewarn.RawSignal", max_message_bytes=OVERSIZE_HEADROOM_BYTES),
    TopicSpec("events", "io.forewarn.ObservabilityEvent"),
    # PagerDuty events by dedup key, before signals; also the sweep's io.forewarn.DedupSweep requests
    TopicSpec("dedup", "io.forewarn.ObservabilityEvent"),
    TopicSpec("signals", "io.forewarn.SignalBatch"),
    TopicSpec("operator", "io.forewarn.OperatorCommand"),
    TopicSpec("control", "io.forewarn.OperatorCommand"),
    TopicSpec("incidents", "io.forewarn.Incident", retention_ms=90 * 24 * 3600 * 1000),
    TopicSpec("customers", "io.forewarn.CustomerSegment", compacted=True),
    TopicSpec("targeting", "io.forewarn.TargetingRequest"),
    TopicSpec("impact", "io.forewarn.ImpactReport"),
    *(TopicSpec(f"notify.{c}", "io.forewarn.NotificationCommand") for c in CHANNELS),
    TopicSpec("approvals", "io.forewarn.Approval", compacted=True),
    TopicSpec("internal.facts", "io.forewarn.InternalFact"),
    TopicSpec("receipts", "io.forewarn.DeliveryReceipt"),
    TopicSpec("audit", "io.forewarn.AuditRecord", retention_ms=30 * 24 * 3600 * 1000),
    TopicSpec(
        "deadletter",
        "io.forewarn.DeadLetter",
        retention_ms=30 * 24 * 3600 * 1000,
        max_message_bytes=OVERSIZE_HEADROOM_BYTES,
    ),
)

BY_NAME: dict[str, TopicSpec] = {t.name: t for t in TOPICS}


@dataclass(frozen=True)
class TopicNames:
    """Full topic names under one prefix, so tests and tenants can share a broker."""

    prefix: str = "forewarn."
    extra: dict[str, str] = field(default_factory=dict)

    def __call__(self, short: str) -> str:
        if short not in BY_NAME:
            raise KeyError(f"unknown topic {short!r}; known: {', '.join(BY_NAME)}")
        return self.prefix + short

    def notify(self, channel: str) -> str:
        return self(f"notify.{channel}")

    def short(self, full: str) -> str | None:
        """The short name of a full topic name, or None when it is not one of ours."""
        if full.startswith(self.prefix) and full[len(self.prefix) :] in BY_NAME:
            return full[len(self.prefix) :]
        return None

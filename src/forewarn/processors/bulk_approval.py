"""Deciding many held drafts at once: every draft of one incident version (one channel, one language).

A gated P1 to 300,000 customers holds one draft per customer and channel, all personalised from
the same few skeletons (one per channel and language, ``processors.draft``). A person reads one
sample per *batch* — drafts of one incident version, channel, language, template and draft source,
which differ only in the reader's name and times — and decides the batch. Each draft still gets
its own decided ``Approval`` (approver, time) and therefore its own audit row, so nothing gated
reaches a channel topic without an approval record; the record names the sample that was read.

Drafts a batch approval cannot vouch for are left for one-by-one review: those held with
verdicts (they fail validation and need an edit) and those already edited. A batch rejection
takes them too: rejecting never sends anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from forewarn.processors.approve import BATCH_SAMPLE, decided
from forewarn.schemas.models import Approval, ApprovalStatus, Channel, DraftSource


@dataclass(frozen=True, order=True)
class BatchKey:
    """Drafts that share their words: only the reader's name and times differ."""

    incident_id: str
    incident_version: int
    channel: Channel
    language: str
    template: str
    source: DraftSource

    @classmethod
    def of(cls, approval: Approval) -> BatchKey:
        cmd = approval.command
        return cls(
            approval.incident_id, approval.incident_version, cmd.channel, cmd.language, cmd.template, cmd.draft_source
        )

    def __str__(self) -> str:
        return (
            f"{self.incident_id} v{self.incident_version} {self.channel.value}/{self.language}"
            f" ({self.template}, {self.source.value})"
        )


@dataclass(frozen=True)
class Selection:
    """What a person chose to decide: one incident version, optionally one channel and language."""

    incident_id: str
    incident_version: int
    channel: Channel | None = None
    language: str | None = None
    #: The console's per-batch forms name the batch exactly (the sample shown is that batch's).
    template: str | None = None
    source: DraftSource | None = None

    def covers(self, key: BatchKey) -> bool:
        return (
            (key.incident_id, key.incident_version) == (self.incident_id, self.incident_version)
            and self.channel in (None, key.channel)
            and self.language in (None, key.language)
            and self.template in (None, key.template)
            and self.source in (None, key.source)
        )

    @classmethod
    def exactly(cls, key: BatchKey) -> Selection:
        return cls(key.incident_id, key.incident_version, key.channel, key.language, key.template, key.source)


@dataclass
class Batch:
    """The pending drafts of one ``BatchKey``: those a batch approval may send, and the rest."""

    key: BatchKey
    ready: list[Approval] = field(default_factory=list)
    #: Held with verdicts, or edited: approved one by one (a batch rejection takes them).
    review: list[Approval] = field(default_factory=list)

    @property
    def sample(self) -> Approval:
        """The draft the person reads for the batch (the first ready one, else the first to review)."""
        return (self.ready or self.review)[0]

    @property
    def count(self) -> int:
        return len(self.ready) + len(self.review)


def batches(approvals: Iterable[Approval], selection: Selection | None = None) -> list[Batch]:
    """Pending drafts grouped by ``BatchKey`` (only those ``selection`` covers), in key order."""
    found: dict[BatchKey, Batch] = {}
    for approval in approvals:
        if approval.status is not ApprovalStatus.pending:
            continue
        key = BatchKey.of(approval)
        if selection is not None and not selection.covers(key):
            continue
        batch = found.get(key)
        if batch is None:
            batch = found[key] = Batch(key)
        (batch.review if approval.verdicts or approval.edited else batch.ready).append(approval)
    for batch in found.values():  # a stable sample: the earliest held
        batch.ready.sort(key=lambda a: (a.requested_at, a.approval_id))
        batch.review.sort(key=lambda a: (a.requested_at, a.approval_id))
    return [found[key] for key in sorted(found)]


def to_decide(batch: Batch, status: ApprovalStatus) -> list[Approval]:
    """The drafts a batch decision covers: ready ones for an approval, all pending for a rejection."""
    if status is ApprovalStatus.approved:
        return batch.ready
    if status is ApprovalStatus.rejected:
        return [*batch.ready, *batch.review]
    raise ValueError(f"a batch is approved or rejected, not {status.value}")


def decided_batch(
    batch: Batch, status: ApprovalStatus, approver: str, now: datetime, reason: str = ""
) -> Iterator[Approval]:
    """One decided record per draft, each naming the sample the person read."""
    sample = batch.sample.approval_id
    for approval in to_decide(batch, status):
        tagged = approval.command.model_copy(update={"metadata": {**approval.command.metadata, BATCH_SAMPLE: sample}})
        yield decided(approval.model_copy(update={"command": tagged}), status, approver, now, reason=reason)

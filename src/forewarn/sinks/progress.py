"""Which audit records Kafka may be redelivering, from the writers' claims on each partition.

At-least-once delivery means a batch can repeat rows that are already stored: after a crash
or a rebalance a consumer starts again at the last committed offset. Asking ClickHouse about
every id of every batch finds them, but that lookup searches a week of ids and cost a fifth of
the recording path. A writer knows better for what it stored itself, as long as nobody else
wrote the partition meanwhile; the claims in ``audit_progress`` (migration 0008) tell it that.

A claim is a row (revision, through offset, writer). Before storing past its reservation a
writer adds the next revision reserving ``reserve`` offsets further, so every stored row's
offset is at or below the latest claim's through offset. A writer that finds its own revision
still the latest needs to check only records at or below what it may already have stored; one
that finds another's (or none) starts a new claim and checks everything up to the through
offset it found. The reservation makes the extra write rare; the price is that a restart
checks up to ``reserve`` records per partition that were never stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["RESERVE", "Claims", "Mark", "Plan"]

#: Offsets a claim reserves ahead: one claim write per this many records of a partition.
RESERVE = 100_000


@dataclass(frozen=True, slots=True)
class Mark:
    """A partition's latest claim as stored."""

    revision: int
    through: int
    writer: str


@dataclass(frozen=True, slots=True)
class Plan:
    """For one batch: per partition, the offset at or below which records need the replay
    check; and the claims to store before any of the batch's rows."""

    check_through: dict[int, int]
    claims: list[tuple[int, Mark]]


@dataclass(slots=True)
class _Claim:
    revision: int
    reserved: int
    maybe_stored: int


@dataclass
class Claims:
    """One writer's claims; ``writer`` is unique per process run (a restart is a new writer)."""

    reserve: int = RESERVE
    writer: str = field(default_factory=lambda: uuid.uuid4().hex)
    _claims: dict[int, _Claim] = field(default_factory=dict)

    def plan(self, marks: Mapping[int, Mark], through: Mapping[int, int]) -> Plan:
        """``marks``: the stored latest claim per partition (absent: none); ``through``: the
        batch's highest offset per partition.

        Call it with the writer's lock held and store ``Plan.claims`` before the rows. If
        storing either fails, the next plan sees the table as it is: a claim that did not land
        makes the next batch start a new one, and records of a batch whose rows may have
        landed in part stay at or below ``maybe_stored``, so their retry is checked.
        """
        check_through: dict[int, int] = {}
        claims: list[tuple[int, Mark]] = []
        for partition, top in through.items():
            latest, claim = marks.get(partition), self._claims.get(partition)
            if claim is None or latest is None or (latest.writer, latest.revision) != (self.writer, claim.revision):
                floor = top if latest is None else latest.through  # no claim yet: this batch is checked
                claim = _Claim(revision=0 if latest is None else latest.revision, reserved=-1, maybe_stored=floor)
                self._claims[partition] = claim
            check_through[partition] = claim.maybe_stored
            if top > claim.reserved:
                claim.revision += 1
                claim.reserved = max(top, claim.maybe_stored) + self.reserve
                claims.append((partition, Mark(claim.revision, claim.reserved, self.writer)))
            claim.maybe_stored = max(claim.maybe_stored, top)
        return Plan(check_through, claims)

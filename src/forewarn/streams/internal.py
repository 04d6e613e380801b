"""Stage glue: the company's own side of every incident.

Everything that touches an incident's internal state is first turned into an ``InternalFact``
on ``internal.facts``, placed on partition crc32(incident_id) mod partitions, so one agent owns
each incident's room (a Faust table row) however many topics the facts came from:

* ``incidents`` -> incident facts;
* ``targeting`` -> each customer-table partition's impact breakdown (read from the targeting
  stage's table and index, which live on the same worker as that partition);
* ``approvals`` -> held drafts and their decisions;
* a leader-only timer -> one tick per partition.

Ticks carry an event-time clock (``EventClock``): the latest event time seen, advanced by the
wall time elapsed since, so hourly briefings go out while nothing else happens, yet a replay of
the facts topic (ticks included) decides exactly as the live run did. Tests publish ticks.

Internal messages are not customer messages: they are not gated by approval and go out as
commands on ``notify.internal`` to the configured internal destinations only.
"""

from __future__ import annotations

import asyncio
import zlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

import faust

from forewarn.clock import Clock
from forewarn.processors.breakdown import Affected, account_of, breakdown_of
from forewarn.processors.draft import Drafter
from forewarn.processors.ids import stable_id
from forewarn.processors.incident_room import (
    BREAKDOWN_SEP,
    Room,
    RoomOutput,
    RoomState,
    apply,
    approval_entry,
    breakdown_key,
)
from forewarn.processors.internal import CustomerDraft, internal_commands
from forewarn.processors.internal_audit import drafted, held, summarised
from forewarn.processors.segment_rows import names
from forewarn.processors.target import active_since_s
from forewarn.schemas.codec import decode
from forewarn.schemas.models import (
    AffectedAccount,
    Approval,
    ApprovalStatus,
    Channel,
    CustomerSegment,
    FactKind,
    ImpactBreakdown,
    Incident,
    InternalFact,
    TargetingRequest,
)
from forewarn.streams.context import StreamContext

if TYPE_CHECKING:  # the client library takes over a second to import; only a configured key needs it
    from forewarn.drafting.anthropic_summary import AnthropicSummary

FACTS = "internal.facts"


def fact_partition(incident_id: str, partitions: int) -> int:
    """Where an incident's facts go: stable across processes and client libraries."""
    return zlib.crc32(incident_id.encode()) % partitions


class EventClock:
    """Event time that keeps moving while no events arrive: the latest seen plus wall time since."""

    def __init__(self, wall: Clock) -> None:
        self.wall = wall
        self.watermark: datetime | None = None
        self._seen_at: datetime | None = None

    def observe(self, at: datetime) -> None:
        if self.watermark is None or at > self.watermark:
            self.watermark, self._seen_at = at, self.wall.now()

    def now(self) -> datetime:
        wall = self.wall.now()
        if self.watermark is None or self._seen_at is None:
            return wall
        return self.watermark + (wall - self._seen_at)


class Internal:
    def __init__(
        self,
        ctx: StreamContext,
        rooms: Any,
        targeting: Any | None,
        model: AnthropicSummary | None = None,
        pending: Any | None = None,
    ) -> None:
        self.ctx = ctx
        self.rooms = rooms
        #: approval id -> ``approval_entry`` of each draft still pending (the room keeps only counts)
        self.pending: Any = {} if pending is None else pending
        self.targeting = targeting
        self.clock = EventClock(ctx.clock)
        self.drafter = Drafter(ctx.policy, ctx.settings.status_page_url)
        self.model = model if model is not None else _model_summary(ctx)
        self.room = Room(
            policy=ctx.policy,
            words=self.words,
            status_url=ctx.settings.status_page_url,
            targeted=targeting is not None,
            model=self.model,
            dry_run=ctx.settings.dry_run,
        )

    def words(self, incident: Incident, reader: CustomerSegment, channel: Channel) -> CustomerDraft:
        """The customer draft and its verdicts, from the same drafter and policy the customer side uses."""
        skeleton = self.drafter.skeleton(incident, channel, reader.language)
        return CustomerDraft(skeleton.for_reader(reader), tuple(str(v) for v in skeleton.verdicts))

    async def send_fact(self, fact: InternalFact, partition: int | None = None) -> None:
        where = fact_partition(fact.incident_id, self.ctx.settings.partitions) if partition is None else partition
        await self.ctx.send(FACTS, fact.incident_id.encode(), fact, partition=where)

    # ---- facts in ---------------------------------------------------------------------------

    async def on_incident(self, message: Any) -> None:
        incident = await self.ctx.decoded(message, Incident, "internal")
        if incident is None:
            return
        fact_id = stable_id("incident", incident.incident_id, incident.version)
        await self.send_fact(
            InternalFact(
                fact_id=fact_id,
                kind=FactKind.incident,
                incident_id=incident.incident_id,
                at=incident.updated_at,
                incident=incident,
            )
        )

    async def on_approval(self, message: Any) -> None:
        if message.value is None:
            return  # a compaction tombstone
        approval = await self.ctx.decoded(message, Approval, "internal")
        if approval is None:
            return
        at = approval.decided_at or approval.requested_at
        fact_id = stable_id("approval", approval.approval_id, approval.status.value)
        await self.send_fact(
            InternalFact(
                fact_id=fact_id, kind=FactKind.approval, incident_id=approval.incident_id, at=at, approval=approval
            )
        )

    async def on_targeting(self, message: Any) -> None:
        """This partition's breakdown, read from the targeting stage's customers on this worker."""
        targeting = self.targeting
        request = await self.ctx.decoded(message, TargetingRequest, "internal")
        if request is None or targeting is None:
            return
        incident, partition = request.incident, message.partition
        await targeting.table_caught_up(partition, f"breakdown {incident.incident_id} v{incident.version}")
        since = active_since_s(request, incident.updated_at)
        store, index = targeting.customers.data, targeting.index  # the store: one RocksDB read each
        affected = []
        for customer_id in targeting.affected(partition, request, since):
            stored, row = store.get(customer_id.encode()), index.row(partition, customer_id)
            if stored is not None and row is not None:
                affected.append(Affected(customer_id, *names(stored), row[0]))

        def account(customer_id: str) -> AffectedAccount:
            return account_of(decode(store[customer_id.encode()], CustomerSegment))  # no await since it was read

        report = breakdown_of(
            request.model_copy(update={"partition": partition}),
            self.ctx.settings.partitions,
            affected,
            account,
            targeting.index.active_since(partition, since),
            self.ctx.policy.internal.accounts_listed,
            self.ctx.clock.now(),
            self.ctx.policy.internal.enterprise_listed_max,
        )
        fact_id = stable_id("breakdown", incident.incident_id, incident.version, partition)
        await self.send_fact(
            InternalFact(
                fact_id=fact_id,
                kind=FactKind.breakdown,
                incident_id=incident.incident_id,
                at=incident.updated_at,
                breakdown=report,
            )
        )

    async def tick(self) -> None:
        now = self.clock.now()
        for partition in range(self.ctx.settings.partitions):
            fact = InternalFact(fact_id=stable_id("tick", partition, now), kind=FactKind.tick, at=now)
            await self.send_fact(fact, partition)

    # ---- the rooms --------------------------------------------------------------------------

    async def absorb(self, message: Any) -> None:
        fact = await self.ctx.decoded(message, InternalFact, "internal")
        if fact is None:
            return
        if fact.kind is not FactKind.tick:
            self.clock.observe(fact.at)
            await self.step(fact.incident_id, fact)
            return
        partitions = self.ctx.settings.partitions
        rooms = [k for k in list(self.rooms.keys()) if BREAKDOWN_SEP not in k]
        for key in [k for k in rooms if fact_partition(k.decode(), partitions) == message.partition]:
            await self.step(key.decode(), fact)

    async def step(self, incident_id: str, fact: InternalFact) -> None:
        # An approval fact touches only the held counts: the breakdowns (the bulk of a large
        # incident's room) are neither read nor rewritten for it.
        state, stored_versions = self.load(incident_id, breakdowns=fact.kind is not FactKind.approval)
        previous = None
        if fact.approval is not None:
            entry = self.pending.get(fact.approval.approval_id.encode())
            previous = None if entry is None else entry.decode()
        if self.model is None:
            state, out = apply(state, fact, self.room, previous)
        else:  # the model call blocks: keep it off the event loop (the agent still steps one fact at a time)
            state, out = await asyncio.to_thread(apply, state, fact, self.room, previous)
        if state is not None:
            self.save(incident_id, state, stored_versions)
        if fact.approval is not None:
            approval_key = fact.approval.approval_id.encode()
            if fact.approval.status is ApprovalStatus.pending:
                self.pending[approval_key] = approval_entry(fact.approval).encode()
            elif approval_key in self.pending:
                del self.pending[approval_key]  # decided: nothing of it is counted any more
        if state is not None and state.incident is not None:
            await self.emit(state.incident, out)

    def load(self, incident_id: str, breakdowns: bool) -> tuple[RoomState | None, dict[int, int]]:
        """The room, with its partitions' breakdowns if asked; and the breakdown versions stored."""
        stored = self.rooms.get(incident_id.encode())
        if stored is None:
            return None, {}
        state = RoomState.model_validate_json(stored)  # a room stored before the split carries them inline
        versions: dict[int, int] = {}
        if breakdowns:
            for partition in range(self.ctx.settings.partitions):
                raw = self.rooms.get(breakdown_key(incident_id, partition))
                if raw is None:
                    continue
                report = ImpactBreakdown.model_validate_json(raw)
                versions[partition] = report.incident_version
                inline = state.breakdowns.get(partition)
                if inline is None or report.incident_version >= inline.incident_version:
                    state.breakdowns[partition] = report
        return state, versions

    def save(self, incident_id: str, state: RoomState, stored_versions: dict[int, int]) -> None:
        for partition, report in state.breakdowns.items():
            if stored_versions.get(partition) != report.incident_version:
                self.rooms[breakdown_key(incident_id, partition)] = report.model_dump_json().encode()
        self.rooms[incident_id.encode()] = state.model_dump_json(exclude={"breakdowns"}).encode()

    async def emit(self, incident: Incident, out: RoomOutput) -> None:
        ctx, now = self.ctx, self.ctx.clock.now()
        internal = ctx.settings.internal
        for message in out.messages:
            for command in internal_commands(
                message, incident, internal.destinations(message.audience), now, ctx.settings.dry_run
            ):
                await ctx.send("notify.internal", command.notification_id.encode(), command)
                await ctx.audit(drafted(command, now))
        for approval in out.holds:
            await ctx.send("approvals", approval.approval_id.encode(), approval)
            await ctx.audit(held(approval, ctx.settings.pseudonym_key, now))
        if out.summary is not None and out.sheet is not None:
            model_detail = self.model.last_detail if self.model is not None and out.summary.source == "model" else {}
            await ctx.audit(summarised(out.sheet.incident, out.summary, out.summary_verdicts, now, model_detail))


def _model_summary(ctx: StreamContext) -> AnthropicSummary | None:
    """The model rephrases the running summary where it may draft (ANTHROPIC_API_KEY + tone.model_categories)."""
    settings, kinds = ctx.settings, ctx.policy.tone.model_categories
    if not (settings.anthropic_api_key and kinds):
        return None
    from forewarn.drafting.anthropic_summary import AnthropicSummary

    return AnthropicSummary(
        api_key=settings.anthropic_api_key,
        model=settings.anthropic_model,
        timeout_s=settings.anthropic_timeout_s,
        kinds=list(kinds),
        base_url=settings.anthropic_base_url,
    )


def register(app: faust.App, internal: Internal) -> None:
    topics = internal.ctx.topics

    @app.agent(topics["incidents"], name="internal-incidents")
    async def incidents_agent(stream: Any) -> None:
        async for event in stream.events():
            await internal.on_incident(event.message)

    @app.agent(topics["approvals"], name="internal-approvals")
    async def approvals_agent(stream: Any) -> None:
        async for event in stream.events():
            await internal.on_approval(event.message)

    @app.agent(topics["targeting"], name="internal-breakdown")
    async def breakdown_agent(stream: Any) -> None:
        async for event in stream.events():
            await internal.on_targeting(event.message)

    @app.agent(topics[FACTS], name="internal-rooms")
    async def rooms_agent(stream: Any) -> None:
        async for event in stream.events():
            await internal.absorb(event.message)

    @app.timer(interval=float(internal.ctx.policy.internal.tick_seconds), on_leader=True)  # type: ignore[untyped-decorator]
    async def ticker() -> None:
        await internal.tick()

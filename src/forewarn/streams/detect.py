"""Stage glue: signal batches and routed commands -> incident versions.

State lives in the ``detection`` table keyed like the signals topic (``group|region``), so one
group's state is in one partition with its signals. Each record is read, applied and written
back with no await in between (another agent never sees half an update), then the versions are
published. Each detection partition also keeps its copy of the maintenance windows (under a key
naming the partition) and tells each window's owner when event time passes.

A group that falls silent still needs time to pass: an alert nobody resolves must become
customer-visible after ``confirm_after``, an outage with no ETA must be flagged after hours, and
an update promised to customers must go out when it is due. For such groups the worker keeps a
due time and a timer estimates the group's event time as its latest event time plus the wall
time since; once due, a ``clock`` command goes through the control topic (tables change only
inside a stream). A replay runs far faster than the wall clock, so these never fire in one and
it decides as the signals alone say.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

import faust

from forewarn.processors.detect import maintenance
from forewarn.processors.detect.detector import BadBatch, Detector, UnknownIncident
from forewarn.processors.detect.lifecycle import IGNORED, Outcome
from forewarn.processors.detect.maintenance import Window
from forewarn.processors.detect.state import GroupState, from_ms, to_ms
from forewarn.processors.ids import stable_id
from forewarn.schemas.models import OperatorCommand, SignalBatch
from forewarn.streams.batching import acting_for
from forewarn.streams.context import StreamContext
from forewarn.streams.operator import Desk
from forewarn.streams.stores import partition_items

log = logging.getLogger(__name__)
STAGE = "correlate"
BATCH, WITHIN_S = 500, 0.05
TIMER_S = 5.0


def windows_key(partition: int) -> bytes:
    return b"\x00maintenance|%d" % partition


class Detect:
    def __init__(self, ctx: StreamContext, groups: Any, routes: Any, plans: Any) -> None:
        self.ctx = ctx
        self.groups = groups
        self.detector = Detector(ctx.policy)
        self.desk = Desk(ctx, routes, plans, self.detector.graph)
        self._windows: dict[int, tuple[bytes | None, list[Window]]] = {}
        self._clock: dict[int, int] = {}
        self._last_tick: dict[int, int] = {}
        self.ignored: dict[str, int] = dict.fromkeys(IGNORED, 0)
        #: group key -> (due event time, the group's event time, wall time it was seen), in ms.
        self._due: dict[bytes, tuple[int, int, int]] = {}

    async def on_signals(self, events: Sequence[Any]) -> None:
        """Apply a run of signal batches: each key's state is read and written once for all of them."""
        ctx = self.ctx
        by_key: dict[bytes, list[tuple[Any, SignalBatch]]] = {}
        for event in events:
            message = event.message
            batch = await ctx.decoded(message, SignalBatch, STAGE)
            if batch is None:
                continue
            key = f"{batch.group}|{batch.region}".encode()
            if message.key != key:
                await ctx.reject(message, STAGE, "invalid", f"key {message.key!r} is not the batch's {key!r}")
                continue
            by_key.setdefault(key, []).append((event, batch))
        for key, batches in by_key.items():
            await self._apply(key, batches)

    async def _apply(self, key: bytes, batches: list[tuple[Any, SignalBatch]]) -> None:
        first = batches[0][0]
        outcome, rejected = Outcome(), []
        with acting_for(first):  # table reads and writes go to this key's partition
            state = self._load(key)
            windows = self.windows(first.message.partition)
            for event, batch in batches:
                try:
                    outcome.extend(self.detector.apply_batch(state, batch, windows))
                except BadBatch as exc:  # checked before anything was applied
                    rejected.append((event.message, str(exc)))
            self.groups[key] = state.model_dump_json().encode()
        self._remember_due(key, state)
        for message, reason in rejected:
            await self.ctx.reject(message, STAGE, "invalid", reason)
        await self._publish(outcome)
        if state.clock is not None:
            await self._tick(first.message.partition, state.clock)

    async def on_control(self, message: Any) -> None:
        ctx = self.ctx
        command = await ctx.decoded(message, OperatorCommand, STAGE)
        if command is None:
            return
        if command.action == "maintenance_window":
            await self._keep_window(message, command)
            return
        stored = self.groups.get(message.key) if message.key is not None else None
        if stored is None:
            if command.action != "clock":
                await ctx.reject(message, STAGE, "invalid", f"no detection state for key {message.key!r}")
            return
        state = GroupState.model_validate_json(stored)
        try:
            outcome = self.detector.apply_command(state, command)
        except UnknownIncident as exc:
            if command.action == "impact":  # targeting answers every version, the last one too
                return
            await ctx.reject(message, STAGE, "invalid", str(exc))
            return
        self.groups[message.key] = state.model_dump_json().encode()
        self._remember_due(message.key, state)
        await self._publish(outcome)

    def _remember_due(self, key: bytes, state: GroupState) -> None:
        due = self.detector.next_due(state)
        if due is None or state.clock is None:
            self._due.pop(key, None)
        else:
            self._due[key] = (due, state.clock, to_ms(self.ctx.clock.now()))

    async def recover_due(self) -> None:
        """After table recovery (a restart, a rebalance): due times are memory only, the table the truth."""
        self._due.clear()
        for _partition, items in partition_items(self.groups).items():
            for key, value in items:
                if key.startswith(b"\x00"):
                    continue  # a partition's maintenance windows, not a group
                self._remember_due(key, GroupState.model_validate_json(value))
                await asyncio.sleep(0)
        log.info("detection: %d groups wait for time to pass", len(self._due))

    async def fire_due(self) -> None:
        """Silent groups whose estimated event time reached their due time get a ``clock`` command."""
        wall = to_ms(self.ctx.clock.now())
        for key, (due, seen, seen_wall) in list(self._due.items()):
            at = seen + (wall - seen_wall)
            if at < due:
                continue
            del self._due[key]
            tick = OperatorCommand(
                command_id=stable_id("clock", key, at), action="clock", issued_at=from_ms(at), issued_by="detect"
            )
            await self.ctx.send("control", key, tick)

    def windows(self, partition: int) -> list[Window]:
        """This partition's copy of the maintenance windows, decoded once per change."""
        stored = self.groups.get(windows_key(partition))
        cached = self._windows.get(partition)
        if cached is not None and cached[0] == stored:
            return cached[1]
        windows = [] if stored is None else [Window.model_validate(w) for w in _json_list(stored)]
        self._windows[partition] = (stored, windows)
        return windows

    async def _keep_window(self, message: Any, command: OperatorCommand) -> None:
        try:
            window = maintenance.window_of(command)
        except maintenance.MaintenanceError as exc:
            await self.ctx.reject(message, STAGE, "invalid", str(exc))
            return
        kept = [w for w in self.windows(message.partition) if w.maintenance_id != window.maintenance_id]
        kept.append(window)
        self.groups[windows_key(message.partition)] = _dump_windows(kept)

    def _load(self, key: bytes) -> GroupState:
        stored = self.groups.get(key)
        return GroupState() if stored is None else GroupState.model_validate_json(stored)

    async def _publish(self, outcome: Outcome) -> None:
        ctx, now = self.ctx, self.ctx.clock.now()
        for name in self.ignored:
            self.ignored[name] += getattr(outcome, name)
        if outcome.late_samples or outcome.invalid_samples:
            log.warning(
                "ignored %d samples later than the grace and %d non-finite or unknown-metric samples "
                "(totals %d and %d; GET /api/detection)",
                outcome.late_samples,
                outcome.invalid_samples,
                self.ignored["late_samples"],
                self.ignored["invalid_samples"],
            )
        if outcome.unmatched_acks:
            log.warning(
                "%d acknowledge(s) found no open incident for their service and symptom (total %d; GET /api/detection)",
                outcome.unmatched_acks,
                self.ignored["unmatched_acks"],
            )
        for incident in outcome.incidents:
            await ctx.send("incidents", incident.incident_id.encode(), incident)
            await ctx.audit(ctx.trail.incident(incident, now))

    async def _tick(self, partition: int, clock: int) -> None:
        """Event time moved on in this partition: tell unfinished windows' owners (rate-limited)."""
        clock = max(clock, self._clock.get(partition, clock))
        self._clock[partition] = clock
        every = self.ctx.policy.rules.maintenance.tick
        due = maintenance.due_ticks(self.windows(partition), self._last_tick.get(partition), clock, every)
        if not due:
            return
        self._last_tick[partition] = clock
        for maintenance_id in due:
            tick = OperatorCommand(
                command_id=stable_id("maintenance_tick", maintenance_id, clock),
                action="maintenance_tick",
                issued_at=from_ms(clock),
                issued_by="detect",
                maintenance_id=maintenance_id,
            )
            await self.ctx.send("operator", maintenance_id.encode(), tick)


def _json_list(stored: bytes) -> list[Any]:
    try:
        value = json.loads(stored)
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _dump_windows(windows: list[Window]) -> bytes:
    return ("[" + ",".join(w.model_dump_json() for w in windows) + "]").encode()


def register(app: faust.App, detect: Detect) -> None:
    topics = detect.ctx.topics

    @app.agent(topics["signals"], name="correlate")
    async def correlate_agent(stream: Any) -> None:
        async for events in stream.take_events(BATCH, within=WITHIN_S):
            await detect.on_signals(events)

    @app.agent(topics["control"], name="control")
    async def control_agent(stream: Any) -> None:
        async for event in stream.events():
            await detect.on_control(event.message)

    detect.groups.on_recover(detect.recover_due)

    @app.timer(interval=TIMER_S)  # type: ignore[untyped-decorator]
    async def clock_timer() -> None:
        await detect.fire_due()

    detect.desk.register(app)

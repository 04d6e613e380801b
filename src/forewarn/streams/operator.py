"""Stage glue: what people and targeting tell detection, routed to where the incident lives.

Operator commands and impact reports are keyed by incident id; the incident's detection state
is keyed by ``group|region``. The ``incident-routes`` table (co-partitioned with the
incidents, impact and operator topics, all keyed by incident id) learns each incident's key
from the incidents topic, sums impact reports, and forwards commands to the ``control`` topic
under the right key. Maintenance windows are owned here too, one ``maintenance`` table entry
per window: its versions go to the incidents topic, and every detection partition gets a copy
of the window on ``control`` (explicit partitions, like targeting requests).
"""

from __future__ import annotations

from typing import Any

import faust

from forewarn.processors.detect import maintenance
from forewarn.processors.detect.cascade import ServiceGraph
from forewarn.processors.detect.impact import Tally, add_report, complete_share, note_version
from forewarn.processors.detect.maintenance import MaintenanceError, Plan
from forewarn.schemas.models import ImpactReport, Incident, IncidentKind, OperatorCommand
from forewarn.streams.context import StreamContext

STAGE = "operator"
INCIDENT_ACTIONS = frozenset({"update", "false_alarm", "postmortem"})
MAINTENANCE_ACTIONS = frozenset(
    {"maintenance_schedule", "maintenance_complete", "maintenance_cancel", "maintenance_extend", "maintenance_tick"}
)


class Desk:
    def __init__(self, ctx: StreamContext, routes: Any, plans: Any, graph: ServiceGraph) -> None:
        self.ctx, self.routes, self.plans, self.graph = ctx, routes, plans, graph

    # -- routes and impact -----------------------------------------------------------------

    async def on_incident(self, message: Any) -> None:
        incident = await self.ctx.decoded(message, Incident, STAGE)
        if incident is None or incident.kind is IncidentKind.maintenance:
            return
        key = incident.incident_id.encode()
        tally = self._tally(key)
        note_version(tally, incident, f"{self.graph.group(incident.service)}|{incident.region}")
        share = complete_share(tally, incident.incident_id)
        self.routes[key] = tally.model_dump_json().encode()
        if share is not None:
            await self._forward(share, tally)

    async def on_impact(self, message: Any) -> None:
        report = await self.ctx.decoded(message, ImpactReport, STAGE)
        if report is None:
            return
        key = report.incident_id.encode()
        tally = self._tally(key)
        add_report(tally, report)
        share = complete_share(tally, report.incident_id)
        self.routes[key] = tally.model_dump_json().encode()
        if share is not None:
            await self._forward(share, tally)

    def _tally(self, key: bytes) -> Tally:
        stored = self.routes.get(key)
        return Tally() if stored is None else Tally.model_validate_json(stored)

    async def _forward(self, command: OperatorCommand, tally: Tally) -> None:
        assert tally.route is not None
        await self.ctx.send("control", tally.route.encode(), command)

    # -- operator commands -----------------------------------------------------------------

    async def on_command(self, message: Any) -> None:
        ctx = self.ctx
        command = await ctx.decoded(message, OperatorCommand, STAGE)
        if command is None:
            return
        if command.action in INCIDENT_ACTIONS:
            stored = self.routes.get((command.incident_id or "").encode())
            route = None if stored is None else Tally.model_validate_json(stored).route
            if route is None:
                await ctx.reject(message, STAGE, "invalid", f"unknown incident {command.incident_id!r}")
                return
            await ctx.send("control", route.encode(), command)
        elif command.action in MAINTENANCE_ACTIONS:
            try:
                await self._maintenance(command)
            except MaintenanceError as exc:
                await ctx.reject(message, STAGE, "invalid", str(exc))
        else:
            await ctx.reject(message, STAGE, "invalid", f"unknown action {command.action!r}")

    async def _maintenance(self, command: OperatorCommand) -> None:
        policy = self.ctx.policy
        if command.action == "maintenance_schedule":
            plan, versions = maintenance.schedule(command, policy)
            if self.plans.get(plan.maintenance_id.encode()) is not None:
                return  # scheduled already: a repeated delivery
        else:
            plan = self._plan(command)
            if command.command_id in plan.applied:
                return
            at = command.issued_at
            if command.action == "maintenance_tick":
                versions = maintenance.advance(plan, at, policy)
            elif command.action == "maintenance_complete":
                versions = maintenance.complete(plan, command.completed_at or at, policy)
            elif command.action == "maintenance_cancel":
                versions = maintenance.cancel(plan, at, policy)
            else:
                if command.ends_at is None:
                    raise MaintenanceError("maintenance_extend needs ends_at")
                versions = maintenance.extend(plan, command.ends_at, at, policy)
        plan.remember(command.command_id)
        self.plans[plan.maintenance_id.encode()] = plan.model_dump_json().encode()
        for incident in versions:
            await self.ctx.send("incidents", incident.incident_id.encode(), incident)
            await self.ctx.audit(self.ctx.trail.incident(incident, self.ctx.clock.now()))
        if command.action != "maintenance_tick":
            window = maintenance.broadcast(plan, policy)
            for partition in range(self.ctx.settings.partitions):
                await self.ctx.send("control", plan.maintenance_id.encode(), window, partition=partition)

    def _plan(self, command: OperatorCommand) -> Plan:
        stored = self.plans.get((command.maintenance_id or "").encode())
        if stored is None:
            raise MaintenanceError(f"unknown maintenance window {command.maintenance_id!r}")
        return Plan.model_validate_json(stored)

    def register(self, app: faust.App) -> None:
        topics = self.ctx.topics

        @app.agent(topics["incidents"], name="incident-routes")
        async def routes_agent(stream: Any) -> None:
            async for event in stream.events():
                await self.on_incident(event.message)

        @app.agent(topics["impact"], name="impact")
        async def impact_agent(stream: Any) -> None:
            async for event in stream.events():
                await self.on_impact(event.message)

        @app.agent(topics["operator"], name="operator")
        async def operator_agent(stream: Any) -> None:
            async for event in stream.events():
                await self.on_command(event.message)

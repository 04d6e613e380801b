"""The agents: each iterates one topic and hands every record to one named step.

Roles let one deployment run everything in a single worker and another split the
pipeline, the sinks and the audit writer across processes.
"""

from __future__ import annotations

from typing import Any

import faust

from forewarn.schemas.models import AuditRecord, Incident
from forewarn.streams.wiring import Wiring, decode_events, retry_forever

PIPELINE, SINKS, AUDIT = "pipeline", "sinks", "audit"
ROLES = frozenset({PIPELINE, SINKS, AUDIT})
AUDIT_BATCH, AUDIT_WITHIN_S = 5000, 1.0


def register(app: faust.App, w: Wiring, roles: frozenset[str], warehouse: Any | None) -> None:
    t = w.topics
    if PIPELINE in roles:

        @app.agent(t["raw"], name="normalize")
        async def normalize(stream: Any) -> None:
            async for event in stream.events():
                await w.normalize(event.message)

        @app.agent(t["events"], name="correlate")
        async def correlate(stream: Any) -> None:
            async for event in stream.events():
                await w.correlate(event.message)

        @app.agent(t["incidents"], name="plan")
        async def plan(stream: Any) -> None:
            async for event in stream.events():
                await w.plan(event.message)

        @app.agent(t["customers"], name="customers")
        async def customers(stream: Any) -> None:
            async for event in stream.events():
                await w.upsert_customer(event.message)

        @app.agent(t["targeting"], name="target")
        async def target(stream: Any) -> None:
            async for event in stream.events():
                await w.target(event.message)

    if SINKS in roles:
        for channel in w.deliverers:
            register_sink(app, w, channel)

    if AUDIT in roles and warehouse is not None:

        @app.agent(t["audit"], name="audit-writer")
        async def audit_writer(stream: Any) -> None:
            async for events in stream.take_events(AUDIT_BATCH, within=AUDIT_WITHIN_S):
                records = await decode_events(w, events, AuditRecord, "audit")
                await retry_forever("audit insert", warehouse.write, records)

        @app.agent(t["incidents"], name="incident-writer")
        async def incident_writer(stream: Any) -> None:
            async for events in stream.take_events(AUDIT_BATCH, within=AUDIT_WITHIN_S):
                records = await decode_events(w, events, Incident, "audit")
                await retry_forever("incident insert", warehouse.write, records)


def register_sink(app: faust.App, w: Wiring, channel: str) -> None:
    @app.agent(w.topics[f"notify.{channel}"], name=f"deliver-{channel}")
    async def deliver(stream: Any) -> None:
        async for event in stream.events():
            await w.deliver(channel, event.message)

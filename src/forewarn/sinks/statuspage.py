"""Mirror incident updates to an Atlassian Statuspage page through its REST API (optional).

forewarn's own status page (``web/statuspage.py``) is derived from the incidents record and
needs no sink; this one exists for companies whose public page already lives at Atlassian.
Statuspage has no idempotency key, so the page's incident id is kept per forewarn incident
and later updates PATCH it instead of opening a second incident.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx

from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, NotificationCommand, Severity
from forewarn.sinks.base import ProviderResult
from forewarn.sinks.http import HttpSink, describe

IMPACT = {Severity.P1: "critical", Severity.P2: "major", Severity.P3: "minor", Severity.P4: "none"}


class PageIncidents:
    """forewarn incident id -> the Atlassian page's incident id, durable under the data dir."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS page_incidents (incident_id TEXT PRIMARY KEY, page_id TEXT)")

    def get(self, incident_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT page_id FROM page_incidents WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def put(self, incident_id: str, page_incident_id: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO page_incidents VALUES (?, ?)", (incident_id, page_incident_id))


class StatuspageSink(HttpSink):
    channel = Channel.statuspage
    provider = "statuspage"

    def __init__(
        self,
        providers: ChannelSettings,
        mirrored: PageIncidents,
        *,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, client=client)
        self.settings = providers
        self.mirrored = mirrored

    async def send(self, command: NotificationCommand) -> ProviderResult:
        s = self.settings
        if not (s.statuspage_page_id and s.statuspage_api_key):
            return ProviderResult("shown on forewarn's status page; no Atlassian page configured")
        base = f"{s.statuspage_api_url.rstrip('/')}/pages/{s.statuspage_page_id}/incidents"
        headers = {"Authorization": f"OAuth {s.statuspage_api_key}"}
        body = {"status": command.phase.value, "body": command.text.strip()}
        known = self.mirrored.get(command.incident_id)
        if known is not None:
            response = await self.request("PATCH", f"{base}/{known}", json={"incident": body}, headers=headers)
            return ProviderResult(describe(response), known)
        incident = {
            **body,
            "name": command.subject or command.text.strip().splitlines()[0][:120],
            "impact_override": IMPACT[command.severity],
            "metadata": {"forewarn": {"incident_id": command.incident_id}},
        }
        response = await self.request("POST", base, json={"incident": incident}, headers=headers)
        page_incident_id = str(response.json()["id"])
        self.mirrored.put(command.incident_id, page_incident_id)
        return ProviderResult(describe(response), page_incident_id)

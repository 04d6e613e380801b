"""Mirror incident updates to an Atlassian Statuspage page through its REST API (optional).

forewarn's own status page (``web/statuspage.py``) is derived from the incidents record and
needs no sink; this one exists for companies whose public page already lives at Atlassian.
Statuspage has no idempotency key, so the page's incident id is kept per forewarn incident
and later updates PATCH it instead of opening a second incident.

A write whose answer never came (a timeout, a 5xx, a crash mid-send) may still have landed, and
repeating it would open a second page incident or post the update twice. So every write carries
``metadata.forewarn`` (the forewarn incident id and the notification id), a durable mark notes a
write whose outcome is open, and the next attempt of that post first reads the page: the incident
found by its metadata (listed by name when its id is not known yet) tells whether this very post
is already there. That makes a resend safe, so the sink counts as idempotent for the deliverer.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import httpx

from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, NotificationCommand, Severity
from forewarn.sinks.base import ProviderResult, SendError
from forewarn.sinks.http import HttpSink, describe

IMPACT = {Severity.P1: "critical", Severity.P2: "major", Severity.P3: "minor", Severity.P4: "none"}


class PageIncidents:
    """forewarn incident id -> the Atlassian page's incident id, and writes whose outcome is open."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS page_incidents (incident_id TEXT PRIMARY KEY, page_id TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS open_writes (notification_id TEXT PRIMARY KEY)")

    def get(self, incident_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT page_id FROM page_incidents WHERE incident_id = ?", (incident_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def put(self, incident_id: str, page_incident_id: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO page_incidents VALUES (?, ?)", (incident_id, page_incident_id))

    def begin(self, notification_id: str) -> None:
        """Before a write leaves: until ``settle``, its outcome is open."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO open_writes VALUES (?)", (notification_id,))

    def is_open(self, notification_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM open_writes WHERE notification_id = ?", (notification_id,)).fetchone()
        return row is not None

    def settle(self, notification_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM open_writes WHERE notification_id = ?", (notification_id,))


def marker(command: NotificationCommand) -> dict[str, dict[str, str]]:
    """What identifies forewarn's writes on the page (Statuspage metadata: top-level values are objects)."""
    return {"forewarn": {"incident_id": command.incident_id, "notification_id": command.notification_id}}


def _forewarn(page_incident: Any) -> dict[str, Any]:
    meta = page_incident.get("metadata") if isinstance(page_incident, dict) else None
    found = meta.get("forewarn") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


class StatuspageSink(HttpSink):
    channel = Channel.statuspage
    provider = "statuspage"
    idempotent = True  # not by a key: an open write is looked up on the page before it is repeated

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
        known = self.mirrored.get(command.incident_id)
        if self.mirrored.is_open(command.notification_id):
            known, landed = await self._on_page(base, headers, command, known)
            if landed and known is not None:
                self.mirrored.settle(command.notification_id)
                return ProviderResult(f"already on the page (an earlier attempt landed): incident {known}", known)
        self.mirrored.begin(command.notification_id)
        try:
            result = await self._write(base, headers, command, known)
        except SendError as exc:
            if not exc.retryable:  # refused: nothing landed
                self.mirrored.settle(command.notification_id)
            raise
        self.mirrored.settle(command.notification_id)
        return result

    async def _write(
        self, base: str, headers: dict[str, str], command: NotificationCommand, known: str | None
    ) -> ProviderResult:
        body = {"status": command.phase.value, "body": command.text.strip(), "metadata": marker(command)}
        if known is not None:
            response = await self.request("PATCH", f"{base}/{known}", json={"incident": body}, headers=headers)
            return ProviderResult(describe(response), known)
        incident = {**body, "name": _name(command), "impact_override": IMPACT[command.severity]}
        response = await self.request("POST", base, json={"incident": incident}, headers=headers)
        page_incident_id = str(response.json()["id"])
        self.mirrored.put(command.incident_id, page_incident_id)
        return ProviderResult(describe(response), page_incident_id)

    async def _on_page(
        self, base: str, headers: dict[str, str], command: NotificationCommand, known: str | None
    ) -> tuple[str | None, bool]:
        """The page incident of this forewarn incident (if any) and whether this post already landed."""
        if known is not None:
            found = (await self.request("GET", f"{base}/{known}", headers=headers)).json()
            return known, _forewarn(found).get("notification_id") == command.notification_id
        listed = (await self.request("GET", base, params={"q": _name(command), "limit": 100}, headers=headers)).json()
        for page_incident in listed if isinstance(listed, list) else []:
            mark = _forewarn(page_incident)
            if mark.get("incident_id") == command.incident_id:
                page_incident_id = str(page_incident["id"])
                self.mirrored.put(command.incident_id, page_incident_id)
                return page_incident_id, mark.get("notification_id") == command.notification_id
        return None, False


def _name(command: NotificationCommand) -> str:
    return command.subject or command.text.strip().splitlines()[0][:120]

"""In-app banners: kept per customer for ``GET /api/banners`` and pushed to a configured endpoint.

The board is the in-app channel's provider of record: the product's front end polls it (or
a tool like Intercom receives the push), and a later update of the same incident replaces
the customer's banner instead of stacking a second one.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from forewarn.config import ChannelSettings
from forewarn.schemas.models import Channel, NotificationCommand, Phase
from forewarn.sinks.base import ProviderResult
from forewarn.sinks.http import HttpSink, describe

#: How long a resolution banner stays up, so customers see the all-clear.
RESOLVED_BANNER_TTL = timedelta(hours=24)


@dataclass(frozen=True)
class Banner:
    customer_id: str
    incident_id: str
    incident_version: int
    notification_id: str
    severity: str
    phase: str
    text: str
    posted_at: datetime

    @property
    def resolved(self) -> bool:
        return self.phase == Phase.resolved.value

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.notification_id,
            "incident_id": self.incident_id,
            "version": self.incident_version,
            "severity": self.severity,
            "phase": self.phase,
            "text": self.text,
            "posted_at": self.posted_at.isoformat(),
            "dismissible": self.resolved,
        }


class BannerBoard:
    """Latest banner per (customer, incident) in SQLite under the data dir.

    A worker running the ``sinks`` role writes it and one running ``web`` reads it, so both
    must share the data dir (the default single worker does).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS banners (customer_id TEXT, incident_id TEXT, version INTEGER,"
            " notification_id TEXT, severity TEXT, phase TEXT, text TEXT, posted_at TEXT,"
            " PRIMARY KEY (customer_id, incident_id))"
        )

    def put(self, banner: Banner) -> None:
        """Keep the newer version: a replayed older update never overwrites a newer banner."""
        with self._lock:
            self._db.execute(
                "INSERT INTO banners VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id, incident_id) "
                "DO UPDATE SET version = excluded.version, notification_id = excluded.notification_id,"
                " severity = excluded.severity, phase = excluded.phase, text = excluded.text,"
                " posted_at = excluded.posted_at WHERE excluded.version >= banners.version",
                (
                    banner.customer_id,
                    banner.incident_id,
                    banner.incident_version,
                    banner.notification_id,
                    banner.severity,
                    banner.phase,
                    banner.text,
                    banner.posted_at.isoformat(),
                ),
            )

    def for_customer(self, customer_id: str, now: datetime) -> list[Banner]:
        """Open incidents' banners, and resolutions younger than ``RESOLVED_BANNER_TTL``, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM banners WHERE customer_id = ? ORDER BY posted_at DESC", (customer_id,)
            ).fetchall()
        banners = [Banner(r[0], r[1], int(r[2]), r[3], r[4], r[5], r[6], datetime.fromisoformat(r[7])) for r in rows]
        return [b for b in banners if not b.resolved or now - b.posted_at < RESOLVED_BANNER_TTL]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def banner_of(command: NotificationCommand) -> Banner:
    return Banner(
        customer_id=command.customer_id,
        incident_id=command.incident_id,
        incident_version=command.incident_version,
        notification_id=command.notification_id,
        severity=command.severity.value,
        phase=command.phase.value,
        text=command.text.strip(),
        posted_at=command.created_at,
    )


class InAppSink(HttpSink):
    channel = Channel.inapp
    provider = "inapp"
    idempotent = True  # the notification id travels as Idempotency-Key

    def __init__(
        self,
        board: BannerBoard,
        providers: ChannelSettings,
        *,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, client=client)
        self.board = board
        self.push_url = providers.inapp_push_url
        self.push_token = providers.inapp_push_token

    async def send(self, command: NotificationCommand) -> ProviderResult:
        banner = banner_of(command)
        self.board.put(banner)  # idempotent: the same banner again is the same row
        if not self.push_url:
            return ProviderResult("banner posted")
        headers = {"Idempotency-Key": command.notification_id}
        if self.push_token:
            headers["Authorization"] = f"Bearer {self.push_token}"
        payload = {**banner.as_json(), "customer_id": command.customer_id, "user_ids": command.recipients}
        response = await self.request("POST", self.push_url, json=payload, headers=headers)
        return ProviderResult(f"banner posted; push {describe(response)}")

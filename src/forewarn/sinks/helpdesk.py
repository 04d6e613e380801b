"""Helpdesk through a Zendesk-compatible REST API: one problem ticket per incident.

Each incident gets one ``problem`` ticket tagged with the incident id; each affected customer
gets an ``incident`` ticket linked to it and to the customer's organisation (found by
``external_id`` = customer id). Tickets customers open during the incident are tagged as a
known issue and answered with the customer's canned reply, which their latest command carried
(``processors/helpdesk.py``; ``web/helpdesk.py`` receives the helpdesk's webhook), and
on resolution every linked ticket is solved. Creates carry an Idempotency-Key, which Zendesk
honours, and the ledger remembers ticket ids so updates never open a second ticket.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from forewarn.config import ChannelSettings
from forewarn.processors.helpdesk import canned_reply
from forewarn.schemas.models import Channel, NotificationCommand, Phase, Severity
from forewarn.sinks.base import ProviderResult, SendError
from forewarn.sinks.http import HttpSink

PRIORITY = {Severity.P1: "urgent", Severity.P2: "high", Severity.P3: "normal", Severity.P4: "low"}
PROBLEM, LINKED, KNOWN = "problem", "linked", "known"


@dataclass(frozen=True)
class Ticket:
    kind: str
    incident_id: str
    customer_id: str
    ticket_id: int


class HelpdeskLedger:
    """Which helpdesk tickets belong to which incident, and which incidents are solved."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS tickets (kind TEXT, incident_id TEXT, customer_id TEXT, ticket_id INTEGER,"
            " PRIMARY KEY (kind, incident_id, customer_id, ticket_id))"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS incidents (incident_id TEXT PRIMARY KEY, title TEXT, version INTEGER,"
            " solved INTEGER)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS replies (incident_id TEXT, customer_id TEXT, version INTEGER, text TEXT,"
            " PRIMARY KEY (incident_id, customer_id))"
        )

    def add(self, ticket: Ticket) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO tickets VALUES (?, ?, ?, ?)",
                (ticket.kind, ticket.incident_id, ticket.customer_id, ticket.ticket_id),
            )

    def find(self, kind: str, incident_id: str, customer_id: str = "") -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT ticket_id FROM tickets WHERE kind = ? AND incident_id = ? AND customer_id = ?",
                (kind, incident_id, customer_id),
            ).fetchone()
        return None if row is None else int(row[0])

    def tickets_of(self, incident_id: str) -> list[int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT ticket_id FROM tickets WHERE incident_id = ? ORDER BY ticket_id", (incident_id,)
            ).fetchall()
        return [int(r[0]) for r in rows]

    def is_newer(self, incident_id: str, version: int) -> bool:
        """True if ``version`` is newer than the newest recorded (or none is)."""
        with self._lock:
            row = self._db.execute("SELECT version FROM incidents WHERE incident_id = ?", (incident_id,)).fetchone()
        return row is None or int(row[0]) < version

    def note_version(self, incident_id: str, title: str, version: int) -> bool:
        """Record the newest version seen; True if ``version`` is newer than what was recorded."""
        with self._lock:
            row = self._db.execute("SELECT version FROM incidents WHERE incident_id = ?", (incident_id,)).fetchone()
            if row is not None and int(row[0]) >= version:
                return False
            self._db.execute(
                "INSERT INTO incidents VALUES (?, ?, ?, 0)"
                " ON CONFLICT (incident_id) DO UPDATE SET version = ?, solved = 0",
                (incident_id, title, version, version),
            )
            return True

    def mark_solved(self, incident_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE incidents SET solved = 1 WHERE incident_id = ?", (incident_id,))

    def is_solved(self, incident_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT solved FROM incidents WHERE incident_id = ?", (incident_id,)).fetchone()
        return row is not None and bool(row[0])

    def keep_reply(self, incident_id: str, customer_id: str, version: int, text: str | None) -> None:
        """The canned reply of the newest version this customer's ticket heard of (None: withheld)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO replies VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, customer_id)"
                " DO UPDATE SET version = excluded.version, text = excluded.text WHERE excluded.version >= version",
                (incident_id, customer_id, version, text),
            )

    def reply_for(self, incident_id: str, customer_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text FROM replies WHERE incident_id = ? AND customer_id = ?", (incident_id, customer_id)
            ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def active_for(self, customer_id: str) -> list[tuple[str, str, int]]:
        """(incident id, title, problem ticket id) of unsolved incidents this customer is linked to."""
        with self._lock:
            rows = self._db.execute(
                "SELECT i.incident_id, i.title, p.ticket_id FROM tickets l"
                " JOIN incidents i ON i.incident_id = l.incident_id AND i.solved = 0"
                " JOIN tickets p ON p.kind = 'problem' AND p.incident_id = l.incident_id"
                " WHERE l.kind = 'linked' AND l.customer_id = ? ORDER BY i.incident_id",
                (customer_id,),
            ).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def _title(command: NotificationCommand) -> str:
    return command.subject or f"[{command.severity.value}] incident {command.incident_id}"


class HelpdeskSink(HttpSink):
    """The few Zendesk Support API calls forewarn makes, and the per-command ticket logic."""

    channel = Channel.helpdesk
    provider = "zendesk"
    idempotent = True  # Idempotency-Key on creates, the ledger for the rest

    def __init__(
        self,
        providers: ChannelSettings,
        ledger: HelpdeskLedger,
        *,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(timeout_s=timeout_s, client=client)
        self.settings = providers
        self.ledger = ledger

    def _auth(self) -> tuple[str, str]:
        s = self.settings
        if not (s.helpdesk_url and s.helpdesk_email and s.helpdesk_token):
            raise SendError("helpdesk not configured (FOREWARN_PROVIDER_HELPDESK_URL/_EMAIL/_TOKEN)", retryable=False)
        return (f"{s.helpdesk_email}/token", s.helpdesk_token)

    def _url(self, path: str) -> str:
        return f"{(self.settings.helpdesk_url or '').rstrip('/')}/api/v2/{path}"

    async def call(self, method: str, path: str, key: str | None = None, **kwargs: Any) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        response = await self.request(method, self._url(path), auth=self._auth(), headers=headers, **kwargs)
        return response.json() if response.content else {}

    async def create_ticket(self, ticket: dict[str, Any], key: str) -> int:
        answer = await self.call("POST", "tickets.json", key, json={"ticket": ticket})
        return int(answer["ticket"]["id"])

    async def organisation_of(self, customer_id: str) -> int | None:
        answer = await self.call("GET", "organizations/search.json", params={"external_id": customer_id})
        found = answer.get("organizations") or []
        return int(found[0]["id"]) if found else None

    async def update_ticket(self, ticket_id: int, changes: dict[str, Any]) -> None:
        await self.call("PUT", f"tickets/{ticket_id}.json", json={"ticket": changes})

    async def solve(self, ticket_ids: list[int]) -> None:
        ids = ",".join(str(t) for t in ticket_ids)
        await self.call("PUT", "tickets/update_many.json", params={"ids": ids}, json={"ticket": {"status": "solved"}})

    async def send(self, command: NotificationCommand) -> ProviderResult:
        problem = await self._problem_ticket(command)
        if command.phase is Phase.resolved:
            return await self._solve(command, problem)
        linked = self.ledger.find(LINKED, command.incident_id, command.customer_id)
        if linked is None:
            organisation = await self.organisation_of(command.customer_id)
            linked = await self.create_ticket(
                {
                    "type": "incident",
                    "problem_id": problem,
                    "organization_id": organisation,
                    "subject": _title(command),
                    "comment": {"body": command.text, "public": False},
                    "tags": ["forewarn", command.incident_id],
                    "external_id": f"{command.incident_id}:{command.customer_id}",
                },
                key=f"forewarn-linked-{command.incident_id}-{command.customer_id}",
            )
            self.ledger.add(Ticket(LINKED, command.incident_id, command.customer_id, linked))
        self.ledger.keep_reply(
            command.incident_id, command.customer_id, command.incident_version, canned_reply(command)
        )
        return ProviderResult(f"ticket {linked} linked to problem {problem}", str(linked))

    async def _problem_ticket(self, command: NotificationCommand) -> int:
        problem = self.ledger.find(PROBLEM, command.incident_id)
        if problem is None:
            problem = await self.create_ticket(
                {
                    "type": "problem",
                    "subject": _title(command),
                    "priority": PRIORITY[command.severity],
                    "comment": {"body": command.text, "public": False},
                    "tags": ["forewarn", command.incident_id],
                    "external_id": command.incident_id,
                },
                key=f"forewarn-problem-{command.incident_id}",
            )
            self.ledger.add(Ticket(PROBLEM, command.incident_id, "", problem))
            self.ledger.note_version(command.incident_id, _title(command), command.incident_version)
        elif self.ledger.is_newer(command.incident_id, command.incident_version):
            # Recorded only once the comment is in: a failed update is commented again on retry
            # (updates take no idempotency key, so a lost answer can mean a repeated internal note).
            note = f"forewarn: {command.incident_id} v{command.incident_version} is now {command.phase.value}."
            await self.update_ticket(problem, {"comment": {"body": note, "public": False}})
            self.ledger.note_version(command.incident_id, _title(command), command.incident_version)
        return problem

    async def _solve(self, command: NotificationCommand, problem: int) -> ProviderResult:
        if self.ledger.is_solved(command.incident_id):
            return ProviderResult(f"problem {problem} and its linked tickets already solved", str(problem))
        tickets = self.ledger.tickets_of(command.incident_id)
        await self.solve(tickets)
        self.ledger.mark_solved(command.incident_id)
        return ProviderResult(f"solved {len(tickets)} tickets of problem {problem}", str(problem))

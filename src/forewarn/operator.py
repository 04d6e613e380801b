"""What operators say to detection, built the same way from the CLI and over HTTP.

Commands are ``OperatorCommand`` records on the operator topic, keyed by the incident (or
maintenance window) they concern. Their ids are hashes of what they say and when, so a
command sent twice (a retried HTTP call, a re-run script) is applied once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta

from forewarn.config import Settings
from forewarn.processors.detect.maintenance import IMPACT_SEVERITY, maintenance_id
from forewarn.processors.ids import stable_id
from forewarn.publish import Publisher, read_topic
from forewarn.schemas.codec import DecodeError, decode
from forewarn.schemas.models import Incident, OperatorCommand, Phase

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_RELATIVE = re.compile(r"^\+(\d+)([mh])$")


class CommandError(ValueError):
    """A command that cannot be sent as given; the message says which value and why."""


def parse_when(text: str, now: datetime, *, what: str) -> datetime:
    """``14:30`` (the next 14:30 UTC from now), ``+90m`` / ``+2h``, or an RFC 3339 time."""
    text = text.strip()
    if match := _CLOCK.match(text):
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise CommandError(f"{what} {text!r} is not a time of day")
        at = datetime.combine(now.date(), time(hour, minute), UTC)
        return at if at >= now else at + timedelta(days=1)
    if match := _RELATIVE.match(text):
        return now + timedelta(**{"minutes" if match[2] == "m" else "hours": int(match[1])})
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"{what} {text!r} is not HH:MM, +90m, +2h or an RFC 3339 time") from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _command(action: str, issued_at: datetime, issued_by: str, **fields: object) -> OperatorCommand:
    identity = sorted((k, str(v)) for k, v in fields.items() if v is not None)
    return OperatorCommand(
        command_id=stable_id(action, issued_at.isoformat(), issued_by, *identity),
        action=action,
        issued_at=issued_at,
        issued_by=issued_by,
        **fields,  # type: ignore[arg-type]
    )


def incident_update(
    incident_id: str,
    *,
    issued_at: datetime,
    issued_by: str,
    phase: Phase | None = None,
    cause: str | None = None,
    eta: datetime | None = None,
    summary: str | None = None,
    false_alarm: bool = False,
) -> OperatorCommand:
    if not false_alarm and phase is None and cause is None and eta is None and summary is None:
        raise CommandError("nothing to update: give a phase, cause, eta, summary or false alarm")
    if eta is not None and eta < issued_at - timedelta(minutes=1):
        raise CommandError(f"eta {eta.isoformat()} is in the past")
    fields = {"incident_id": incident_id, "phase": phase, "cause": cause, "eta": eta, "summary": summary}
    return _command("false_alarm" if false_alarm else "update", issued_at, issued_by, **fields)


def postmortem_published(incident_id: str, url: str, *, issued_at: datetime, issued_by: str) -> OperatorCommand:
    """Ask detection for the post-mortem version of a resolved incident, carrying the report's URL.

    The id names only the incident, not the time, author or URL: publishing is once per
    incident, so a re-run (or a second author) is the same command and detection applies it once.
    """
    return OperatorCommand(
        command_id=stable_id("postmortem", incident_id),
        action="postmortem",
        issued_at=issued_at,
        issued_by=issued_by,
        incident_id=incident_id,
        postmortem_url=url,
    )


def maintenance_schedule(
    *,
    service: str,
    starts_at: datetime,
    ends_at: datetime,
    impact: str,
    issued_at: datetime,
    issued_by: str,
    region: str | None = None,
    summary: str | None = None,
) -> OperatorCommand:
    if ends_at <= starts_at:
        raise CommandError(f"end {ends_at.isoformat()} is not after start {starts_at.isoformat()}")
    if impact not in IMPACT_SEVERITY:
        raise CommandError(f"impact {impact!r} is not one of {', '.join(IMPACT_SEVERITY)}")
    return _command(
        "maintenance_schedule",
        issued_at,
        issued_by,
        maintenance_id=maintenance_id(service, region, starts_at, ends_at),
        service=service,
        region=region,
        starts_at=starts_at,
        ends_at=ends_at,
        impact=impact,
        summary=summary,
    )


def maintenance_action(
    action: str, window_id: str, *, issued_at: datetime, issued_by: str, ends_at: datetime | None = None
) -> OperatorCommand:
    """complete | cancel | extend (with a revised ``ends_at``) for a scheduled window."""
    if action == "extend" and ends_at is None:
        raise CommandError("extend needs a new end")
    completed_at = issued_at if action == "complete" else None
    return _command(
        f"maintenance_{action}",
        issued_at,
        issued_by,
        maintenance_id=window_id,
        ends_at=ends_at,
        completed_at=completed_at,
    )


def send(settings: Settings, command: OperatorCommand) -> None:
    publisher = Publisher(settings)
    try:
        publisher.send("operator", command)
    finally:
        publisher.close()


def latest(incidents: Iterable[Incident]) -> dict[str, Incident]:
    """The newest version of every incident, by version (the order records were read in is no matter)."""
    out: dict[str, Incident] = {}
    for incident in incidents:
        known = out.get(incident.incident_id)
        if known is None or incident.version > known.version:
            out[incident.incident_id] = incident
    return out


def read_incidents(settings: Settings, timeout_s: float = 10.0) -> dict[str, Incident]:
    """Every incident's latest version, read from the incidents topic."""
    versions = []
    for message in read_topic(settings, "incidents", timeout_s=timeout_s):
        try:
            versions.append(decode(message.value(), Incident))
        except DecodeError:
            continue  # the dead-letter path owns bad records; a listing skips them
    return latest(versions)

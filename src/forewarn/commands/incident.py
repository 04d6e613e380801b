"""`forewarn incident list|show|update`: what is open, how it got here, and telling customers more.

Updates go to the operator topic as commands; detection applies them to the incident and
publishes the new version like any other change. The incident is checked first (it exists,
it is still open), so a typo answers here rather than as a dead letter.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from confluent_kafka import KafkaException

from forewarn.config import Settings
from forewarn.operator import CommandError, incident_update, parse_when, read_incidents, send
from forewarn.schemas.models import Incident, Phase

PHASES = [p.value for p in Phase]


@click.group()
def incident() -> None:
    """Incidents: list, show, and update them as an operator."""


def _open(incidents: dict[str, Incident]) -> list[Incident]:
    return sorted((i for i in incidents.values() if i.phase is not Phase.resolved), key=lambda i: i.opened_at)


def _read(settings: Settings) -> dict[str, Incident]:
    try:
        return read_incidents(settings)
    except (KafkaException, TimeoutError) as exc:
        raise click.ClickException(f"cannot read incidents from {settings.kafka}: {exc}") from exc


@incident.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved incidents.")
def list_command(show_all: bool) -> None:
    """Open incidents (newest version of each), oldest first."""
    incidents = _read(Settings.from_env())
    rows = sorted(incidents.values(), key=lambda i: i.opened_at) if show_all else _open(incidents)
    if not rows:
        click.echo("no open incidents" if not show_all else "no incidents")
        return
    for i in rows:
        seen = "internal" if i.internal else "public"
        click.echo(
            f"{i.incident_id}  v{i.version:<3} {i.severity.value} {i.phase.value:<13} {seen:<8} "
            f"{i.updated_at:%Y-%m-%d %H:%M}Z  {i.title}"
        )


@incident.command("show")
@click.argument("incident_id")
def show_command(incident_id: str) -> None:
    """The newest version of one incident, as JSON."""
    found = _read(Settings.from_env()).get(incident_id)
    if found is None:
        raise click.ClickException(f"no incident {incident_id}")
    click.echo(json.dumps(found.model_dump(mode="json"), indent=2, ensure_ascii=False))


@incident.command("update")
@click.argument("incident_id")
@click.option("--phase", type=click.Choice(PHASES), help="investigating | identified | monitoring | resolved")
@click.option("--cause", help="What is known about the cause, in customers' words.")
@click.option("--eta", help="Expected fix: HH:MM (UTC, next occurrence), +90m, +2h or an RFC 3339 time.")
@click.option("--summary", help="Replace the incident's summary.")
@click.option("--false-alarm", is_flag=True, help="Close it as a false alarm (customers who heard are told).")
@click.option("--by", "issued_by", default="operator", envvar="FOREWARN_OPERATOR", show_default=True)
@click.option("--at", "at_text", help="When it takes effect (default: now); RFC 3339, for replays and back-fill.")
def update_command(
    incident_id: str,
    phase: str | None,
    cause: str | None,
    eta: str | None,
    summary: str | None,
    false_alarm: bool,
    issued_by: str,
    at_text: str | None,
) -> None:
    """Change an open incident's phase, cause, ETA or summary; every change is a new version."""
    settings = Settings.from_env()
    try:
        now = datetime.now(UTC) if at_text is None else parse_when(at_text, datetime.now(UTC), what="--at")
        command = incident_update(
            incident_id,
            issued_at=now,
            issued_by=issued_by,
            phase=Phase(phase) if phase else None,
            cause=cause,
            eta=parse_when(eta, now, what="--eta") if eta else None,
            summary=summary,
            false_alarm=false_alarm,
        )
    except CommandError as exc:
        raise click.BadParameter(str(exc)) from exc
    current = _read(settings).get(incident_id)
    if current is None:
        raise click.ClickException(f"no incident {incident_id}; `forewarn incident list` shows the open ones")
    if current.phase is Phase.resolved and not false_alarm:
        raise click.ClickException(f"{incident_id} is already resolved (v{current.version})")
    try:
        send(settings, command)
    except KafkaException as exc:
        raise click.ClickException(f"publishing to {settings.kafka} failed: {exc}") from exc
    what = (
        "false alarm"
        if false_alarm
        else ", ".join(
            f"{k}={v}" for k, v in (("phase", phase), ("cause", cause), ("eta", command.eta), ("summary", summary)) if v
        )
    )
    click.echo(f"sent to {incident_id} (now v{current.version}): {what}")

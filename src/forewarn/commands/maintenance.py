"""`forewarn maintenance schedule|complete|cancel|extend|list`: announced work.

Scheduling tells customers at once; forewarn then announces the start, an overrun (when work is
still running shortly before the planned end), and the end, and keeps the service's alerts
quiet meanwhile. ``complete`` is how forewarn learns the work is done.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from confluent_kafka import KafkaException

from forewarn.config import Settings
from forewarn.operator import (
    CommandError,
    maintenance_action,
    maintenance_schedule,
    parse_when,
    read_incidents,
    send,
)
from forewarn.processors.detect.maintenance import IMPACT_SEVERITY
from forewarn.processors.draft.facts import window_starts
from forewarn.schemas.models import IncidentKind, OperatorCommand, Phase

BY = click.option("--by", "issued_by", default="operator", envvar="FOREWARN_OPERATOR", show_default=True)
AT = click.option("--at", "at_text", help="When it takes effect (default: now); RFC 3339.")


@click.group()
def maintenance() -> None:
    """Maintenance windows: announce, complete, cancel, extend."""


def _now(at_text: str | None) -> datetime:
    now = datetime.now(UTC)
    return now if at_text is None else parse_when(at_text, now, what="--at")


def _send(command: OperatorCommand) -> None:
    settings = Settings.from_env()
    try:
        send(settings, command)
    except KafkaException as exc:
        raise click.ClickException(f"publishing to {settings.kafka} failed: {exc}") from exc


@maintenance.command("schedule")
@click.option("--service", required=True)
@click.option("--start", "start_text", required=True, help="HH:MM (UTC), +2h or RFC 3339.")
@click.option("--end", "end_text", required=True, help="HH:MM (UTC), +3h or RFC 3339.")
@click.option("--impact", type=click.Choice(list(IMPACT_SEVERITY)), default="degraded", show_default=True)
@click.option("--region", help="Only this region (default: every region).")
@click.option("--summary", help="What customers should know, in their words.")
@BY
@AT
def schedule_command(
    service: str,
    start_text: str,
    end_text: str,
    impact: str,
    region: str | None,
    summary: str | None,
    issued_by: str,
    at_text: str | None,
) -> None:
    """Announce a maintenance window; prints its id."""
    try:
        now = _now(at_text)
        start = parse_when(start_text, now, what="--start")
        command = maintenance_schedule(
            service=service,
            starts_at=start,
            ends_at=parse_when(end_text, start, what="--end"),
            impact=impact,
            issued_at=now,
            issued_by=issued_by,
            region=region,
            summary=summary,
        )
    except CommandError as exc:
        raise click.BadParameter(str(exc)) from exc
    _send(command)
    click.echo(f"{command.maintenance_id}: {service} {command.starts_at:%Y-%m-%d %H:%M}Z-{command.ends_at:%H:%M}Z")


def _action(action: str, window_id: str, issued_by: str, at_text: str | None, end_text: str | None = None) -> None:
    try:
        now = _now(at_text)
        ends_at = parse_when(end_text, now, what="--end") if end_text else None
        command = maintenance_action(action, window_id, issued_at=now, issued_by=issued_by, ends_at=ends_at)
    except CommandError as exc:
        raise click.BadParameter(str(exc)) from exc
    _send(command)
    click.echo(f"sent {action} to {window_id}")


@maintenance.command("complete")
@click.argument("window_id")
@BY
@AT
def complete_command(window_id: str, issued_by: str, at_text: str | None) -> None:
    """The work is done: customers hear the window has ended."""
    _action("complete", window_id, issued_by, at_text)


@maintenance.command("cancel")
@click.argument("window_id")
@BY
@AT
def cancel_command(window_id: str, issued_by: str, at_text: str | None) -> None:
    """Call off a window that has not started."""
    _action("cancel", window_id, issued_by, at_text)


@maintenance.command("extend")
@click.argument("window_id")
@click.option("--end", "end_text", required=True, help="The revised end: HH:MM (UTC), +1h or RFC 3339.")
@BY
@AT
def extend_command(window_id: str, end_text: str, issued_by: str, at_text: str | None) -> None:
    """Move the end of a window (customers hear the revised end)."""
    _action("extend", window_id, issued_by, at_text, end_text)


@maintenance.command("list")
def list_command() -> None:
    """Maintenance windows not yet over."""
    settings = Settings.from_env()
    try:
        incidents = read_incidents(settings)
    except KafkaException as exc:
        raise click.ClickException(f"cannot read incidents from {settings.kafka}: {exc}") from exc
    windows = [i for i in incidents.values() if i.kind is IncidentKind.maintenance and i.phase is not Phase.resolved]
    if not windows:
        click.echo("no maintenance scheduled")
    for w in sorted(windows, key=window_starts):  # the window, not when it was scheduled
        eta = f"{w.eta:%Y-%m-%d %H:%M}Z" if w.eta else "-"
        click.echo(f"{w.incident_id}  {w.change:<10} starts {window_starts(w):%Y-%m-%d %H:%M}Z ends {eta}  {w.title}")

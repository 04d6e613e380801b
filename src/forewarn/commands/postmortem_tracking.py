"""`forewarn postmortem status|start|review|publish`: who owes a post-mortem, by when, and progress.

Progress is published as an audit record to the audit topic, so the worker's audit writer stores
it like every other decision and the status page shows published P1/P2 post-mortems.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
import clickhouse_connect
from pydantic import ValidationError

from forewarn.commands.audit import read_record
from forewarn.config import Settings
from forewarn.db.errors import WarehouseError
from forewarn.operator import postmortem_published
from forewarn.processors.cadence import POSTMORTEM_WITHIN
from forewarn.processors.postmortem_tracking import (
    PUBLISHED_ON_STATUS_PAGE,
    PostmortemError,
    PostmortemState,
    transition,
)
from forewarn.publish import Publisher
from forewarn.schemas.models import Severity

STATUS_SQL = (
    "SELECT incident_id, severity, title, due_at, state, overdue, url FROM postmortems ORDER BY overdue DESC, due_at"
)
ONE_SQL = "SELECT state, severity, resolved_at FROM postmortems WHERE incident_id = {incident:String}"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValidationError as exc:
        raise click.ClickException(f"invalid FOREWARN_* settings: {exc}") from exc


def _rows(settings: Settings, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    try:
        return read_record(settings, sql, params)
    except (WarehouseError, clickhouse_connect.driver.exceptions.Error) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("status")
@click.option("--overdue", is_flag=True, help="Only post-mortems past their due time.")
def status_command(overdue: bool) -> None:
    """List the post-mortems owed: P1 due 48 h, P2 72 h, P3 a week after resolution."""
    rows = [r for r in _rows(_settings(), STATUS_SQL, {}) if r[5] or not overdue]
    if not rows:
        click.echo("no post-mortems owed" if not overdue else "no post-mortem is overdue")
    for incident_id, severity, title, due, state, late, url in rows:
        flag = "OVERDUE " if late else ""
        link = f"  {url}" if url else ""
        click.echo(f"{flag}{incident_id}  {severity}  {state:<9}  due {due:%Y-%m-%d %H:%M}Z  {title}{link}")


def _move(incident_id: str, target: PostmortemState, author: str, url: str | None) -> None:
    settings = _settings()
    found = _rows(settings, ONE_SQL, {"incident": incident_id})
    if not found:
        raise click.ClickException(f"{incident_id} owes no post-mortem (not a resolved, customer-facing P1-P3)")
    try:
        record = transition(
            incident_id, PostmortemState(found[0][0]), target, now=datetime.now(UTC), author=author, url=url
        )
    except PostmortemError as exc:
        raise click.ClickException(str(exc)) from exc
    announce = target is PostmortemState.published and Severity(found[0][1]) in PUBLISHED_ON_STATUS_PAGE
    late = announce and _too_late(found[0][2], record.recorded_at)
    publisher = Publisher(settings)
    try:
        publisher.send("audit", record)
        if announce and not late and url:
            # detection answers with the post-mortem version; targeting tells whoever heard of it
            publisher.send(
                "operator",
                postmortem_published(incident_id, url, issued_at=record.recorded_at, issued_by=author),
            )
    finally:
        publisher.close()
    click.echo(f"post-mortem of {incident_id}: {found[0][0]} -> {target.value}")
    if late:
        click.echo(
            f"{incident_id} resolved more than {POSTMORTEM_WITHIN.days} days ago: the status page links the "
            "post-mortem, but the customers who were told are no longer told of it",
            err=True,
        )


def _too_late(resolved_at: datetime | None, now: datetime) -> bool:
    """Past ``POSTMORTEM_WITHIN`` nobody keeps who was told (targeting) nor the incident
    (detection), so asking would only make a dead letter; the person is told instead."""
    if resolved_at is None:
        return False
    if resolved_at.tzinfo is None:
        resolved_at = resolved_at.replace(tzinfo=UTC)
    return now - resolved_at > POSTMORTEM_WITHIN


_author = click.option("--author", required=True, help="Who is moving it along (recorded in the audit trail).")


@click.command("start")
@click.argument("incident_id")
@_author
def start_command(incident_id: str, author: str) -> None:
    """Mark the post-mortem of INCIDENT_ID as being drafted."""
    _move(incident_id, PostmortemState.drafting, author, None)


@click.command("review")
@click.argument("incident_id")
@_author
def review_command(incident_id: str, author: str) -> None:
    """Mark the post-mortem of INCIDENT_ID as in review."""
    _move(incident_id, PostmortemState.in_review, author, None)


@click.command("publish")
@click.argument("incident_id")
@_author
@click.option("--url", required=True, help="Public URL of the post-mortem (linked from the status page for P1/P2).")
def publish_command(incident_id: str, author: str, url: str) -> None:
    """Mark the post-mortem of INCIDENT_ID as published at URL."""
    _move(incident_id, PostmortemState.published, author, url)


def register(group: click.Group) -> None:
    for command in (status_command, start_command, review_command, publish_command):
        group.add_command(command)

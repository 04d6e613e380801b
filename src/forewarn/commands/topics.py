"""`forewarn topics create|list`: forewarn's topics on the configured cluster."""

from __future__ import annotations

import click

from forewarn.broker.admin import TopicAdminError, create_topics, describe_topics
from forewarn.config import Settings


@click.group()
def topics() -> None:
    """Create and inspect forewarn's topics (prefix from FOREWARN_TOPIC_PREFIX)."""


@topics.command()
def create() -> None:
    """Create every missing topic; existing ones are left alone."""
    settings = Settings.from_env()
    try:
        created = set(create_topics(settings))
        rows = describe_topics(settings)
    except TopicAdminError as exc:
        raise click.ClickException(str(exc)) from exc
    for row in rows:
        click.echo(f"{'created' if row.name in created else 'exists ':8s} {row.name}")
    click.echo(f"{len(created)} created, {len(rows) - len(created)} already existed on {settings.kafka}")


@topics.command(name="list")
def list_() -> None:
    """List forewarn's topics with partitions and cleanup policy."""
    settings = Settings.from_env()
    try:
        rows = describe_topics(settings)
    except TopicAdminError as exc:
        raise click.ClickException(str(exc)) from exc
    width = max(len(row.name) for row in rows)
    click.echo(f"{'TOPIC':{width}s}  PARTITIONS  CLEANUP")
    for row in rows:
        partitions = "missing" if row.partitions is None else str(row.partitions)
        click.echo(f"{row.name:{width}s}  {partitions:>10s}  {row.cleanup_policy or '-'}")

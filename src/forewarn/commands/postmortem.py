"""`forewarn postmortem draft INCIDENT_ID`: the post-mortem timeline, generated from the record."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
from pydantic import ValidationError

from forewarn.config import Settings
from forewarn.db.client import open_clickhouse
from forewarn.db.errors import WarehouseError
from forewarn.db.postmortem import load_postmortem
from forewarn.processors.postmortem import render_markdown


@click.group()
def postmortem() -> None:
    """Post-mortem drafts from the audit record."""


@postmortem.command("draft")
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
def draft_command(incident_id: str, fmt: str) -> None:
    """Print the draft timeline (signals, phase changes, messages sent, approvals, MTTR)."""
    try:
        settings = Settings.from_env()
    except ValidationError as exc:
        raise click.ClickException(f"invalid FOREWARN_* settings: {exc}") from exc
    try:
        with open_clickhouse(settings.clickhouse_dsn, read_only=True) as warehouse:
            pm = load_postmortem(warehouse, incident_id)
    except (WarehouseError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps({**asdict(pm), "mttr_s": pm.mttr_s}, default=str, indent=2))
    else:
        click.echo(render_markdown(pm), nl=False)

"""`forewarn worker`: run the pipeline, the sinks and the audit writer."""

from __future__ import annotations

from pathlib import Path

import click

from forewarn.config import Settings
from forewarn.policy import PolicyError, load_policy
from forewarn.streams.agents import ROLES


@click.command()
@click.option(
    "--roles",
    default=",".join(sorted(ROLES)),
    show_default=True,
    help="Comma-separated: pipeline, sinks, audit. Only one process may run `audit` on an embedded store.",
)
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    envvar="FOREWARN_POLICY",
    help="Policy YAML (default: built-in conservative policy).",
)
@click.option(
    "--dry-run", is_flag=True, envvar="FOREWARN_DRY_RUN", help="Send nothing: write every message to the outbox."
)
@click.option(
    "--loglevel", type=click.Choice(["debug", "info", "warning", "error"]), default="warning", show_default=True
)
def worker(roles: str, policy_path: Path | None, dry_run: bool, loglevel: str) -> None:
    """Run a forewarn worker until interrupted."""
    from forewarn.streams.app import run_worker

    chosen = frozenset(r.strip() for r in roles.split(",") if r.strip())
    unknown = chosen - ROLES
    if unknown or not chosen:
        raise click.BadParameter(f"unknown roles {sorted(unknown)}; choose from {sorted(ROLES)}", param_hint="--roles")
    try:
        policy = load_policy(policy_path)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from exc
    settings = Settings.from_env(dry_run=dry_run) if dry_run else Settings.from_env()
    from forewarn.processors.draft.check import check_templates

    problems = check_templates(policy, settings.status_page_url)  # fail now, not when an incident is live
    if problems:
        raise click.ClickException("drafting would fail:\n  " + "\n  ".join(problems[:20]))
    run_worker(settings, policy=policy, roles=chosen, loglevel="warn" if loglevel == "warning" else loglevel)

"""`forewarn replay EVENTS_FILE --customers CUSTOMERS_FILE [--policy POLICY] --report OUT`."""

from __future__ import annotations

from pathlib import Path

import click

from forewarn.policy import PolicyError, load_policy


@click.command()
@click.argument("events", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--customers",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Customer rows, as `forewarn customers load` accepts them.",
)
@click.option("--policy", "policy_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option(
    "--report",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Writes OUT.html (for people) and OUT.json (for machines).",
)
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for the pipeline.")
def replay(events: Path, customers: Path, policy_path: Path | None, out: Path, timeout: float) -> None:
    """Replay EVENTS_FILE (JSON lines for the raw topic) through the whole pipeline in dry run."""
    from forewarn.replay import replay as run

    try:
        load_policy(policy_path)  # a broken policy is reported here, before a broker starts
        report = run(events, customers, out, policy=policy_path, timeout_s=timeout)
    except (PolicyError, ValueError, TimeoutError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from exc
    counts: dict[str, int] = {}
    for m in report.messages:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
    click.echo(f"{len(report.incidents)} incident versions; messages: {counts or 'none'}")
    click.echo(f"wrote {out}.html and {out}.json")

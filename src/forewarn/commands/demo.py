"""`forewarn demo`: run the bundled scenario end to end and print what happened."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--dir",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".forewarn/demo"),
    show_default=True,
    help="Where the demo keeps its broker, store and logs (wiped first).",
)
def demo(root: Path) -> None:
    """A payments outage in eu-west, told to the customers it affects."""
    from forewarn.demo.runner import run_demo

    try:
        run_demo(root, echo=click.echo)
    except (TimeoutError, RuntimeError) as exc:
        raise click.ClickException(f"demo failed: {exc}\n(see logs under {root})") from exc

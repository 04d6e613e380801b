"""`forewarn kafka start|stop|status`: the local single-node broker for development and demos."""

from __future__ import annotations

from pathlib import Path

import click

from forewarn.broker.local import BrokerError, LocalKafka
from forewarn.config import Settings

_home_option = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Broker directory (config, data, logs).  [default: $FOREWARN_DATA_DIR/kafka, i.e. .forewarn/kafka]",
)


def _broker(home: Path | None, port: int = 9092) -> LocalKafka:
    return LocalKafka(home or Settings.from_env().data_dir / "kafka", port=port)


@click.group()
def kafka() -> None:
    """Run a local single-node Kafka broker (KRaft) for development and demos."""


@kafka.command()
@click.option("--port", type=click.IntRange(1, 65535), default=9092, show_default=True, help="Client port.")
@_home_option
@click.option("--timeout", "timeout_s", type=float, default=60, show_default=True, help="Seconds to wait.")
def start(port: int, home: Path | None, timeout_s: float) -> None:
    """Start the broker in the background and return once it answers requests."""
    broker = _broker(home, port)
    try:
        status = broker.start(timeout_s=timeout_s)
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"kafka running (pid {status.pid})")
    click.echo(f"  bootstrap: {status.bootstrap}")
    click.echo(f"  log:       {status.log_path}")
    if status.bootstrap != Settings().kafka:
        click.echo(f"  export FOREWARN_KAFKA={status.bootstrap}")


@kafka.command()
@_home_option
@click.option("--timeout", "timeout_s", type=float, default=30, show_default=True, help="Seconds before SIGKILL.")
def stop(home: Path | None, timeout_s: float) -> None:
    """Stop the broker started from this home directory."""
    broker = _broker(home)
    try:
        stopped = broker.stop(timeout_s=timeout_s)
    except (BrokerError, OSError) as exc:
        raise click.ClickException(f"stopping the broker in {broker.home} failed: {exc}") from exc
    click.echo("kafka stopped" if stopped else f"no broker running in {broker.home}")


@kafka.command()
@_home_option
def status(home: Path | None) -> None:
    """Show whether the broker in this home directory runs, and where."""
    state = _broker(home).status()
    click.echo(f"running:   {f'yes (pid {state.pid})' if state.running else 'no'}")
    click.echo(f"bootstrap: {state.bootstrap}")
    click.echo(f"home:      {state.home}")
    click.echo(f"log:       {state.log_path}")
    if not state.running:
        raise SystemExit(1)

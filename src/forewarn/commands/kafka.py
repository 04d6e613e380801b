"""`forewarn kafka start|stop|status` (placeholder until the broker module lands)."""

import click


@click.group()
def kafka() -> None:
    """Run a local single-node Kafka broker (KRaft) for development and demos."""

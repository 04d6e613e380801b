"""`forewarn db migrate` and `forewarn sql` (placeholder until the ClickHouse module lands)."""

import click


@click.group()
def db() -> None:
    """ClickHouse schema: versioned migrations."""


@click.command()
@click.argument("query")
def sql(query: str) -> None:
    """Run a read-only SQL query against the audit store."""
    raise click.ClickException("not implemented yet")

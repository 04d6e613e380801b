"""The ``forewarn`` command: one entry point for operators, analysts and the demo.

Each command group lives in ``forewarn.commands.<name>``; this module only assembles them,
so a command's code sits beside nothing but other command code.
"""

from __future__ import annotations

import click

from forewarn import __version__
from forewarn.commands import (
    approvals,
    audit,
    customers,
    db,
    deadletter,
    demo,
    incident,
    io,
    kafka,
    maintenance,
    postmortem,
    postmortem_tracking,
    replay,
    topics,
    worker,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="forewarn")
def main() -> None:
    """forewarn: tell customers about outages before they open a ticket.

    Configuration comes from FOREWARN_* environment variables (FOREWARN_KAFKA,
    FOREWARN_CLICKHOUSE, FOREWARN_DATA_DIR, ...); see README.md.
    """


main.add_command(kafka.kafka)
main.add_command(topics.topics)
main.add_command(db.db)
main.add_command(db.sql)
main.add_command(io.produce)
main.add_command(io.tail)
main.add_command(worker.worker)
main.add_command(demo.demo)
main.add_command(customers.customers)
main.add_command(approvals.approvals)
main.add_command(replay.replay)
main.add_command(postmortem.postmortem)
postmortem_tracking.register(postmortem.postmortem)
main.add_command(incident.incident)
main.add_command(maintenance.maintenance)
main.add_command(audit.audit)
main.add_command(deadletter.deadletter)

"""`forewarn deadletter list|show|redrive`: what on-call does with the dead-letter topic.

`list` and `show` read the whole topic or say they could not (a partial listing would hide
letters). `redrive` republishes originals to their topics with their keys, once a person has
said what they checked: delivered commands are skipped by the sink's delivered-ids store, and
an uncertain send goes out again only with `--not-delivered` (or is recorded with
`--delivered`). Every redriven letter gets an audit row naming the person.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

import click
from confluent_kafka import KafkaException
from pydantic import ValidationError

from forewarn.config import Settings
from forewarn.deadletters import (
    Letter,
    Selection,
    SelectionError,
    letters_from,
    parse_id,
    parse_since,
    plan_lines,
    plan_redrive,
    redrive_audit,
    select,
    show_lines,
    summary_lines,
)
from forewarn.publish import Publisher, read_topic
from forewarn.sinks.base import REDRIVE_DELIVERED, REDRIVE_NOT_DELIVERED
from forewarn.topics import TopicNames


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValidationError as exc:
        raise click.ClickException(f"invalid FOREWARN_* settings: {exc}") from exc


def read_letters(settings: Settings, timeout_s: float) -> tuple[list[Letter], int, int]:
    """Every dead letter in the topic (plus the topic's record count and unreadable records), or a
    ClickException saying why not: nothing is listed or redriven from a partial read."""
    topic = TopicNames(settings.topic_prefix)("deadletter")
    try:
        messages = read_topic(settings, "deadletter", timeout_s=timeout_s)
    except TimeoutError as exc:
        raise click.ClickException(
            f"could not read all of {topic} from {settings.kafka}: {exc}. Nothing is shown, because a partial "
            "list would hide dead letters; try again or give more --timeout"
        ) from exc
    except (KafkaException, KeyError) as exc:
        raise click.ClickException(f"cannot read {topic} from {settings.kafka}: {exc}") from exc
    letters, unreadable = letters_from(m.value() for m in messages)
    return letters, len(messages), unreadable


def _selection(
    settings: Settings, letter_id: str | None, stage: str | None, error_type: str | None, since: str | None
) -> Selection:
    names = TopicNames(settings.topic_prefix)
    try:
        return Selection(
            stage=stage,
            error_type=error_type,
            since=parse_since(since, datetime.now(UTC)) if since else None,
            letter_id=parse_id(letter_id, names) if letter_id else None,
        )
    except SelectionError as exc:
        raise click.UsageError(str(exc)) from exc


_timeout = click.option(
    "--timeout", type=float, default=30.0, show_default=True, help="Seconds to read the whole topic in."
)
_stage = click.option("--stage", default=None, help="Only letters from this stage (deliver, normalize, segments, …).")
_type = click.option(
    "--type", "error_type", default=None, help="Only this error type (delivery_failed, delivery_uncertain, invalid, …)."
)
_since = click.option("--since", default=None, help="Only letters since a duration ago (2h, 1d) or a time (RFC 3339).")


@click.group()
def deadletter() -> None:
    """Dead letters: bad input and failed deliveries, with their reason and original bytes."""


@deadletter.command("list")
@_stage
@_type
@_since
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True, help="Newest rows to show.")
@_timeout
def list_letters(stage: str | None, error_type: str | None, since: str | None, limit: int, timeout: float) -> None:
    """Counts by stage and error type, then the newest dead letters (ids for `show` and `redrive`)."""
    settings = _settings()
    selection = _selection(settings, None, stage, error_type, since)
    letters, total, unreadable = read_letters(settings, timeout)
    click.echo("\n".join(summary_lines(select(letters, selection), total, limit, unreadable)))


@deadletter.command()
@click.argument("letter_id", metavar="TOPIC:PARTITION:OFFSET")
@_timeout
def show(letter_id: str, timeout: float) -> None:
    """The full reason and the decoded original record of one dead letter."""
    settings = _settings()
    selection = _selection(settings, letter_id, None, None, None)
    letters, _, _ = read_letters(settings, timeout)
    copies = [x for x in letters if selection.matches(x)]
    found = select(copies, selection)
    if not found:
        raise click.ClickException(f"no dead letter {selection.letter_id}; `forewarn deadletter list` shows the ids")
    click.echo("\n".join(show_lines(found[-1], copies=len(copies))))


@deadletter.command()
@click.argument("letter_id", metavar="[TOPIC:PARTITION:OFFSET]", required=False)
@_stage
@_type
@_since
@click.option("--all", "everything", is_flag=True, help="Every dead letter (a selection is otherwise required).")
@click.option("--dry-run", is_flag=True, help="Show what would be republished; publish nothing.")
@click.option(
    "--not-delivered",
    "not_delivered",
    is_flag=True,
    help="delivery_uncertain letters: you checked the provider and they did not arrive, so send them.",
)
@click.option(
    "--delivered",
    is_flag=True,
    help="delivery_uncertain letters: you checked and they did arrive; record them as delivered, send nothing.",
)
@click.option("--by", default=None, help="Who decides (your name): on every audit row of the redrive.")
@_timeout
def redrive(
    letter_id: str | None,
    stage: str | None,
    error_type: str | None,
    since: str | None,
    everything: bool,
    dry_run: bool,
    not_delivered: bool,
    delivered: bool,
    by: str | None,
    timeout: float,
) -> None:
    """Republish selected dead letters' original records to their topics, with their keys.

    Safe for delivery_failed commands: the sink skips any notification it already delivered.
    A delivery_uncertain command may already have reached its reader, so it needs what you found
    at the provider: --not-delivered or --delivered. Select one id, or by --stage/--type/--since,
    or --all.
    """
    if not_delivered and delivered:
        raise click.UsageError("--not-delivered and --delivered contradict each other; choose one")
    settings = _settings()
    selection = _selection(settings, letter_id, stage, error_type, since)
    if selection.empty and not everything:
        raise click.UsageError("say what to redrive: an id, --stage/--type/--since, or --all")
    if not dry_run and not (by and by.strip()):
        raise click.UsageError("--by NAME is required: every redrive is on record with who decided it")
    checked = REDRIVE_NOT_DELIVERED if not_delivered else REDRIVE_DELIVERED if delivered else None
    letters, _, _ = read_letters(settings, timeout)
    selected = select(letters, selection)
    if not selected:
        raise click.ClickException("no dead letters match; `forewarn deadletter list` shows what there is")
    names = TopicNames(settings.topic_prefix)
    run_id = uuid.uuid4().hex
    person = (by or "").strip()
    try:
        plan = plan_redrive(selected, names, checked, person, run_id, refuse=not dry_run)
    except SelectionError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:
        click.echo("\n".join(plan_lines(plan)))
        return
    for letter, why in plan.skipped:
        click.echo(f"left out {letter.id}: {why}", err=True)
    if not plan.items:
        raise click.ClickException("nothing to redrive")
    publisher = Publisher(settings)
    now = datetime.now(UTC)
    try:
        # the record first: a redrive that is not on record must not happen
        for item in plan.items:
            publisher.send("audit", redrive_audit(item, person, run_id, settings.pseudonym_key, now))
        publisher.flush()
    except KafkaException as exc:
        raise click.ClickException(f"could not write the audit record, nothing redriven: {exc}") from exc
    try:
        with click.progressbar(plan.items, label="redriving", file=sys.stderr) as bar:
            for item in bar:
                publisher.send_bytes(item.short_topic, item.value, key=item.key)
        publisher.close()
    except KafkaException as exc:
        raise click.ClickException(
            f"republishing failed part-way (run {run_id} is audited): {exc}. Redriving the same letters again "
            "is safe: the sink skips what it delivered"
        ) from exc
    marked = sum(1 for i in plan.items if i.checked == REDRIVE_DELIVERED)
    told = f" ({marked} to be recorded as delivered, not sent)" if marked else ""
    click.echo(f"redrove {len(plan.items)} dead letter(s){told}; audited as run {run_id} by {person}")

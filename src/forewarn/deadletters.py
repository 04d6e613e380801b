"""Dead letters for the person on call: select them, summarise them, and plan a redrive.

Everything here is pure (records in, lines or plans out) so the CLI in ``commands/deadletter.py``
only reads the topic and publishes, and the rules that keep a redrive safe are tested without a
broker. A dead letter is named by where its original record was read (``topic:partition:offset``),
the one id the worker's log line, its audit row and a repeated dead-lettering of the same record
all share.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from forewarn.processors.ids import pseudonymise, stable_id
from forewarn.schemas.codec import DecodeError, decode, decode_any, encode
from forewarn.schemas.models import AuditRecord, DeadLetter, NotificationCommand
from forewarn.sinks.base import REDRIVE_BY, REDRIVE_CHECKED, REDRIVE_DELIVERED, REDRIVE_NOT_DELIVERED, REDRIVE_TOKEN
from forewarn.topics import BY_NAME, TopicNames

UNCERTAIN_TYPE = "delivery_uncertain"
#: How much of a reason a summary row shows; ``show`` prints all of it.
REASON_CHARS = 70


class SelectionError(ValueError):
    """A selection or id the person typed that cannot mean anything; the message says why."""


@dataclass(frozen=True)
class Letter:
    letter: DeadLetter

    @property
    def id(self) -> str:
        return f"{self.letter.topic}:{self.letter.partition}:{self.letter.offset}"


def letters_from(values: Iterable[bytes | None]) -> tuple[list[Letter], int]:
    """The readable dead letters, and how many records of the topic were not DeadLetters at all
    (counted, so a listing never hides that something else is in there)."""
    letters: list[Letter] = []
    unreadable = 0
    for value in values:
        try:
            letters.append(Letter(decode(value or b"", DeadLetter)))
        except DecodeError:
            unreadable += 1
    return letters, unreadable


def parse_id(text: str, names: TopicNames) -> str:
    """``TOPIC:PARTITION:OFFSET`` (or ``TOPIC@PARTITION:OFFSET``) with the full topic name; a
    short name (``notify.slack``) gets the deployment's prefix."""
    match = re.fullmatch(r"(.+)[:@](\d+):(\d+)", text.strip())
    if match is None:
        raise SelectionError(f"{text!r} is not a dead-letter id; expected TOPIC:PARTITION:OFFSET")
    topic = match[1]
    if topic in BY_NAME:
        topic = names(topic)
    return f"{topic}:{int(match[2])}:{int(match[3])}"


_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime) -> datetime:
    """A duration back from now (``90m``, ``2h``, ``1d12h``) or an RFC 3339 time (UTC if no zone)."""
    compact = text.strip().replace(" ", "")
    if compact and _DURATION.sub("", compact) == "":
        delta = sum((timedelta(**{_UNITS[u]: int(n)}) for n, u in _DURATION.findall(compact)), timedelta())
        return now - delta
    try:
        at = datetime.fromisoformat(compact.replace("Z", "+00:00"))
    except ValueError:
        raise SelectionError(
            f"--since {text!r}: expected a duration like 2h or 1d, or a time like 2026-11-23T09:00Z"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Selection:
    stage: str | None = None
    error_type: str | None = None
    since: datetime | None = None
    letter_id: str | None = None

    @property
    def empty(self) -> bool:
        return self.stage is None and self.error_type is None and self.since is None and self.letter_id is None

    def matches(self, letter: Letter) -> bool:
        d = letter.letter
        return (
            (self.stage is None or d.stage == self.stage)
            and (self.error_type is None or d.error_type == self.error_type)
            and (self.since is None or d.failed_at >= self.since)
            and (self.letter_id is None or letter.id == self.letter_id)
        )


def select(letters: Iterable[Letter], selection: Selection) -> list[Letter]:
    """Matching letters oldest first, one per original record: at-least-once processing can
    dead-letter the same record twice, and the newest copy carries the latest reason."""
    newest: dict[str, Letter] = {}
    for letter in letters:
        if not selection.matches(letter):
            continue
        kept = newest.get(letter.id)
        if kept is None or letter.letter.failed_at >= kept.letter.failed_at:
            newest[letter.id] = letter
    return sorted(newest.values(), key=lambda x: (x.letter.failed_at, x.id))


def _one_line(text: str, chars: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def summary_lines(selected: Sequence[Letter], total: int, limit: int, unreadable: int = 0) -> list[str]:
    """Counts by stage and error type, then the newest ``limit`` letters, newest first."""
    if not selected:
        return [f"no dead letters match (of {total} in the topic)"]
    lines = [f"{len(selected)} dead letter(s) match (of {total} in the topic)"]
    if unreadable:
        lines.append(f"{unreadable} record(s) in the topic are not DeadLetter records and are left out")
    counts = Counter((x.letter.stage, x.letter.error_type) for x in selected)
    sw = max(5, *(len(s) for s, _ in counts))
    tw = max(4, *(len(t) for _, t in counts))
    lines += ["", f"{'stage':<{sw}}  {'type':<{tw}}  count"]
    lines += [f"{s:<{sw}}  {t:<{tw}}  {n:>5}" for (s, t), n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]
    shown = list(reversed(selected))[:limit]
    lines += ["", f"newest {len(shown)}:" if len(shown) < len(selected) else "all, newest first:"]
    rows = [(_when(x.letter.failed_at), x.letter.stage, x.letter.error_type, x.id, x.letter.reason) for x in shown]
    iw = max(27, *(len(r[3]) for r in rows))
    header = f"{'failed at (UTC)':<20}  {'stage':<{sw}}  {'type':<{tw}}  {'id (topic:partition:offset)':<{iw}}"
    lines.append(header + "  reason")
    for when, stage, kind, lid, reason in rows:
        lines.append(f"{when:<20}  {stage:<{sw}}  {kind:<{tw}}  {lid:<{iw}}  {_one_line(reason, REASON_CHARS)}")
    return lines


def jsonable(value: Any) -> Any:
    """Bytes as the JSON they hold, else text, else base64: how a person reads an original body."""
    if isinstance(value, bytes):
        try:
            text = value.decode()
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(value).decode()}
        try:
            return json.loads(text)
        except ValueError:
            return text
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def original(value: bytes | None) -> tuple[str, Any]:
    """What the original record was: its schema's name and fields when forewarn can decode it,
    else the raw body (JSON, text or base64) with why it did not decode."""
    if value is None:
        return "no value (tombstone)", None
    try:
        record = decode_any(value)
    except DecodeError as exc:
        return f"not a forewarn record ({exc.reason})", jsonable(value)
    return type(record).__name__, jsonable(record.model_dump(mode="python"))


def show_lines(letter: Letter, copies: int = 1) -> list[str]:
    d = letter.letter
    kind, body = original(d.value)
    lines = [
        f"id:         {letter.id}",
        f"failed at:  {d.failed_at.astimezone(UTC).isoformat()}",
        f"stage:      {d.stage}",
        f"type:       {d.error_type}",
        f"key:        {d.key.decode(errors='replace') if d.key is not None else '(none)'}",
    ]
    if copies > 1:
        lines.append(f"copies:     dead-lettered {copies} times (the newest is shown)")
    lines += ["reason:", *(f"  {line}" for line in d.reason.splitlines() or [""])]
    lines += [f"original ({kind}):", json.dumps(body, indent=2, ensure_ascii=False, default=str)]
    if d.error_type == UNCERTAIN_TYPE:
        lines += [
            "",
            "this send may or may not have reached the provider: check there, then",
            f"  forewarn deadletter redrive {letter.id} --not-delivered --by NAME   (it was not: send it)",
            f"  forewarn deadletter redrive {letter.id} --delivered --by NAME       (it was: record it, send nothing)",
        ]
    return lines


# -- redrive -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedriveItem:
    letter: Letter
    short_topic: str
    key: bytes | None
    value: bytes
    #: For an uncertain delivery: what the person stated (REDRIVE_NOT_DELIVERED / REDRIVE_DELIVERED).
    checked: str | None
    command: NotificationCommand | None
    token: str

    @property
    def action(self) -> str:
        if self.checked == REDRIVE_DELIVERED:
            return "mark delivered"
        return "republish (checked: not delivered)" if self.checked else "republish"


@dataclass(frozen=True)
class RedrivePlan:
    items: list[RedriveItem]
    skipped: list[tuple[Letter, str]]


def plan_redrive(
    selected: Sequence[Letter], names: TopicNames, checked: str | None, by: str, run_id: str, *, refuse: bool = True
) -> RedrivePlan:
    """What a redrive republishes, where and with which key, and what it leaves out and why.

    A ``delivery_uncertain`` letter may already have reached its reader, so it is only planned
    with what the person found at the provider (``checked``), which then travels in the command's
    metadata with their name and a one-use token; without it the whole redrive is refused rather
    than quietly leaving some out (``refuse=False``, for a dry run: they are listed as left out).
    ``delivery_failed`` commands go back byte for byte: the sink
    skips any notification id it already delivered. Commands are planned once per notification id
    (the newest letter), so one run never offers a sink two copies of the same message.
    """
    uncertain = [x for x in selected if x.letter.error_type == UNCERTAIN_TYPE]
    if uncertain and checked is None and refuse:
        ids = ", ".join(x.id for x in uncertain[:5]) + (" …" if len(uncertain) > 5 else "")
        raise SelectionError(
            f"{len(uncertain)} selected dead letter(s) are delivery_uncertain ({ids}): the provider may already "
            "have them. Check the provider, then redrive them with --not-delivered (send them) or --delivered "
            "(record them as delivered, send nothing), or leave them out with --type delivery_failed"
        )
    if checked not in (None, REDRIVE_NOT_DELIVERED, REDRIVE_DELIVERED):
        raise SelectionError(f"unknown provider check {checked!r}")
    skipped: list[tuple[Letter, str]] = []
    by_command: dict[str, RedriveItem] = {}
    items: list[RedriveItem] = []
    for letter in selected:
        d = letter.letter
        short = names.short(d.topic)
        if short is None:
            skipped.append((letter, f"{d.topic} is not a topic of this deployment (prefix {names.prefix!r})"))
            continue
        if d.error_type == UNCERTAIN_TYPE and checked is None:
            skipped.append((letter, "delivery_uncertain: check the provider, then --not-delivered or --delivered"))
            continue
        if d.value is None:
            skipped.append((letter, "no original value (a tombstone): republishing it would delete, not redo"))
            continue
        command: NotificationCommand | None = None
        if short.startswith("notify."):
            try:
                command = decode(d.value, NotificationCommand)
            except DecodeError as exc:
                skipped.append((letter, f"not a readable command, it would only be dead-lettered again: {exc.reason}"))
                continue
        token = stable_id("redrive", run_id, letter.id)
        value = d.value
        letter_checked = checked if d.error_type == UNCERTAIN_TYPE else None
        if command is not None and letter_checked is not None:
            metadata = {**command.metadata, REDRIVE_CHECKED: letter_checked, REDRIVE_BY: by, REDRIVE_TOKEN: token}
            value = encode(command.model_copy(update={"metadata": metadata}))
        item = RedriveItem(letter, short, d.key, value, letter_checked, command, token)
        if command is None:
            items.append(item)
            continue
        earlier = by_command.get(command.notification_id)
        if earlier is not None:
            skipped.append((earlier.letter, f"{command.notification_id} is redriven from the newer {letter.id}"))
        by_command[command.notification_id] = item
    items += by_command.values()
    items.sort(key=lambda i: (i.letter.letter.failed_at, i.letter.id))
    return RedrivePlan(items, skipped)


def redrive_audit(item: RedriveItem, by: str, run_id: str, pseudonym_key: str, now: datetime) -> AuditRecord:
    """One row per redriven letter naming the person, what they stated and the token the sink
    sees, so the send (or the "not sent") a redrive caused can be traced back to a decision."""
    d, c = item.letter.letter, item.command
    action = {None: "redriven", REDRIVE_NOT_DELIVERED: "redriven_not_delivered", REDRIVE_DELIVERED: "marked_delivered"}
    return AuditRecord(
        audit_id=item.token,
        recorded_at=now,
        stage="redrive",
        action=action[item.checked],
        incident_id=c.incident_id if c else None,
        incident_version=c.incident_version if c else None,
        notification_id=c.notification_id if c else None,
        customer_ref=pseudonymise(c.customer_id, pseudonym_key) if c else None,
        channel=c.channel.value if c else None,
        approver=by,
        detail={
            "letter": item.letter.id,
            "run": run_id,
            "by": by,
            "to_topic": d.topic,
            "failed_stage": d.stage,
            "error_type": d.error_type,
            "reason": d.reason[:1000],
        },
    )


def plan_lines(plan: RedrivePlan) -> list[str]:
    """The dry run: every letter a redrive would republish, where to, and what it leaves out."""
    lines = [f"would redrive {len(plan.items)} dead letter(s):"]
    for item in plan.items:
        what = item.command.notification_id if item.command else (item.key or b"").decode(errors="replace")
        lines.append(f"  {item.letter.id}  -> {item.short_topic}  {item.action}  {what or '(no key)'}")
    if plan.skipped:
        lines.append(f"left out {len(plan.skipped)}:")
        lines += [f"  {letter.id}: {why}" for letter, why in plan.skipped]
    return lines

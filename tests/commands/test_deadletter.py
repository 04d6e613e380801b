"""`forewarn deadletter`: selection, the summary and `show`, the redrive plan and its refusals,
and the CLI's answers when it cannot read the whole topic. No broker: the topic is a list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from factories import T0, command
from forewarn.cli import main
from forewarn.commands import deadletter as cli
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
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import Channel, DeadLetter, NotificationCommand, RawSignal
from forewarn.sinks.base import REDRIVE_BY, REDRIVE_CHECKED, REDRIVE_DELIVERED, REDRIVE_NOT_DELIVERED, REDRIVE_TOKEN
from forewarn.topics import TopicNames

NAMES = TopicNames("forewarn.")


def letter(
    topic: str = "forewarn.notify.slack",
    offset: int = 1,
    *,
    error_type: str = "delivery_failed",
    stage: str = "deliver",
    value: bytes | None = None,
    minutes: int = 0,
    reason: str = "slack via slack: gave up after 2 attempt(s): slack: POST 500",
    nid: str | None = None,
) -> Letter:
    if value is None:
        value = encode(command(nid or f"ntf_{offset}").model_copy(update={"channel": Channel.slack}))
    return Letter(
        DeadLetter(
            topic=topic,
            partition=0,
            offset=offset,
            key=(nid or f"ntf_{offset}").encode(),
            value=value,
            stage=stage,
            error_type=error_type,
            reason=reason,
            failed_at=T0 + timedelta(minutes=minutes),
        )
    )


def test_ids_and_since_read_the_way_people_type_them() -> None:
    assert parse_id("notify.slack:0:17", NAMES) == "forewarn.notify.slack:0:17"
    assert parse_id("forewarn.raw@3:9", NAMES) == "forewarn.raw:3:9"
    with pytest.raises(SelectionError, match="TOPIC:PARTITION:OFFSET"):
        parse_id("ntf_123", NAMES)
    assert parse_since("2h", T0) == T0 - timedelta(hours=2)
    assert parse_since("1d12h", T0) == T0 - timedelta(days=1, hours=12)
    assert parse_since("2026-11-23T08:00Z", T0) == T0 - timedelta(hours=1)
    assert parse_since("2026-11-23T08:00", T0) == T0 - timedelta(hours=1)  # no zone: UTC
    with pytest.raises(SelectionError, match="--since 'yesterday'"):
        parse_since("yesterday", T0)


def test_selection_filters_and_keeps_one_copy_per_original_record() -> None:
    letters = [
        letter(offset=1, minutes=0),
        letter(offset=1, minutes=5, reason="again"),  # the same record dead-lettered twice
        letter(offset=2, minutes=10, error_type="delivery_uncertain"),
        letter("forewarn.raw", 7, stage="normalize", error_type="invalid", minutes=20, value=b"{}"),
    ]
    everything = select(letters, Selection())
    assert [x.id for x in everything] == ["forewarn.notify.slack:0:1", "forewarn.notify.slack:0:2", "forewarn.raw:0:7"]
    assert everything[0].letter.reason == "again"
    assert [x.id for x in select(letters, Selection(stage="normalize"))] == ["forewarn.raw:0:7"]
    assert len(select(letters, Selection(error_type="delivery_uncertain"))) == 1
    assert len(select(letters, Selection(since=T0 + timedelta(minutes=10)))) == 2
    assert len(select(letters, Selection(letter_id="forewarn.notify.slack:0:1"))) == 1


def test_the_summary_counts_by_stage_and_type_and_lists_the_newest_first() -> None:
    long_reason = "slack via slack: gave up\nafter 2 attempt(s): " + "x" * 200
    letters = [letter(offset=i, minutes=i, reason=long_reason) for i in range(1, 4)]
    letters.append(letter("forewarn.raw", 9, stage="normalize", error_type="invalid", minutes=9, value=b"{}"))
    lines = summary_lines(select(letters, Selection()), total=5, limit=2, unreadable=1)
    text = "\n".join(lines)
    assert lines[0] == "4 dead letter(s) match (of 5 in the topic)"
    assert "1 record(s) in the topic are not DeadLetter records" in text
    assert any(line.split() == ["deliver", "delivery_failed", "3"] for line in lines)
    assert any(line.split() == ["normalize", "invalid", "1"] for line in lines)
    assert "newest 2:" in lines
    rows = lines[lines.index("newest 2:") + 2 :]
    assert [r.split()[4] for r in rows] == ["forewarn.raw:0:9", "forewarn.notify.slack:0:3"]
    assert rows[1].startswith("2026-11-23 09:03:00Z") and rows[1].endswith("…") and "\n" not in rows[1]
    assert summary_lines([], total=5, limit=2) == ["no dead letters match (of 5 in the topic)"]


def test_show_prints_the_whole_reason_and_decodes_the_original() -> None:
    reason = "first line\n" + "y" * 300
    shown = "\n".join(show_lines(letter(reason=reason, error_type="delivery_uncertain"), copies=2))
    assert "y" * 300 in shown and "dead-lettered 2 times" in shown
    assert "original (NotificationCommand):" in shown and '"notification_id": "ntf_1"' in shown
    assert "redrive forewarn.notify.slack:0:1 --not-delivered --by NAME" in shown
    raw = RawSignal(source="alertmanager", received_at=T0, body=b'{"status": "firing"}')
    shown = "\n".join(show_lines(letter("forewarn.raw", 3, stage="normalize", value=encode(raw))))
    assert "original (RawSignal):" in shown and '"status": "firing"' in shown  # the body as JSON
    shown = "\n".join(show_lines(letter("forewarn.raw", 4, value=b'{"half": ')))
    assert "not a forewarn record" in shown and '"{\\"half\\": "' in shown


def test_letters_that_are_not_dead_letters_are_counted_not_fatal() -> None:
    good = encode(letter().letter)
    letters, unreadable = letters_from([good, b"junk", None])
    assert len(letters) == 1 and unreadable == 2


def test_uncertain_letters_are_refused_without_a_provider_check() -> None:
    selected = [letter(offset=1), letter(offset=2, error_type="delivery_uncertain")]
    with pytest.raises(SelectionError, match=r"1 selected dead letter\(s\) are delivery_uncertain.*--not-delivered"):
        plan_redrive(selected, NAMES, None, "ana", "run1")
    dry = plan_redrive(selected, NAMES, None, "", "run1", refuse=False)  # a dry run shows them left out
    assert [i.letter.id for i in dry.items] == ["forewarn.notify.slack:0:1"]
    assert [(x.id, why.split(":")[0]) for x, why in dry.skipped] == [
        ("forewarn.notify.slack:0:2", "delivery_uncertain")
    ]


def test_failed_commands_go_back_byte_for_byte_and_checked_ones_carry_the_check() -> None:
    failed, uncertain = letter(offset=1), letter(offset=2, error_type="delivery_uncertain")
    plan = plan_redrive([failed, uncertain], NAMES, REDRIVE_NOT_DELIVERED, "ana", "run1")
    first, second = plan.items
    assert (first.short_topic, first.key, first.value, first.checked) == (
        "notify.slack",
        b"ntf_1",
        failed.letter.value,
        None,
    )
    sent = decode(second.value, NotificationCommand)
    assert sent.notification_id == "ntf_2" and second.key == b"ntf_2"
    assert sent.metadata == {REDRIVE_CHECKED: REDRIVE_NOT_DELIVERED, REDRIVE_BY: "ana", REDRIVE_TOKEN: second.token}
    marked = plan_redrive([uncertain], NAMES, REDRIVE_DELIVERED, "ana", "run2").items[0]
    assert decode(marked.value, NotificationCommand).metadata[REDRIVE_CHECKED] == REDRIVE_DELIVERED
    assert marked.token != second.token  # one token per run and letter
    assert "notify.slack  mark delivered  ntf_2" in "\n".join(
        plan_lines(plan_redrive([uncertain], NAMES, REDRIVE_DELIVERED, "a", "r"))
    )


def test_the_plan_leaves_out_what_cannot_be_redone_and_says_why() -> None:
    plan = plan_redrive(
        [
            letter(offset=1, nid="ntf_same", minutes=1),
            letter(offset=5, nid="ntf_same", minutes=5),  # the same command, dead-lettered again later
            letter("other.notify.slack", 2),
            letter(offset=3, value=b"not avro", error_type="undecodable"),
            Letter(letter(offset=4).letter.model_copy(update={"value": None})),
            letter("forewarn.raw", 6, stage="normalize", error_type="invalid", value=b'{"x": 1}', minutes=6),
        ],
        NAMES,
        None,
        "ana",
        "run1",
    )
    assert [i.letter.id for i in plan.items] == ["forewarn.notify.slack:0:5", "forewarn.raw:0:6"]
    why = {x.id: reason for x, reason in plan.skipped}
    assert "redriven from the newer forewarn.notify.slack:0:5" in why["forewarn.notify.slack:0:1"]
    assert "not a topic of this deployment" in why["other.notify.slack:0:2"]
    assert "not a readable command" in why["forewarn.notify.slack:0:3"]
    assert "tombstone" in why["forewarn.notify.slack:0:4"]
    text = "\n".join(plan_lines(plan))
    assert text.startswith("would redrive 2 dead letter(s):") and "left out 4:" in text


def test_every_redriven_letter_has_an_audit_row_naming_the_person() -> None:
    item = plan_redrive([letter(offset=2, error_type="delivery_uncertain")], NAMES, REDRIVE_NOT_DELIVERED, "ana", "r1")
    row = redrive_audit(item.items[0], "ana", "r1", "key", T0)
    assert (row.audit_id, row.stage, row.action, row.approver) == (
        item.items[0].token,
        "redrive",
        "redriven_not_delivered",
        "ana",
    )
    assert row.notification_id == "ntf_2" and row.channel == "slack" and row.customer_ref.startswith("cus_")  # type: ignore[union-attr]
    assert row.detail["letter"] == "forewarn.notify.slack:0:2" and row.detail["error_type"] == "delivery_uncertain"


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The dead-letter topic as the CLI reads it, without a broker."""
    values: list[bytes] = []

    class Message:
        def __init__(self, value: bytes) -> None:
            self._value = value

        def value(self) -> bytes:
            return self._value

    def read(settings: Any, short: str, timeout_s: float = 30.0) -> list[Message]:
        assert short == "deadletter"
        return [Message(v) for v in values]

    monkeypatch.setattr(cli, "read_topic", read)
    return values


def test_the_cli_lists_shows_and_dry_runs(topic: list[bytes]) -> None:
    topic += [encode(letter(offset=1).letter), encode(letter(offset=2, error_type="delivery_uncertain").letter)]
    runner = CliRunner()
    listed = runner.invoke(main, ["deadletter", "list", "--type", "delivery_failed"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("1 dead letter(s) match (of 2 in the topic)")
    shown = runner.invoke(main, ["deadletter", "show", "notify.slack:0:2"])
    assert shown.exit_code == 0 and "type:       delivery_uncertain" in shown.output
    missing = runner.invoke(main, ["deadletter", "show", "notify.slack:0:9"])
    assert missing.exit_code == 1 and "no dead letter forewarn.notify.slack:0:9" in missing.output
    refused = runner.invoke(main, ["deadletter", "redrive", "--stage", "deliver", "--by", "ana"])
    assert refused.exit_code == 1 and "are delivery_uncertain" in refused.output
    dry = runner.invoke(main, ["deadletter", "redrive", "--type", "delivery_failed", "--dry-run"])
    assert dry.exit_code == 0 and "would redrive 1 dead letter(s):" in dry.output
    dry = runner.invoke(main, ["deadletter", "redrive", "--all", "--dry-run"])
    assert dry.exit_code == 0 and "left out 1:" in dry.output and "delivery_uncertain: check the provider" in dry.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "ana"], "say what to redrive"),
        (["--all"], "--by NAME is required"),
        (["--all", "--by", "ana", "--delivered", "--not-delivered"], "contradict"),
        (["--since", "soon", "--by", "ana"], "--since 'soon'"),
    ],
)
def test_the_cli_refuses_a_redrive_it_cannot_audit_or_understand(
    topic: list[bytes], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["deadletter", "redrive", *args])
    assert result.exit_code == 2 and message in result.output


def test_a_partial_read_is_a_clear_error_not_a_short_list(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(settings: Any, short: str, timeout_s: float = 30.0) -> list[Any]:
        raise TimeoutError("read 3 records of forewarn.deadletter, but partitions [1] did not reach …")

    monkeypatch.setattr(cli, "read_topic", slow)
    result = CliRunner().invoke(main, ["deadletter", "list", "--timeout", "1"])
    assert result.exit_code == 1
    assert "could not read all of forewarn.deadletter" in result.output and "a partial list would hide" in result.output

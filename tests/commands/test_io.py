"""`forewarn produce` and `forewarn tail` against the real broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from forewarn.cli import main
from forewarn.config import Settings
from forewarn.publish import read_topic
from forewarn.schemas.codec import decode
from forewarn.schemas.models import RawSignal

LINE = {
    "source": "json",
    "received_at": "2026-11-23T09:00:00Z",
    "body": [
        {
            "service": "api",
            "region": "eu-west",
            "metric": "error_rate",
            "value": 0.2,
            "timestamp": "2026-11-23T09:00:00Z",
        }
    ],
}


def env(settings: Settings) -> dict[str, str]:
    return settings.to_env()


def test_produce_publishes_valid_lines_and_names_bad_ones(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    path.write_text("\n".join([json.dumps(LINE), json.dumps({"source": "json"}), json.dumps(LINE), ""]))
    result = CliRunner().invoke(main, ["produce", "raw", str(path)], env=env(settings))
    assert result.exit_code == 1
    assert f"{path}:2: missing received_at, body" in result.output
    assert "published 2 records" in result.output and "rejected 1" in result.output
    records = [decode(m.value(), RawSignal) for m in read_topic(settings, "raw")]
    assert len(records) == 2
    assert json.loads(records[0].body) == LINE["body"]


def test_produce_rejects_a_file_that_is_not_json_lines(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("{not json\n")
    result = CliRunner().invoke(main, ["produce", "raw", str(path)], env=env(settings))
    assert result.exit_code != 0 and f"{path}:1: not JSON" in result.output


def test_unknown_topic_is_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    result = CliRunner().invoke(main, ["produce", "nope", str(path)], env=env(settings))
    assert result.exit_code == 2 and "unknown topic 'nope'" in result.output


def test_tail_decodes_records_and_shows_undecodable_ones(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "signals.jsonl"
    path.write_text(json.dumps(LINE) + "\n")
    runner = CliRunner()
    assert runner.invoke(main, ["produce", "raw", str(path)], env=env(settings)).exit_code == 0
    from forewarn.publish import Publisher

    publisher = Publisher(settings)
    publisher.send_bytes("raw", b"not avro", key=b"k")
    publisher.close()
    result = runner.invoke(
        main, ["tail", "raw", "--from-beginning", "--limit", "2", "--idle-exit", "20"], env=env(settings)
    )
    assert result.exit_code == 0, result.output
    assert "RawSignal" in result.output and '"metric": "error_rate"' in result.output
    assert '"undecodable"' in result.output and "magic byte" in result.output


@pytest.mark.parametrize("topic", ["raw", "incidents"])
def test_tail_accepts_full_topic_names(settings: Settings, topic: str) -> None:
    result = CliRunner().invoke(
        main, ["tail", settings.topic_prefix + topic, "--from-beginning", "--idle-exit", "1"], env=env(settings)
    )
    assert result.exit_code == 0, result.output

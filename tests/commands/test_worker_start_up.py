"""A policy that would make drafting fail stops the worker at start-up with the reason."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from forewarn.cli import main


def test_worker_refuses_a_policy_whose_drafts_cannot_pass(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("channels:\n  P1: [email, helpdesk]\ntone:\n  banned_phrases: [we will keep you posted]\n")
    result = CliRunner().invoke(main, ["worker", "--policy", str(policy)], env={"FOREWARN_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "drafting would fail" in result.output
    assert "en/initial on email fails validation: banned_phrase" in result.output
    assert "on helpdesk fails validation" in result.output  # the ticket text is drafted and checked too

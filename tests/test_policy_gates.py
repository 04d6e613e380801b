"""Out of the box every category is gated; the shipped policies say their gates explicitly."""

from __future__ import annotations

from pathlib import Path

from forewarn.demo.runner import bundled
from forewarn.policy import load_policy
from forewarn.policy_drafting import Gate
from forewarn.schemas.models import IncidentKind

ROOT = Path(__file__).resolve().parents[1]


def test_no_policy_and_a_policy_without_gates_hold_every_category(tmp_path: Path) -> None:
    silent = tmp_path / "policy.yaml"
    silent.write_text("channels:\n  P1: [email]\n")
    for policy in (load_policy(None), load_policy(silent)):
        assert {policy.gates.gate(kind) for kind in IncidentKind} == {Gate.always}


def test_the_example_policy_gates_every_category_explicitly() -> None:
    policy = load_policy(ROOT / "deploy" / "config" / "policy.example.yaml")
    assert policy.gates.default is Gate.always
    assert set(policy.gates.categories) == set(IncidentKind)
    assert set(policy.gates.categories.values()) == {Gate.always}


def test_the_demo_states_that_it_gates_nothing() -> None:
    assert {load_policy(bundled("policy.yaml")).gates.gate(kind) for kind in IncidentKind} == {Gate.never}

from datetime import timedelta
from pathlib import Path

import pytest

from forewarn.policy import PolicyError, load_policy
from forewarn.policy_rules import RulesPolicy, parse_duration


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_rules_read_durations_and_per_service_overrides(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            """
rules:
  window: 2m
  step: 30s
  grace: 1m30s
  confirm_after: 300
  services:
    payments:
      latency_p99_ms: 800
      error_rate_pct: null
""",
        )
    )
    rules = policy.rules
    assert (rules.window, rules.step, rules.grace) == (
        timedelta(minutes=2),
        timedelta(seconds=30),
        timedelta(seconds=90),
    )
    assert rules.confirm_after == timedelta(minutes=5)
    payments = rules.thresholds("payments")
    assert payments.latency_p99_ms == 800 and payments.error_rate_pct is None
    assert payments.availability_pct == rules.defaults.availability_pct  # not overridden
    assert rules.thresholds("search") == rules.defaults


def test_bad_value_names_key_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """services:
  api:
    depends_on: [db]
rules:
  window: 1m
  services:
    api:
      latency_p99_ms: -3
      latency_p95_ms: 10
""",
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert "line 8: rules.services.api.latency_p99_ms: Input should be greater than 0" in message
    assert "line 9: rules.services.api.latency_p95_ms: Extra inputs are not permitted" in message
    assert message.startswith(str(path))


def test_windows_must_tile_into_steps(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"line 1: rules: .*whole number of steps"):
        load_policy(write(tmp_path, "rules:\n  window: 100s\n  step: 30s\n"))
    with pytest.raises(PolicyError, match="must not exceed window"):
        load_policy(write(tmp_path, "rules:\n  window: 30s\n  step: 60s\n"))


def test_unreadable_duration_is_an_error_on_its_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"line 3: rules.grace"):
        load_policy(write(tmp_path, "rules:\n  window: 1m\n  grace: soon\n"))


def test_monitor_for_reads_a_duration_and_a_bad_one_names_its_line(tmp_path: Path) -> None:
    assert load_policy(write(tmp_path, "rules:\n  monitor_for: 15m\n")).rules.monitor_for == timedelta(minutes=15)
    assert RulesPolicy().monitor_for == timedelta(0)  # unset: signals clearing resolve at once
    with pytest.raises(PolicyError, match=r"line 3: rules.monitor_for"):
        load_policy(write(tmp_path, "rules:\n  window: 1m\n  monitor_for: a while\n"))
    with pytest.raises(PolicyError, match=r"line 2: rules.monitor_for: .*greater than or equal"):
        load_policy(write(tmp_path, "rules:\n  monitor_for: -60\n"))


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="line 2"):
        load_policy(write(tmp_path, "rules:\n  window: [1m\n"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("5m", 300), ("4h", 14400), ("1h30m", 5400), ("1d", 86400), ("0.5s", 0.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


def test_defaults_are_valid() -> None:
    rules = RulesPolicy()
    assert rules.open_after >= 1 and rules.window % rules.step == timedelta(0)


def test_sla_threshold_is_the_strictest_slo_of_the_plans_served(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            """
services:
  api: {plans: [pro, starter]}
rules:
  plan_slo_pct: {enterprise: 99.95, pro: 99.9, starter: 99.5}
  services:
    ledger: {slo_pct: 99.0}
""",
        )
    )
    rules = policy.rules
    assert rules.thresholds("api", policy.service("api").plans).slo_pct == 99.9
    assert rules.thresholds("search", policy.service("search").plans).slo_pct == 99.95  # serves every plan
    assert rules.thresholds("ledger", []).slo_pct == 99.0  # its own wins


def test_dedup_retention_reads_durations_and_refuses_a_grace_past_idle_max(tmp_path: Path) -> None:
    rules = load_policy(write(tmp_path, "rules:\n  dedup:\n    resolved_grace: 2h\n    idle_max: 14d\n")).rules
    assert (rules.dedup.resolved_grace, rules.dedup.idle_max) == (timedelta(hours=2), timedelta(days=14))
    assert rules.dedup.sweep_every == timedelta(minutes=15)  # not written: the default
    assert RulesPolicy().dedup.resolved_grace == timedelta(hours=24)
    assert RulesPolicy().dedup.idle_max == timedelta(days=30)
    with pytest.raises(PolicyError, match=r"line 2: rules\.dedup: Value error, resolved_grace"):
        load_policy(write(tmp_path, "rules:\n  dedup:\n    resolved_grace: 31d\n"))

"""Internal destinations survive the trip through the environment a worker process is started with."""

from __future__ import annotations

import pytest

from forewarn.config import InternalSettings, Settings
from forewarn.policy import Policy
from forewarn.schemas.models import Severity


def test_internal_destinations_round_trip_through_the_environment() -> None:
    settings = Settings(
        internal=InternalSettings(
            support_emails=["support@corp.example", "tier2@corp.example"],
            war_room_webhook="http://127.0.0.1:9/hooks/war-room",
            leadership_emails=["ceo@corp.example"],
        )
    )
    env = settings.to_env()
    assert env["FOREWARN_INTERNAL_SUPPORT_EMAILS"] == "support@corp.example,tier2@corp.example"
    assert Settings.from_env(env).internal == settings.internal


def test_allowed_destinations_are_exactly_the_configured_ones() -> None:
    internal = InternalSettings.model_validate(
        {"support_emails": " Support@Corp.example , ", "leadership_webhook": "https://hooks.example/l"}
    )
    assert internal.allowed == frozenset({"support@corp.example", "https://hooks.example/l"})
    assert internal.destinations("war_room") == ([], None)


def test_nothing_internal_is_configured_by_default() -> None:
    assert Settings().internal.allowed == frozenset()
    assert not any(k.startswith("FOREWARN_INTERNAL_") for k in Settings().to_env())


def test_internal_policy_defaults_and_validation() -> None:
    internal = Policy().internal
    assert internal.briefing_severities == [Severity.P1]
    assert (internal.briefing_every_minutes, internal.executive_note_severities) == (60, [Severity.P1])
    with pytest.raises(ValueError, match="detection's extended-outage flag"):
        Policy.model_validate({"internal": {"extended_outage_after_minutes": 240}})  # one rule, in detection
    with pytest.raises(ValueError, match="briefing_every_minutes"):
        Policy.model_validate({"internal": {"briefing_every_minutes": 0}})

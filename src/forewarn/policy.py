"""The declarative policy: which services matter to customers, and who hears what, how often.

One validated pydantic model loaded once. Later stages (windowed rules, cadence, gates)
extend it; every field has a default so an empty file is a valid, conservative policy.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from forewarn.schemas.models import Channel, Severity


class ServicePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = None
    customer_facing: bool = True
    declared_share: float = Field(default=0.3, ge=0.0, le=1.0)
    features: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)


def _default_channels() -> dict[Severity, list[Channel]]:
    c = Channel
    return {
        Severity.P1: [c.email, c.inapp, c.statuspage, c.sms, c.social, c.slack, c.teams],
        Severity.P2: [c.email, c.inapp, c.statuspage, c.social, c.slack, c.teams],
        Severity.P3: [c.inapp, c.statuspage],
        Severity.P4: [c.statuspage],
    }


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: dict[str, ServicePolicy] = Field(default_factory=dict)
    channels: dict[Severity, list[Channel]] = Field(default_factory=_default_channels)
    enterprise_only_channels: list[Channel] = Field(default_factory=lambda: [Channel.sms])
    active_within_hours: int | None = None

    def service(self, name: str) -> ServicePolicy:
        return self.services.get(name, ServicePolicy())


class PolicyError(ValueError):
    """A policy file that can't be used; the message names the file and the key."""


def load_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read policy: {exc}") from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"{path}: {problems}") from exc

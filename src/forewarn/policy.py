"""The declarative policy: which services matter to customers, and who hears what, how often.

One validated pydantic model loaded once. Later stages (windowed rules, cadence, gates)
extend it; every field has a default so an empty file is a valid, conservative policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from forewarn.policy_drafting import GatePolicy, TonePolicy
from forewarn.policy_internal import InternalPolicy
from forewarn.policy_rules import RulesPolicy
from forewarn.schemas.models import Channel, IncidentKind, Severity
from forewarn.yaml_lines import compose, line_of


class ServicePolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = None
    customer_facing: bool = True
    declared_share: float = Field(default=0.3, ge=0.0, le=1.0)
    features: list[str] = Field(default_factory=list)
    #: Plans whose customers can use the service; empty means every plan.
    plans: list[str] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)


def _default_channels() -> dict[Severity, list[Channel]]:
    c = Channel
    return {
        Severity.P1: [c.email, c.inapp, c.statuspage, c.sms, c.social, c.slack, c.teams],
        Severity.P2: [c.email, c.inapp, c.statuspage, c.social, c.slack, c.teams],
        Severity.P3: [c.inapp, c.statuspage],
        Severity.P4: [c.statuspage],
    }


def _default_cadence() -> dict[Severity, int]:
    return {Severity.P1: 30, Severity.P2: 60, Severity.P3: 120, Severity.P4: 240}


class CadenceRule(BaseModel):
    """How often one customer may hear about one incident on one channel, for one category.

    A customer hears again only on news (a phase change or an escalation) or once the update
    promised last time is due, and never sooner than the severity's interval after the last
    message. An incident detection has flagged ``extended_outage`` (customer-visible, no ETA
    after ``rules.extended_outage_after``, 4 h by default) moves to the shorter
    ``extended_outage_every_minutes`` until an ETA is given. When an outage counts as extended
    is detection's rule alone, so there is no threshold here. Resolution notices always pass, even past
    ``max_per_channel``.
    """

    model_config = ConfigDict(extra="forbid")

    every_minutes: dict[Severity, PositiveInt] = Field(default_factory=_default_cadence)
    extended_outage_every_minutes: PositiveInt = 15
    max_per_channel: PositiveInt = 8
    #: Channels by severity for this category; None means the policy-wide ``channels``.
    channels: dict[Severity, list[Channel]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "extended_outage_after_minutes" in data:
            raise ValueError(
                "extended_outage_after_minutes is no longer a send_policy key: detection flags an"
                " extended outage after rules.extended_outage_after (default 4h), and the cadence follows that flag"
            )
        return data


class SendPolicy(BaseModel):
    """The cadence rule per incident category (kind): a category overrides the default key by key."""

    model_config = ConfigDict(extra="forbid")

    default: CadenceRule = Field(default_factory=CadenceRule)
    categories: dict[IncidentKind, CadenceRule] = Field(default_factory=dict)

    def rule(self, kind: IncidentKind) -> CadenceRule:
        override = self.categories.get(kind)
        if override is None:
            return self.default
        changes = override.model_dump(exclude_unset=True)
        if "every_minutes" in changes:
            changes["every_minutes"] = {**self.default.every_minutes, **override.every_minutes}
        return self.default.model_copy(update=changes)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: dict[str, ServicePolicy] = Field(default_factory=dict)
    channels: dict[Severity, list[Channel]] = Field(default_factory=_default_channels)
    enterprise_only_channels: list[Channel] = Field(default_factory=lambda: [Channel.sms])
    active_within_hours: int | None = None
    rules: RulesPolicy = Field(default_factory=RulesPolicy)
    send_policy: SendPolicy = Field(default_factory=SendPolicy)
    gates: GatePolicy = Field(default_factory=GatePolicy)
    tone: TonePolicy = Field(default_factory=TonePolicy)
    internal: InternalPolicy = Field(default_factory=InternalPolicy)

    def service(self, name: str) -> ServicePolicy:
        return self.services.get(name, ServicePolicy())


class PolicyError(ValueError):
    """A policy file that can't be used; the message names the file and the key."""


def load_policy(path: Path | None) -> Policy:
    if path is None:
        return Policy()
    try:
        text = path.read_text()
        data = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read policy: {exc}") from exc
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        root = compose(text)
        problems = []
        for e in exc.errors():
            line = line_of(root, e["loc"])
            where = f"line {line}: " if line else ""
            problems.append(f"{where}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}")
        raise PolicyError(f"{path}: {'; '.join(problems)}") from exc

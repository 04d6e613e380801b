"""The ``rules`` section of the policy: when metric windows and alerts become incidents.

Thresholds are per service with defaults; windows, hysteresis and the false-positive guard
are deployment-wide, because they describe how much evidence forewarn wants before it
speaks, not how a particular service behaves. Durations read as ``90s``, ``5m``, ``4h``,
``1h30m`` or plain seconds.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


def parse_duration(value: Any) -> Any:
    """``"1h30m"`` -> timedelta; anything else is left for pydantic (numbers, ISO 8601, timedelta)."""
    if isinstance(value, str):
        text = value.strip().lower()
        match = _DURATION.fullmatch(text)
        if text and match and any(match.groups()):
            seconds = sum(float(n) * _UNITS[u] for n, u in zip(match.groups(), "dhms", strict=True) if n)
            return timedelta(seconds=seconds)
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[Duration, Field(gt=timedelta(0))]


class Thresholds(BaseModel):
    """When one window of a service's metric is a breach. ``null`` switches a rule off.

    Metric samples carry fractions (``error_rate`` 0.072, ``availability`` 0.9991); the
    thresholds read in percent because that is how people write them.
    """

    model_config = ConfigDict(extra="forbid")

    error_rate_pct: float | None = Field(default=5.0, ge=0, le=100)
    latency_p99_ms: float | None = Field(default=1000.0, gt=0)
    availability_pct: float | None = Field(default=99.0, ge=0, le=100)
    #: At or beyond these a breach is a complete outage (P1 whatever the share).
    outage_availability_pct: float = Field(default=5.0, ge=0, le=100)
    outage_error_rate_pct: float = Field(default=95.0, ge=0, le=100)
    #: Availability below this makes the incident an SLA breach; unset, the strictest SLO of the
    #: plans the service serves (``rules.plan_slo_pct``) applies.
    slo_pct: float | None = Field(default=None, ge=0, le=100)


class MaintenanceRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: An overrun notice goes out this long before the (revised) end if work is still running.
    overrun_notice: PositiveDuration = timedelta(minutes=30)
    #: How far each overrun notice moves the end when the operator gave no new end.
    overrun_extension: PositiveDuration = timedelta(hours=1)
    #: Running this long past the planned end flags an SLA credit.
    sla_credit_after: PositiveDuration = timedelta(hours=2)
    #: A window nobody closed stops suppressing alerts this long after its planned end.
    suppress_at_most: PositiveDuration = timedelta(hours=12)
    #: How often (event time) detection reports the passing of time to a window's owner.
    tick: PositiveDuration = timedelta(minutes=1)


class DedupRules(BaseModel):
    """How long the dedup stage remembers which incident a PagerDuty ``dedup_key`` names.

    PagerDuty redelivers, and an acknowledge or resolve can come long after its trigger, so a
    route is kept while its incident may still hear from PagerDuty and for a while after the
    resolve: forgotten too soon, a late key-only resolve is dead-lettered instead of placed.
    Kept forever, the table grows by one entry per key. Times are the stage's wall clock (when
    it last used the route), not PagerDuty's: a key-only event carries no time of its own.
    """

    model_config = ConfigDict(extra="forbid")

    #: A resolved route unused this long is forgotten (late or duplicate resolves and acks
    #: within it are still placed; each use starts it again).
    resolved_grace: PositiveDuration = timedelta(hours=24)
    #: Any route unused this long is forgotten, resolved or not: PagerDuty auto-resolves or
    #: nobody resolved it, and nothing is coming for it any more.
    idle_max: PositiveDuration = timedelta(days=30)
    #: How often each worker looks through its partitions of the table for routes to forget; a
    #: route may outlive its time by this much.
    sweep_every: PositiveDuration = timedelta(minutes=15)

    @model_validator(mode="after")
    def _grace_within_idle(self) -> DedupRules:
        if self.resolved_grace > self.idle_max:
            raise ValueError(
                f"resolved_grace ({self.resolved_grace}) must not exceed idle_max ({self.idle_max}):"
                " a resolved route unused for idle_max goes anyway"
            )
        return self


class RulesPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: PositiveDuration = timedelta(seconds=60)
    step: PositiveDuration = timedelta(seconds=60)
    #: How late (event time) a metric sample may arrive and still count.
    grace: Duration = Field(default=timedelta(seconds=30), ge=timedelta(0))
    #: Hysteresis: consecutive breaching windows to open, consecutive clean ones to resolve.
    open_after: int = Field(default=2, ge=1)
    resolve_after: int = Field(default=3, ge=1)
    #: When every signal of a customer-visible incident cleared (alerts resolved, rules clean
    #: after ``resolve_after`` windows), it is ``monitoring`` for this long before it resolves; a
    #: signal coming back in that time returns it to its phase before. 0: resolve at once.
    monitor_for: Duration = Field(default=timedelta(0), ge=timedelta(0))
    #: False-positive guard: customers hear once evidence lasted this long or a second signal agrees.
    confirm_after: Duration = Field(default=timedelta(minutes=5), ge=timedelta(0))
    #: A critical explicit outage alert is confirmed at once.
    outage_alerts_confirm: bool = True
    #: Alerts of these severities are confirmed at once (their source applied its own minimum
    #: duration, e.g. a Prometheus rule's ``for:``). Empty: every alert waits for confirmation.
    confirmed_alert_severities: list[str] = Field(default_factory=list)
    #: An open, customer-visible incident with no ETA this long is flagged ``extended_outage``
    #: (executive note, pre-approved SLA credits); the cadence then tightens (``send_policy``).
    extended_outage_after: PositiveDuration = timedelta(hours=4)
    defaults: Thresholds = Field(default_factory=Thresholds)
    #: Per-service overrides of ``defaults``; only the keys written replace the default.
    services: dict[str, Thresholds] = Field(default_factory=dict)
    #: The availability each plan promises (percent), e.g. ``{enterprise: 99.95, pro: 99.9}``.
    plan_slo_pct: dict[str, Annotated[float, Field(ge=0, le=100)]] = Field(default_factory=dict)
    maintenance: MaintenanceRules = Field(default_factory=MaintenanceRules)
    dedup: DedupRules = Field(default_factory=DedupRules)

    @model_validator(mode="after")
    def _windows_tile(self) -> RulesPolicy:
        if self.step > self.window:
            raise ValueError(f"step ({self.step}) must not exceed window ({self.window})")
        if self.window % self.step:
            raise ValueError(f"window ({self.window}) must be a whole number of steps ({self.step})")
        if self.step.total_seconds() * 1000 % 1:
            raise ValueError("step must be a whole number of milliseconds")
        return self

    def thresholds(self, service: str, plans: list[str] | None = None) -> Thresholds:
        """The service's thresholds; ``plans`` (the plans it serves, empty: all) supply the SLO."""
        override = self.services.get(service)
        limits = self.defaults
        if override is not None:
            limits = limits.model_copy(update={k: getattr(override, k) for k in override.model_fields_set})
        if limits.slo_pct is None and self.plan_slo_pct:
            promised = [pct for plan, pct in self.plan_slo_pct.items() if not plans or plan in plans]
            if promised:
                limits = limits.model_copy(update={"slo_pct": max(promised)})
        return limits

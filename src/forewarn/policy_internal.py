"""Policy for the company's own side of an incident: who inside hears what, and how often.

Destinations (mail lists, webhooks) are deployment settings (``Settings.internal``); this
section holds the cadence, which is a company decision like the customer ``send_policy``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from forewarn.schemas.models import Severity


class InternalPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Severities whose incidents get an executive briefing while open.
    briefing_severities: list[Severity] = Field(default_factory=lambda: [Severity.P1])
    briefing_every_minutes: PositiveInt = 60
    #: Severities whose extended outages (detection's ``extended_outage`` flag: no ETA after
    #: ``rules.extended_outage_after``) draft the executive note to enterprise customers, held for approval.
    executive_note_severities: list[Severity] = Field(default_factory=lambda: [Severity.P1])
    #: Affected accounts listed per customer-table partition (enterprise first); the rest are counted.
    accounts_listed: PositiveInt = 200
    #: Enterprise accounts are listed past ``accounts_listed`` (each is owed an executive note),
    #: up to this many per partition: a partition's breakdown is one Kafka record and one table
    #: value, and a 1M-customer outage can touch tens of thousands of them. The rest are counted
    #: and the war room is told how many notes were not drafted.
    enterprise_listed_max: PositiveInt = 2000
    #: How long (event time) the war-room update waits for every partition's impact breakdown
    #: before it goes out with what has arrived.
    breakdown_wait_seconds: PositiveInt = 120
    #: How often the worker's clock ticks the internal side (hourly briefings, extended outages).
    tick_seconds: PositiveInt = 30

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "extended_outage_after_minutes" in data:
            raise ValueError(
                "extended_outage_after_minutes is no longer an internal key: the executive note follows"
                " detection's extended-outage flag, set after rules.extended_outage_after (default 4h)"
            )
        return data

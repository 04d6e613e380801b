"""Targeting without a broker, with ``report_suppressed`` on: every affected customer and channel
that cadence or a missing address held back leaves one pseudonymised audit row, sent and
acknowledged with its chunk, the list bounded per version with a count of the rest; off (the
default, and all production may run), nothing of the kind is sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from typing import Any

import pytest

from factories import T0, customer
from forewarn.config import Settings
from forewarn.policy import Policy
from forewarn.processors.ids import pseudonymise
from forewarn.processors.suppressed import ACTION, UNLISTED_ACTION, HeldBack
from forewarn.processors.target import plan_targeting
from forewarn.schemas.codec import encode
from forewarn.schemas.models import AuditRecord, Contacts, Incident, IncidentKind, Phase, Severity
from forewarn.streams import targeting as targeting_module
from forewarn.streams.changelog import MappingWrites
from forewarn.streams.targeting import Targeting

from .test_announce_unit import Sends
from .test_delivery_unit import FakeContext

POLICY = Policy.model_validate({"channels": {"P1": ["email", "inapp"]}, "gates": {"default": "never"}})


class Table(dict[bytes, bytes]):
    """The customers table: Faust's ``data`` is the store itself."""

    @property
    def data(self) -> Table:
        return self


class Message:
    def __init__(self, key: bytes, value: bytes, partition: int = 0) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = "t", partition, 0, key, value
        self.timestamp = T0.timestamp()


def version(number: int, minute: int, phase: Phase = Phase.investigating) -> Incident:
    at = T0 + timedelta(minutes=minute)
    return Incident(
        incident_id="inc-s",
        version=number,
        dedup_key="payments|eu-west|outage",
        title="Payments outage in EU-WEST",
        service="payments",
        region="eu-west",
        symptom="outage",
        phase=phase,
        severity=Severity.P1,
        kind=IncidentKind.regional_outage,
        change="opened" if number == 1 else "phase",
        opened_at=T0,
        updated_at=at,
        first_signal_at=T0,
        resolved_at=at if phase is Phase.resolved else None,
    )


async def staged(report: bool, customers: int = 2) -> tuple[Targeting, Sends]:
    ctx = FakeContext()
    ctx.policy = POLICY
    ctx.settings = Settings(dry_run=True, report_suppressed=report, partitions=1)
    table = Table()
    targeting = Targeting(ctx, table, {}, MappingWrites(table))  # type: ignore[arg-type]
    sends = Sends()
    targeting.out = sends  # type: ignore[assignment]
    for n in range(customers):
        # every odd customer has no e-mail address: unreachable there
        emails = [] if n % 2 else [f"ops@c{n}.example"]
        segment = customer(f"c{n}", contacts=Contacts(emails=emails, inapp_user_ids=["u1"]))
        await targeting.upsert_customers([Message(segment.customer_id.encode(), encode(segment))])
    return targeting, sends


async def target(targeting: Targeting, incident: Incident) -> None:
    (request,) = plan_targeting(incident, POLICY, 1)
    await targeting.target(Message(request.request_id.encode(), encode(request)))


def held_back(sends: Sends) -> Iterator[AuditRecord]:
    for topic, record in sends.sent:
        if topic == "audit" and isinstance(record, AuditRecord) and record.action == ACTION:
            yield record


def rows(sends: Sends) -> list[tuple[str | None, str | None, int | None, list[str]]]:
    return sorted((r.customer_ref, r.channel, r.incident_version, r.verdicts) for r in held_back(sends))


def ref(customer_id: str) -> str:
    return pseudonymise(customer_id, Settings().pseudonym_key)


async def test_cadence_and_missing_addresses_leave_one_row_each_per_version() -> None:
    targeting, sends = await staged(report=True)
    await target(targeting, version(1, 0))
    assert rows(sends) == [(ref("c1"), "email", 1, ["unreachable"])]
    first = len(sends.sent)
    await target(targeting, version(2, 5, Phase.identified))  # a phase change five minutes in: too soon
    assert [row for row in rows(sends) if row[2] == 2] == sorted(
        [
            (ref("c0"), "email", 2, ["within_cadence"]),
            (ref("c0"), "inapp", 2, ["within_cadence"]),
            (ref("c1"), "email", 2, ["unreachable"]),
            (ref("c1"), "inapp", 2, ["within_cadence"]),
        ]
    )
    assert not any(t.startswith("notify.") for t, _ in sends.sent[first:])  # and nothing was sent for it
    assert sends.acknowledged_at[-1] == len(sends.sent)  # the rows went out with the chunk's acknowledgement
    ids = [r.audit_id for r in held_back(sends)]
    assert len(set(ids)) == len(ids)  # one id per (version, customer, channel)
    second = sorted(r.audit_id for r in held_back(sends) if r.incident_version == 2)
    before = len(sends.sent)
    await target(targeting, version(2, 5, Phase.identified))  # redelivered: the same rows again, same ids
    again = [r for t, r in sends.sent[before:] if isinstance(r, AuditRecord) and r.action == ACTION]
    assert sorted(r.audit_id for r in again) == second


async def test_over_the_cap_the_rest_are_counted_per_verdict() -> None:
    original = targeting_module.HeldBack
    targeting_module.HeldBack = partial(HeldBack, cap=2)  # type: ignore[misc]
    try:
        targeting, sends = await staged(report=True, customers=4)
        await target(targeting, version(1, 0))
        await target(targeting, version(2, 5, Phase.identified))
    finally:
        targeting_module.HeldBack = original  # type: ignore[misc]
    listed = [r for r in held_back(sends) if r.incident_version == 2]
    summaries = [r for t, r in sends.sent if isinstance(r, AuditRecord) and r.action == UNLISTED_ACTION]
    assert len(listed) == 2
    (summary,) = summaries
    # 4 customers × 2 channels held back in v2: 6 too soon + 2 unreachable, two of them listed
    assert summary.incident_version == 2 and summary.detail["count"] == "6"
    listed_verdicts = [v for r in listed for v in r.verdicts]
    assert int(summary.detail.get("count_within_cadence", "0")) + listed_verdicts.count("within_cadence") == 6
    assert int(summary.detail.get("count_unreachable", "0")) + listed_verdicts.count("unreachable") == 2


async def test_off_by_default_nothing_is_recorded() -> None:
    targeting, sends = await staged(report=False)
    await target(targeting, version(1, 0))
    await target(targeting, version(2, 5, Phase.identified))
    assert list(held_back(sends)) == []
    assert all(getattr(r, "action", "") != UNLISTED_ACTION for _, r in sends.sent)


def test_the_setting_is_refused_outside_a_dry_run() -> None:
    with pytest.raises(ValueError, match="FOREWARN_REPORT_SUPPRESSED needs FOREWARN_DRY_RUN"):
        Settings(report_suppressed=True)
    env: dict[str, Any] = {"FOREWARN_DRY_RUN": "true", "FOREWARN_REPORT_SUPPRESSED": "true"}
    settings = Settings.from_env(env)
    assert settings.report_suppressed and Settings.from_env(settings.to_env()).report_suppressed
    assert not Settings.from_env({}).report_suppressed

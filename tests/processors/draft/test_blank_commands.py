"""``BlankCommands`` copies one validated command per channel: each is what ``command_for`` builds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from factories import customer
from forewarn.processors.draft import BlankCommands, Draft, command_for, template_for
from forewarn.schemas.codec import encode
from forewarn.schemas.models import Channel, Contacts, Incident, IncidentKind, Phase, Severity

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
INCIDENT = Incident(
    incident_id="inc-1", version=3, dedup_key="payments|eu-west|outage", title="Payments outage",
    service="payments", region="eu-west", symptom="outage", phase=Phase.identified, severity=Severity.P1,
    kind=IncidentKind.regional_outage, change="phase", opened_at=T0, updated_at=T0, first_signal_at=T0,
)  # fmt: skip
READERS = [
    customer("c1"),
    customer("c2", timezone="Europe/Berlin", language="de"),
    customer("c3", enterprise=True, contacts=Contacts(emails=["a@c3.example", "b@c3.example"], slack_webhook="https://hooks.example/x")),
    customer("c4", contacts=Contacts()),
]  # fmt: skip


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("channel", [Channel.email, Channel.sms, Channel.inapp, Channel.slack])
def test_each_reader_gets_what_command_for_builds(channel: Channel, dry_run: bool) -> None:
    blanks = BlankCommands(INCIDENT, now=T0, dry_run=dry_run)
    blank = Draft(template_for(INCIDENT), None, "", None)
    for reader in READERS:  # the first builds, the rest copy it
        made = blanks(reader, channel)
        expected = command_for(INCIDENT, reader, channel, blank, now=T0, dry_run=dry_run)
        assert made == expected
        assert made.model_fields_set == expected.model_fields_set
        assert encode(made) == encode(expected)


def test_channels_do_not_share_a_first_command() -> None:
    blanks = BlankCommands(INCIDENT, now=T0, dry_run=False)
    email, sms = blanks(READERS[0], Channel.email), blanks(READERS[0], Channel.sms)
    assert (email.channel, sms.channel) == (Channel.email, Channel.sms)
    assert email.notification_id != sms.notification_id
    assert email.recipients == ["ops@c1.example"] and sms.recipients == ["+4915112345678"]

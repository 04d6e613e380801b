"""The "drafted" audit rows of a run of commands: copies of the run's first, each the row a fresh build makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import command
from forewarn.processors.audit import AuditTrail
from forewarn.schemas.codec import encode
from forewarn.schemas.models import Channel, DraftSource, Phase

T0 = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)


def test_every_row_of_a_mixed_run_is_what_a_fresh_build_makes() -> None:
    trail = AuditTrail("key")
    base = command()
    commands = [
        (base.replaced(notification_id=f"ntf_{i}", customer_id=f"c{i}", channel=channel, language=lang), T0)
        for i, (channel, lang) in enumerate([(Channel.email, "en"), (Channel.sms, "de"), (Channel.inapp, "fr")])
    ]
    commands += [
        (base.replaced(notification_id="ntf_m", draft_source=DraftSource.model, template="outage"), T0),
        (base.replaced(notification_id="ntf_v", incident_version=2), T0),  # another version: a new run
        (base.replaced(notification_id="ntf_p", phase=Phase.monitoring), T0),
        (base.replaced(notification_id="ntf_t"), T0 + timedelta(seconds=1)),  # another time
        (base.replaced(notification_id="ntf_1", customer_id="c1"), T0),  # back to the first run's values
    ]
    for cmd, now in commands:
        row = trail.command(cmd, now)
        fresh = AuditTrail("key")._drafted_row(cmd, now)
        assert row == fresh
        assert encode(row) == encode(fresh)
    assert trail.command(commands[0][0], T0).recorded_at == T0.replace(microsecond=123000)  # validated once: ms


def test_the_pseudonym_is_the_trails_own_key() -> None:
    cmd = command()
    first, other = AuditTrail("key-a"), AuditTrail("key-b")
    first.command(cmd, T0)
    assert first.command(cmd.replaced(notification_id="n2"), T0).customer_ref != other.command(cmd, T0).customer_ref

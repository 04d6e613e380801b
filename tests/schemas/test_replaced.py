"""``Record.replaced`` is ``model_copy(update=...)`` made cheap: the same record, the same bytes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from factories import command, customer
from forewarn.processors.audit import AuditTrail
from forewarn.schemas.codec import decode, encode
from forewarn.schemas.models import Channel, DraftSource, NotificationCommand

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_a_command_with_new_words_is_what_model_copy_makes() -> None:
    base = command()
    changes = {
        "subject": "Payments degraded",
        "text": "Dear Acme, ...",
        "html": "<p>Dear Acme</p>",
        "language": "de",
        "template": "degradation",
        "draft_source": DraftSource.model,
        "recipients": ["ops@acme.test"],
        "metadata": {"reader_timezone": "Europe/Berlin"},
    }
    fast, slow = base.replaced(**changes), base.model_copy(update=changes)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set
    assert encode(fast) == encode(slow)
    assert decode(encode(fast), NotificationCommand) == slow
    assert base.text != fast.text  # the original is untouched


def test_an_audit_record_and_a_segment_too() -> None:
    audit = AuditTrail("k").command(command(), NOW)
    detail = {**audit.detail, "model_outcome": "fallback"}
    assert encode(audit.replaced(detail=detail)) == encode(audit.model_copy(update={"detail": detail}))
    segment = customer("cus-1")
    assert segment.replaced(regions=["us-east"]) == segment.model_copy(update={"regions": ["us-east"]})


def test_the_copy_stays_frozen() -> None:
    fast = command().replaced(channel=Channel.sms)
    with pytest.raises(ValidationError):
        fast.text = "changed"  # type: ignore[misc]


def test_an_unknown_field_is_an_error_not_a_silent_extra() -> None:
    with pytest.raises(TypeError, match="NotificationCommand has no field bogus"):
        command().replaced(bogus=1)

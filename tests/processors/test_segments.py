import pytest

from factories import T0
from forewarn.processors.deadletter import Rejected
from forewarn.processors.segments import segment_from_row, unwrap_debezium

ROW = {
    "customer_id": "c1",
    "account_name": "Acme",
    "plan": "pro",
    "regions": "eu-west;us-east",
    "language": "de",
    "timezone": "Europe/Berlin",
    "emails": "ops@acme.example",
    "phones": "+4915112345678",
}


def test_flat_csv_style_row() -> None:
    seg = segment_from_row(ROW, T0)
    assert seg.regions == ["eu-west", "us-east"]
    assert seg.contacts.emails == ["ops@acme.example"]
    assert seg.updated_at == T0


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("plan", "platinum", "plan 'platinum'"),
        ("emails", "not-an-address", "malformed email"),
        ("phones", "0151-123", "malformed phone"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("language", "tlh", "language 'tlh'"),
        ("customer_id", "", "customer_id: missing"),
    ],
)
def test_bad_rows_are_rejected_with_the_reason(field: str, value: str, fragment: str) -> None:
    with pytest.raises(Rejected, match=fragment):
        segment_from_row({**ROW, field: value}, T0)


def test_debezium_envelope() -> None:
    assert unwrap_debezium({"payload": {"op": "u", "before": None, "after": ROW}}) == ("upsert", ROW)
    assert unwrap_debezium({"payload": {"op": "d", "before": ROW, "after": None}})[0] == "delete"
    assert unwrap_debezium(ROW) == ("upsert", ROW)

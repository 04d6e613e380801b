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


def test_nested_contacts_and_last_active_and_enterprise_plan() -> None:
    row = {
        **ROW,
        "plan": "enterprise",
        "contacts": {"emails": ["a@acme.example"], "slack_webhook": "https://hooks.slack.com/T1"},
        "last_active": "payments=2026-11-23T08:00:00Z;reports=2026-11-20T08:00:00Z",
    }
    seg = segment_from_row(row, T0)
    assert seg.enterprise and seg.contacts.slack_webhook == "https://hooks.slack.com/T1"
    assert seg.last_active["payments"].hour == 8


def test_webhook_must_be_https() -> None:
    with pytest.raises(Rejected, match="slack_webhook"):
        segment_from_row({**ROW, "slack_webhook": "http://hooks.example/x"}, T0)


def test_debezium_unsupported_op_is_rejected() -> None:
    with pytest.raises(Rejected, match="op 't'"):
        unwrap_debezium({"payload": {"op": "t", "before": None, "after": None}})


# ---- records of the customers topic: Avro, JSON rows, Debezium envelopes, tombstones ----

import json  # noqa: E402

from factories import command, customer  # noqa: E402
from forewarn.processors.segments import customer_id_from_key, read_fields, table_entry  # noqa: E402
from forewarn.schemas.codec import decode, encode  # noqa: E402
from forewarn.schemas.models import CustomerSegment  # noqa: E402


def envelope(op: str, before: object, after: object, ts_ms: int = 1_795_000_000_000) -> bytes:
    return json.dumps({"schema": {}, "payload": {"op": op, "before": before, "after": after, "ts_ms": ts_ms}}).encode()


def test_avro_record_is_stored_as_it_came_and_checked_like_a_row() -> None:
    stored = encode(customer("c1"))
    entry = table_entry(b"c1", stored, T0)
    assert entry.stored == stored and entry.fields == read_fields(stored)
    assert entry.fields is not None and entry.fields["contacts"]["emails"] == ["ops@c1.example"]
    with pytest.raises(Rejected, match="plan 'platinum'"):
        table_entry(b"c1", encode(customer("c1", plan="platinum")), T0)
    with pytest.raises(Rejected, match="malformed phone"):
        table_entry(b"c1", encode(customer("c1", contacts={"phones": ["12"]})), T0)
    with pytest.raises(Rejected) as garbage:
        table_entry(b"c1", encode(customer("c1"))[:12], T0)
    assert garbage.value.error_type == "undecodable"
    with pytest.raises(Rejected, match=r"expected io\.forewarn\.CustomerSegment") as other:
        table_entry(b"c1", encode(command()), T0)
    assert other.value.error_type == "wrong_type"


def test_debezium_json_envelope_on_the_topic() -> None:
    key = json.dumps({"schema": {}, "payload": {"customer_id": "c1"}}).encode()
    entry = table_entry(key, envelope("u", None, ROW), T0)
    assert entry.customer_id == "c1" and entry.stored is not None
    segment = decode(entry.stored, CustomerSegment)  # stored as the Avro segment it describes
    assert segment.regions == ["eu-west", "us-east"]
    assert segment.updated_at.year == 2026 and segment.updated_at != T0  # the change's own ts_ms
    deleted = table_entry(key, envelope("d", ROW, None), T0)
    assert (deleted.customer_id, deleted.stored) == ("c1", None)
    with pytest.raises(Rejected, match="malformed email"):
        table_entry(key, envelope("c", None, {**ROW, "emails": "nope"}), T0)


def test_plain_json_row_tombstone_and_mismatched_key() -> None:
    assert table_entry(b"c1", json.dumps(ROW).encode(), T0).stored is not None
    assert table_entry(b"c1", None, T0) == table_entry(b'{"customer_id": "c1"}', None, T0)
    with pytest.raises(Rejected, match="does not match"):
        table_entry(b"c2", json.dumps(ROW).encode(), T0)
    with pytest.raises(Rejected, match="does not match"):
        table_entry(b"c2", encode(customer("c1")), T0)
    with pytest.raises(Rejected, match="not JSON"):
        table_entry(b"c1", b"{not json", T0)


def test_customer_id_from_key() -> None:
    assert customer_id_from_key(b"c1") == "c1"
    assert customer_id_from_key(b'{"id": 42}') == "42"
    with pytest.raises(Rejected, match="names no customer_id"):
        customer_id_from_key(b'{"a": 1, "b": 2}')
    with pytest.raises(Rejected, match="not UTF-8"):
        customer_id_from_key(b"\xff\xfe")

"""The index-row reader agrees with fastavro + ``row_of_fields`` on every stored segment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from factories import customer
from forewarn.demo.population import population
from forewarn.processors.segment_rows import RowReader, names
from forewarn.processors.segments import SEGMENT_HEADER, read_fields
from forewarn.processors.target import row_of_fields
from forewarn.schemas.codec import DecodeError, encode
from forewarn.schemas.models import Contacts, CustomerSegment

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ENTERPRISE_CONTACTS = Contacts(
    emails=["a@b.example"],
    phones=["+4915112345678"],
    slack_webhook="https://hooks.slack.com/x",
    teams_webhook="https://teams.example/y",
    inapp_user_ids=["u1", "u2"],
)


def expected(value: bytes) -> object:
    return row_of_fields(read_fields(value))


def expected_names(value: bytes) -> tuple[str, str]:
    fields = read_fields(value)
    return fields["account_name"], fields["language"]


def test_agrees_on_a_synthetic_population() -> None:
    reader = RowReader()
    for segment in population(3000, T0):
        value = encode(segment)
        assert reader.row(value) == expected(value)
        assert names(value) == expected_names(value)


@pytest.mark.parametrize(
    "segment",
    [
        customer("dups", regions=("us-east", "eu-west", "eu-west"), features=["search", "api", "search"]),
        customer("none", regions=(), features=[], last_active={}),
        customer("ent", plan="enterprise", enterprise=True, contacts=ENTERPRISE_CONTACTS),
        customer("empty-hook", contacts=Contacts(slack_webhook="", teams_webhook="")),
        customer("ü" * 80, account_name="Ärger " * 40, regions=("région-" + "x" * 70,), features=["f" * 200]),
        customer(
            "active",
            last_active={"a": T0 - timedelta(days=3), "b": T0 + timedelta(milliseconds=999), "c": T0},
        ),
        customer("old", last_active={"a": datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=UTC)}),
    ],
    ids=lambda s: s.customer_id[:10],
)
def test_agrees_on_edge_cases(segment: CustomerSegment) -> None:
    value = encode(segment)
    assert RowReader().row(value) == expected(value)
    assert names(value) == expected_names(value) == (segment.account_name, segment.language)


def _long(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _str(s: str) -> bytes:
    data = s.encode()
    return _long(len(data)) + data


def _sized_block(items: list[str]) -> bytes:
    """An array in one block with a negative count and its byte size (other writers do this)."""
    body = b"".join(_str(i) for i in items)
    return _long(-len(items)) + _long(len(body)) + body + b"\x00"


def test_reads_blocks_with_byte_sizes() -> None:
    value = (
        SEGMENT_HEADER
        + _str("sized") + _str("Sized") + _str("pro") + b"\x01"
        + _sized_block(["us-east", "eu-west"]) + _sized_block(["api"])
        + _str("en") + _str("UTC")
        + _sized_block(["a@b.example"]) + _sized_block([]) + b"\x02" + _str("https://h.example") + b"\x00"
        + _sized_block(["u"])
        + _long(-1) + _long(9) + _str("api") + _long(1_700_000_000_123)
        + b"\x00" + b"\x00" + _long(1_700_000_000_000)
    )  # fmt: skip
    assert RowReader().row(value) == expected(value)
    assert names(value) == ("Sized", "en")


def test_undecodable_values_get_fastavro_s_verdict() -> None:
    value = encode(customer("cut"))
    for broken in (value[:20], SEGMENT_HEADER + b"\xff\xff", b"\x00\x00\x00\x00\x04\xff\xff"):
        with pytest.raises(DecodeError):
            RowReader().row(broken)
        with pytest.raises(DecodeError):
            names(broken)

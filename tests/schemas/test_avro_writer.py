"""The compiled Avro writer on schema shapes the contracts don't all show, and where it gives way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from io import BytesIO
from typing import Any

import fastavro
import pytest

from forewarn.schemas.avro_writer import compile_writer


def fastavro_bytes(parsed: dict[str, Any], datum: Any) -> bytes:
    out = BytesIO()
    fastavro.schemaless_writer(out, parsed, datum)
    return out.getvalue()


class Colour(str, Enum):  # noqa: UP042 - the models' enums are str mixins
    RED = "red"  # members whose names are not their values
    DARK_BLUE = "dark_blue"


SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "Shape",
        "fields": [
            {"name": "label", "type": "string"},
            {"name": "note", "type": ["string", "null"]},  # null second
            {"name": "count", "type": "long"},
            {"name": "small", "type": "int"},
            {"name": "ratio", "type": "double"},
            {"name": "single", "type": "float"},
            {"name": "raw", "type": "bytes"},
            {"name": "ok", "type": "boolean"},
            {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["red", "dark_blue"]}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "maybe_at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "labels", "type": {"type": "map", "values": "long"}},
            {
                "name": "inner",
                "type": ["null", {"type": "record", "name": "Inner", "fields": [{"name": "c", "type": "Colour"}]}],
            },
            {"name": "inners", "type": {"type": "array", "items": "Inner"}},
            {"name": "defaulted", "type": "string", "default": "dflt"},
        ],
    }
)

DATUM: dict[str, Any] = {
    "label": "é" * 70,  # a length past one varint byte
    "note": None,
    "count": -(2**63),
    "small": 2**31 - 1,
    "ratio": -0.1,
    "single": 1.5,
    "raw": b"\x00\xff",
    "ok": True,
    "colour": Colour.DARK_BLUE,
    "at": datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=-5))),
    "maybe_at": datetime(2026, 12, 2, 13, 0, 0, 123_456, tzinfo=UTC),
    "tags": ["a", "b"],
    "labels": {"x": 1, "y": 2**40},
    "inner": {"c": "red"},
    "inners": [{"c": Colour.RED}, {"c": "dark_blue"}],
}


def test_every_shape_is_written_as_fastavro_writes_it() -> None:
    writer = compile_writer(SCHEMA)
    assert writer is not None
    assert writer(DATUM) == fastavro_bytes(SCHEMA, DATUM)


def test_empty_and_absent_values_too() -> None:
    datum = {**DATUM, "note": "n", "maybe_at": None, "tags": [], "labels": {}, "inner": None, "inners": []}
    writer = compile_writer(SCHEMA)
    assert writer is not None
    assert writer(datum) == fastavro_bytes(SCHEMA, datum)
    datum.pop("note")  # fastavro: a missing nullable field is null
    assert writer(datum) == fastavro_bytes(SCHEMA, datum)


def test_the_same_instant_in_any_zone_is_the_same_bytes_after_the_cache_has_it() -> None:
    writer = compile_writer(SCHEMA)
    assert writer is not None
    utc = datetime(2026, 12, 2, 13, 0, 0, 5000, tzinfo=UTC)
    shifted = utc.astimezone(timezone(timedelta(hours=9)))
    expected = fastavro_bytes(SCHEMA, {**DATUM, "at": shifted})
    assert writer({**DATUM, "at": utc}) == writer({**DATUM, "at": shifted}) == expected


def test_the_header_comes_first() -> None:
    writer = compile_writer(SCHEMA, b"\x00\x00\x00\x00\x07")
    assert writer is not None
    assert writer(DATUM) == b"\x00\x00\x00\x00\x07" + fastavro_bytes(SCHEMA, DATUM)


def test_a_value_outside_the_enum_is_an_error_not_a_wrong_index() -> None:
    writer = compile_writer(SCHEMA)
    assert writer is not None
    with pytest.raises(ValueError, match="'green' is not a symbol of enum Colour"):
        writer({**DATUM, "colour": "green"})


@pytest.mark.parametrize(
    "field_type",
    [
        ["null", "string", "long"],
        {"type": "fixed", "name": "F", "size": 4},
        {"type": "int", "logicalType": "date"},
    ],
    ids=["wide union", "fixed", "other logical type"],
)
def test_what_it_does_not_compile_is_left_to_fastavro(field_type: Any) -> None:
    schema = fastavro.parse_schema({"type": "record", "name": "R", "fields": [{"name": "f", "type": field_type}]})
    assert compile_writer(schema) is None

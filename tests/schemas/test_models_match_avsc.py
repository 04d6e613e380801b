"""The pydantic models and the Avro contracts must never drift apart.

The ``.avsc`` files are what other teams code against; the models are what our code checks
against. If they disagree, records that validate here fail to encode (or decode into
something the contract never promised), so every field is compared, recursively.
"""

from __future__ import annotations

import json
import types
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from annotated_types import Ge, Le
from pydantic import AfterValidator, BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from forewarn.schemas import codec
from forewarn.schemas.models import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    MODELS,
    Contacts,
    CustomerSegment,
    DeadLetter,
    ObservabilityEvent,
    RawSignal,
    Record,
    UtcDatetime,
    as_utc,
)

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
REGISTRY = json.loads((SCHEMA_DIR / "registry.json").read_text(encoding="utf-8"))["schemas"]

_PLAIN = {"string": str, "double": float, "float": float, "boolean": bool, "bytes": bytes}
_INT_RANGES = {"int": (INT32_MIN, INT32_MAX), "long": (INT64_MIN, INT64_MAX)}


# -- the checker ------------------------------------------------------------------------


def mismatches(model: type[BaseModel], record: dict[str, Any], named: dict[str, Any]) -> list[str]:
    """Every way ``model`` differs from the parsed Avro ``record``; empty when they agree.

    Each message starts with ``Model.field`` so a failing build says where to look.
    """
    where = model.__name__
    problems = []
    if record["name"].rpartition(".")[2] != model.__name__:
        problems.append(f"{where}: mirrors Avro record {record['name']} under another name")
    avro_fields = {f["name"]: f for f in record["fields"]}
    for name in sorted(avro_fields.keys() - model.model_fields.keys()):
        problems.append(f"{where}.{name}: in Avro, missing from the model")
    for name in sorted(model.model_fields.keys() - avro_fields.keys()):
        problems.append(f"{where}.{name}: in the model, not in Avro")
    for name in [n for n in avro_fields if n in model.model_fields]:
        avro_field, field = avro_fields[name], model.model_fields[name]
        problems += _default_mismatches(f"{where}.{name}", avro_field, field)
        annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        problems += _type_mismatches(f"{where}.{name}", avro_field["type"], annotation, named)
    return problems


def _default_mismatches(where: str, avro_field: dict[str, Any], field: FieldInfo) -> list[str]:
    if "default" not in avro_field:
        return [] if field.is_required() else [f"{where}: model has a default, Avro has none"]
    if field.is_required():
        return [f"{where}: Avro default {avro_field['default']!r}, model has no default"]
    ours = _as_avro_json(field.get_default(call_default_factory=True))
    if ours != avro_field["default"]:
        return [f"{where}: Avro default {avro_field['default']!r}, model default {ours!r}"]
    return []


def _as_avro_json(value: Any) -> Any:
    """A Python default written the way an ``.avsc`` writes it, so the two compare equal."""
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1, tzinfo=UTC)) // (datetime.resolution * 1000)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, BaseModel):
        return _as_avro_json(dict(value))
    if isinstance(value, list):
        return [_as_avro_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_avro_json(v) for k, v in value.items()}
    return value


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """The bare type and its constraints/validators, however pydantic nested them."""
    metadata: list[Any] = []
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata += item.metadata if isinstance(item, FieldInfo) else [item]
    return annotation, metadata


def _describe(annotation: Any) -> str:
    bare, _ = _unwrap(annotation)
    if bare is type(None):
        return "None"
    if get_origin(bare) in (Union, types.UnionType):
        return " | ".join(_describe(arg) for arg in get_args(bare))
    if get_origin(bare) is None and isinstance(bare, type):
        return bare.__name__
    return repr(bare)


def _describe_avro(avro: Any) -> str:
    if isinstance(avro, dict):
        return str(avro.get("logicalType") or avro.get("name") or avro["type"])
    return str(avro)


def _type_mismatches(where: str, avro: Any, annotation: Any, named: dict[str, Any]) -> list[str]:
    if isinstance(avro, str) and avro in named:
        avro = named[avro]
    python, metadata = _unwrap(annotation)
    optional_model = get_origin(python) in (Union, types.UnionType) and type(None) in get_args(python)

    if isinstance(avro, list):
        branches = [b for b in avro if b != "null"]
        if len(branches) != 1:
            return [f"{where}: Avro union {avro} has no model equivalent this check knows"]
        if "null" in avro and not optional_model:
            return [f"{where}: optional in Avro (union with null), model type {_describe(python)} is not"]
        rest = [a for a in get_args(python) if a is not type(None)] if optional_model else [python]
        if len(rest) != 1:
            return [f"{where}: Avro {branches[0]!r}, model union {_describe(python)}"]
        return _type_mismatches(where, branches[0], rest[0], named)
    if optional_model:
        return [f"{where}: model type {_describe(python)} is optional, Avro {_describe_avro(avro)} is not"]

    kind = avro["type"] if isinstance(avro, dict) else avro
    logical = avro.get("logicalType") if isinstance(avro, dict) else None
    if logical == "timestamp-millis":
        if python is not datetime:
            return [f"{where}: Avro timestamp-millis, model type {_describe(python)}"]
        if not any(isinstance(m, AfterValidator) and m.func is as_utc for m in metadata):
            return [f"{where}: timestamp-millis as a bare datetime; use UtcDatetime so it is UTC milliseconds"]
        return []
    if logical is not None:
        return [f"{where}: Avro logical type {logical!r} has no model equivalent this check knows"]
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        if python is not int:
            return [f"{where}: Avro {kind}, model type {_describe(python)}"]
        bounds = (
            max((m.ge for m in metadata if isinstance(m, Ge)), default=None),
            min((m.le for m in metadata if isinstance(m, Le)), default=None),
        )
        if bounds != (low, high):
            return [f"{where}: Avro {kind} holds {low}..{high}, model int bounds {bounds}"]
        return []
    if kind in _PLAIN:
        expected = _PLAIN[kind]
        return [] if python is expected else [f"{where}: Avro {kind}, model type {_describe(python)}"]
    if kind == "enum":
        return _enum_mismatches(where, avro, python)
    if kind == "array":
        if get_origin(python) is not list:
            return [f"{where}: Avro array, model type {_describe(python)}"]
        return _type_mismatches(f"{where}[]", avro["items"], get_args(python)[0], named)
    if kind == "map":
        if get_origin(python) is not dict or get_args(python)[0] is not str:
            return [f"{where}: Avro map, model type {_describe(python)} (want dict[str, ...])"]
        return _type_mismatches(f"{where}{{}}", avro["values"], get_args(python)[1], named)
    if kind == "record":
        if not (isinstance(python, type) and issubclass(python, BaseModel)):
            return [f"{where}: Avro record {avro['name']}, model type {_describe(python)}"]
        return [f"{where} -> {problem}" for problem in mismatches(python, avro, named)]
    return [f"{where}: Avro type {kind!r} has no model equivalent this check knows"]


def _enum_mismatches(where: str, avro: dict[str, Any], python: Any) -> list[str]:
    if not (isinstance(python, type) and issubclass(python, StrEnum)):
        return [f"{where}: Avro enum {avro['name']}, model type {_describe(python)} (want a StrEnum)"]
    problems = []
    if avro["name"].rpartition(".")[2] != python.__name__:
        problems.append(f"{where}: Avro enum {avro['name']}, model enum {python.__name__}")
    ours = [member.value for member in python]
    if ours != avro["symbols"]:
        problems.append(f"{where}: Avro enum {avro['name']} symbols {avro['symbols']}, {python.__name__} has {ours}")
    return problems


# -- the contract holds -----------------------------------------------------------------


def test_registry_and_models_name_the_same_records() -> None:
    assert [item["name"] for item in REGISTRY] == list(MODELS)


@pytest.mark.parametrize("name", [item["name"] for item in REGISTRY])
def test_model_matches_its_avro_record(name: str) -> None:
    model = MODELS[name]
    parsed = codec.parsed_schema(model)
    assert parsed["name"] == name
    problems = mismatches(model, parsed, parsed["__named_schemas"])
    assert not problems, "\n".join(problems)


def test_codec_reads_the_repo_schemas() -> None:
    """An editable install must see edits to ``schemas/`` rather than a stale packaged copy."""
    assert codec.schema_dir() == SCHEMA_DIR


# -- the checker can fail ---------------------------------------------------------------


def _drifted(model: type[Record], *, drop: str = "", **changes: Any) -> type[BaseModel]:
    """A copy of ``model`` under the same name with fields dropped, replaced or added."""
    fields: dict[str, Any] = {
        name: (field.rebuild_annotation(), field) for name, field in model.model_fields.items() if name != drop
    }
    fields.update(changes)
    drifted: type[BaseModel] = create_model(model.__name__, __base__=Record, **fields)
    return drifted


def _check(model: type[BaseModel], like: type[Record]) -> list[str]:
    parsed = codec.parsed_schema(like)
    return mismatches(model, parsed, parsed["__named_schemas"])


class SignalStatus(StrEnum):
    firing = "firing"
    resolved = "resolved"


def test_an_unchanged_copy_passes() -> None:
    """Guards the drift cases below: each must fail for its change, not for the copying."""
    for model in MODELS.values():
        assert _check(_drifted(model), model) == []


@pytest.mark.parametrize(
    ("model", "drift", "expected"),
    [
        (RawSignal, {"drop": "origin"}, "RawSignal.origin: in Avro, missing from the model"),
        (RawSignal, {"note": (str, "")}, "RawSignal.note: in the model, not in Avro"),
        (RawSignal, {"body": (str, ...)}, "RawSignal.body: Avro bytes, model type str"),
        (
            RawSignal,
            {"origin": (str, None)},
            "RawSignal.origin: optional in Avro (union with null), model type str is not",
        ),
        (
            RawSignal,
            {"source": (str | None, ...)},
            "RawSignal.source: model type str | None is optional, Avro string is not",
        ),
        (
            RawSignal,
            {"content_type": (str, "text/plain")},
            "RawSignal.content_type: Avro default 'application/json', model default 'text/plain'",
        ),
        (
            RawSignal,
            {"content_type": (str, ...)},
            "RawSignal.content_type: Avro default 'application/json', model has no default",
        ),
        (RawSignal, {"source": (str, "alertmanager")}, "RawSignal.source: model has a default, Avro has none"),
        (
            RawSignal,
            {"received_at": (datetime, ...)},
            "RawSignal.received_at: timestamp-millis as a bare datetime; use UtcDatetime so it is UTC milliseconds",
        ),
        (
            DeadLetter,
            {"partition": (int, ...)},
            f"DeadLetter.partition: Avro int holds {INT32_MIN}..{INT32_MAX}, model int bounds (None, None)",
        ),
        (
            DeadLetter,
            {"offset": (Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)], ...)},
            f"DeadLetter.offset: Avro long holds {INT64_MIN}..{INT64_MAX}, model int bounds ({INT32_MIN}, {INT32_MAX})",
        ),
        (
            ObservabilityEvent,
            {"status": (SignalStatus, ...)},
            "ObservabilityEvent.status: Avro enum io.forewarn.SignalStatus symbols "
            "['firing', 'acknowledged', 'resolved'], SignalStatus has ['firing', 'resolved']",
        ),
        (
            ObservabilityEvent,
            {"flags": (set[str], Field(default_factory=list))},
            "ObservabilityEvent.flags: Avro array, model type set[str]",
        ),
        (
            ObservabilityEvent,
            {"labels": (dict[str, int], {})},
            "ObservabilityEvent.labels{}: Avro string, model type int",
        ),
        (
            CustomerSegment,
            {"contacts": (_drifted(Contacts, drop="phones"), ...)},
            "CustomerSegment.contacts -> Contacts.phones: in Avro, missing from the model",
        ),
        (
            CustomerSegment,
            {"last_active": (dict[str, datetime], {})},
            "CustomerSegment.last_active{}: timestamp-millis as a bare datetime; use UtcDatetime so it is UTC "
            "milliseconds",
        ),
        (
            CustomerSegment,
            {"last_active": (dict[str, UtcDatetime | None], {})},
            "CustomerSegment.last_active{}: model type datetime | None is optional, Avro timestamp-millis is not",
        ),
    ],
)
def test_the_checker_reports_drift(model: type[Record], drift: dict[str, Any], expected: str) -> None:
    assert _check(_drifted(model, **drift), model) == [expected]


def test_the_checker_reports_a_renamed_nested_record() -> None:
    renamed = create_model(
        "ContactDetails", __base__=Record, **{n: (f.rebuild_annotation(), f) for n, f in Contacts.model_fields.items()}
    )
    problems = _check(_drifted(CustomerSegment, contacts=(renamed, ...)), CustomerSegment)
    assert problems == [
        "CustomerSegment.contacts -> ContactDetails: mirrors Avro record io.forewarn.Contacts under another name"
    ]

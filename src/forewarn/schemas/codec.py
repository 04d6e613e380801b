"""Records on the wire: Confluent framing around schemaless Avro, checked against the models.

A record is ``0x00`` + the 4-byte big-endian schema id from ``schemas/registry.json`` + the
Avro body, so consumers outside forewarn (or a Schema Registry later) read it without us.
Every schema is parsed once, on first use; decoding is one dict lookup, one call of the schema's
compiled reader (``avro_reader``; fastavro judges whatever it does not vouch for) and one pydantic
validation, skipped for flat records it could not change (``_plain``); encoding one call of its
compiled writer (``avro_writer``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from types import UnionType
from typing import Any, Literal, TypeVar, Union, cast, get_args, get_origin

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from pydantic import BaseModel, ValidationError

from forewarn.schemas.avro_reader import Reader, compile_reader
from forewarn.schemas.avro_writer import Writer, compile_writer
from forewarn.schemas.models import MODELS, Record, UtcDatetime

_UTC_METADATA = list(get_args(UtcDatetime)[1:])

__all__ = [
    "DecodeError",
    "ErrorType",
    "avro_schema_json",
    "decode",
    "decode_any",
    "decode_one_of",
    "encode",
    "parsed_schema",
    "schema_id",
]

T = TypeVar("T", bound=Record)
ErrorType = Literal["undecodable", "wrong_type", "invalid"]

MAGIC = 0
_HEADER_SIZE = 5
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})


class DecodeError(ValueError):
    """Bad input, classified the way ``DeadLetter.error_type`` records it.

    The pipeline dead-letters rather than crashes, so the reason has to carry enough (the ids
    and names involved) for someone to act on the dead letter without the original process.
    """

    def __init__(self, reason: str, error_type: ErrorType) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type: ErrorType = error_type

    def __reduce__(self) -> tuple[type[DecodeError], tuple[str, ErrorType]]:
        return DecodeError, (self.reason, self.error_type)


@dataclass(frozen=True, slots=True)
class _Entry:
    """Everything per schema that would otherwise be recomputed on each record."""

    schema_id: int
    name: str
    model: type[Record]
    parsed: dict[str, Any]
    header: bytes
    #: Nested models are not mappings fastavro can read, so only those records need a dump.
    needs_dump: bool
    #: For an old version (``history`` in registry.json): today's schema, which the body is
    #: resolved into (fields added since take their defaults). None for the current version.
    reader: dict[str, Any] | None = None
    #: The compiled writer of a current version (``avro_writer``); None: fastavro writes it.
    writer: Writer | None = None
    #: The compiled reader of a current version (``avro_reader``); None: fastavro reads it.
    read: Reader | None = None
    #: What ``read`` returns is already what validation would make of it (``_plain``), so a
    #: record it vouches for is adopted as it is.
    trusted: bool = False


@dataclass(frozen=True, slots=True)
class _Registry:
    by_id: dict[int, _Entry]
    by_model: dict[type[Record], _Entry]
    #: Full name -> its definition as written, with the namespace it was written in.
    definitions: dict[str, tuple[dict[str, Any], str]]


_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def schema_dir(package_dir: Path = _PACKAGE_DIR) -> Path:
    """The installed wheel carries the schemas as ``forewarn/_avsc``; an editable install
    (``src/forewarn`` in the repo) reads the repo's ``schemas/`` so edits apply at once."""
    candidates = (package_dir / "_avsc", package_dir.parent.parent / "schemas")
    for candidate in candidates:
        if (candidate / "registry.json").is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no Avro schemas with a registry.json in: {looked}")


@cache
def _registry() -> _Registry:
    return _load(schema_dir())


def _load(directory: Path) -> _Registry:
    listing = json.loads((directory / "registry.json").read_text(encoding="utf-8"))
    named: dict[str, Any] = {}
    definitions: dict[str, tuple[dict[str, Any], str]] = {}
    by_id: dict[int, _Entry] = {}
    by_model: dict[type[Record], _Entry] = {}
    for item in listing["schemas"]:
        where = directory / item["file"]
        raw = json.loads(where.read_text(encoding="utf-8"))
        parsed = parse_schema(raw, named)
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            raise ValueError(f"{where}: a wire schema must be a record")
        sid, name = int(item["id"]), item["name"]
        if parsed["name"] != name:
            raise ValueError(f"{where}: defines {parsed['name']}, registry.json says {name}")
        if name not in MODELS:
            raise ValueError(f"{where}: {name} has no model in forewarn.schemas.models.MODELS")
        if sid in by_id or not 0 <= sid < 2**32:
            raise ValueError(f"{directory / 'registry.json'}: id {sid} for {name} is reused or out of range")
        model = MODELS[name]
        if model in by_model:
            raise ValueError(
                f"{directory / 'registry.json'}: {name} is listed twice; an old version belongs under history"
            )
        _collect_definitions(raw, "", definitions)
        header = bytes([MAGIC]) + sid.to_bytes(4, "big")
        entry = _Entry(
            sid,
            name,
            model,
            parsed,
            header,
            _nests(model),
            writer=compile_writer(parsed, header),
            read=(read := compile_reader(parsed)),
            trusted=read is not None and _plain(model),
        )
        by_id[sid] = by_model[model] = entry
    _load_history(directory, listing.get("history", []), named, by_id, by_model)
    return _Registry(by_id, by_model, definitions)


def _load_history(
    directory: Path,
    items: list[dict[str, Any]],
    named: dict[str, Any],
    by_id: dict[int, _Entry],
    by_model: dict[type[Record], _Entry],
) -> None:
    """Old versions: read only, each resolved into today's schema of the same name.

    An old file redefines its own named types (and an old record that embeds another old one,
    such as a TargetingRequest carrying an Incident, names the old one), so old files resolve
    names among themselves first and fall back to today's types for the rest. A type can have
    several old versions (Incident ids 3 and 16), so a name means the definition the history
    (oldest first) gave it last before the file naming it; each file gets its own copy of the
    names, because fastavro resolves a named reference through that dict when it reads.
    """
    raws = [(item, json.loads((directory / item["file"]).read_text(encoding="utf-8"))) for item in items]
    redefined: dict[str, tuple[dict[str, Any], str]] = {}
    for _, raw in raws:
        _collect_definitions(raw, "", redefined)
    known = {k: v for k, v in named.items() if k not in redefined}
    for item, raw in raws:
        where = directory / item["file"]
        scope = dict(known)
        parsed = parse_schema(raw, scope)
        known = scope
        sid, name = int(item["id"]), item["name"]
        if not isinstance(parsed, dict) or parsed.get("name") != name:
            raise ValueError(f"{where}: an old version of {name} must define that record")
        current = by_model.get(MODELS[name]) if name in MODELS else None
        if current is None:
            raise ValueError(f"{where}: {name} is not a current schema in registry.json")
        if sid in by_id or not 0 <= sid < 2**32:
            raise ValueError(f"{directory / 'registry.json'}: id {sid} for {name} is reused or out of range")
        header = bytes([MAGIC]) + sid.to_bytes(4, "big")
        by_id[sid] = _Entry(sid, name, current.model, parsed, header, current.needs_dump, current.parsed)


def _nests(model: type[BaseModel]) -> bool:
    def holds_model(annotation: Any) -> bool:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return True
        return any(holds_model(arg) for arg in get_args(annotation))

    return any(holds_model(field.annotation) for field in model.model_fields.values())


#: Field types whose Avro value (as read) is exactly the validated value: no coercion, no bounds.
_PLAIN_TYPES = frozenset({str, bytes, float, bool, int, type(None)})


def _plain(model: type[BaseModel]) -> bool:
    """Whether validating what the compiled reader gives could change or refuse nothing.

    True for a flat record of strings, bytes, numbers without bounds and optional ones, and
    ``UtcDatetime`` (the reader's instants are UTC, whole milliseconds: what ``as_utc`` makes
    of them), with no validators of its own. RawSignal, read once per raw message, is one:
    validating it was a fifth of decoding it. ``tests/schemas`` holds the adopted records to
    validated ones.
    """
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.model_validators or decorators.validators:
        return False
    for field in model.model_fields.values():
        annotation = field.annotation
        if field.metadata == _UTC_METADATA and annotation is datetime:
            continue
        kinds = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
        if field.metadata or not all(kind in _PLAIN_TYPES for kind in kinds):
            return False
    return True


def _entry(model: type[Record]) -> _Entry:
    try:
        return _registry().by_model[model]
    except KeyError:
        raise TypeError(f"{model.__name__} has no schema id in schemas/registry.json") from None


# -- the wire ---------------------------------------------------------------------------


def encode(record: Record) -> bytes:
    """Bytes for Kafka: ``0x00``, the schema id, the Avro body."""
    entry = _entry(type(record))
    if entry.writer is not None:
        return entry.writer(record)
    # Validated models already hold what fastavro wants: enums are str, datetimes are aware.
    # A flat record's own __dict__ is a mapping fastavro reads without a copy.
    datum = record.model_dump() if entry.needs_dump else record.__dict__
    out = BytesIO()
    out.write(entry.header)
    schemaless_writer(out, entry.parsed, datum)
    return out.getvalue()


def decode(data: bytes, model: type[T]) -> T:
    """The record in ``data``, which must be a ``model``; anything else is a DecodeError."""
    expected = _entry(model)
    entry = _framed_entry(data)
    if entry.model is not expected.model:
        raise DecodeError(
            f"schema id {entry.schema_id} is {entry.name}, expected {expected.name} (id {expected.schema_id})",
            "wrong_type",
        )
    if entry.trusted:
        return _adopted(model, _read_body(data, entry))
    return _validate(model, _read_body(data, entry), entry)


def decode_fields(data: bytes, model: type[Record]) -> dict[str, Any]:
    """The fields of a ``model`` written with its current schema, as a plain dict, no model built.

    For paths that read millions of rows and need only some fields (the customer table); the
    body is read as ``decode`` reads it, so damaged bytes get the same verdict. Another type or
    an older version of this one is a ``wrong_type``: the caller's field names are the current ones.
    """
    entry = _framed_entry(data)
    expected = _entry(model)
    if entry is not expected:
        raise DecodeError(
            f"schema id {entry.schema_id} is {entry.name}, expected {expected.name} (id {expected.schema_id})",
            "wrong_type",
        )
    return _read_body(data, entry)


def decode_one_of(data: bytes, models: tuple[type[Record], ...]) -> Record:
    """The record in ``data``, which must be one of ``models``: for a topic carrying several
    contracts, so anything else is still a ``wrong_type`` that names what the topic takes."""
    entry = _framed_entry(data)
    if entry.model not in models:
        expected = " or ".join(f"{e.name} (id {e.schema_id})" for e in map(_entry, models))
        raise DecodeError(f"schema id {entry.schema_id} is {entry.name}, expected {expected}", "wrong_type")
    return _validate(entry.model, _read_body(data, entry), entry)


def decode_any(data: bytes) -> Record:
    """The record in ``data``, typed by its schema id: for topics and tools that mix types."""
    entry = _framed_entry(data)
    return _validate(entry.model, _read_body(data, entry), entry)


def _framed_entry(data: bytes) -> _Entry:
    if len(data) < _HEADER_SIZE:
        raise DecodeError(f"{len(data)} bytes is shorter than the {_HEADER_SIZE}-byte wire header", "undecodable")
    if data[0] != MAGIC:
        hint = " (looks like JSON, not Avro)" if data[:1] in (b"{", b"[") else ""
        raise DecodeError(f"magic byte 0x{data[0]:02x}, expected 0x00{hint}", "undecodable")
    sid = int.from_bytes(data[1:_HEADER_SIZE], "big")
    entry = _registry().by_id.get(sid)
    if entry is None:
        known = sorted(_registry().by_id)
        raise DecodeError(f"unknown schema id {sid}; known ids {known[0]}..{known[-1]}", "undecodable")
    return entry


def _read_body(data: bytes, entry: _Entry) -> dict[str, Any]:
    if entry.read is not None:
        try:
            body, end = entry.read(data, _HEADER_SIZE)
        except Exception:  # not vouched for: fastavro, below, gives the verdict
            pass
        else:
            if end == len(data):
                return body
    stream = BytesIO(data)
    stream.seek(_HEADER_SIZE)
    try:
        body = cast(dict[str, Any], schemaless_reader(stream, entry.parsed, entry.reader))
    except Exception as exc:  # any failure to parse untrusted bytes is the same verdict
        # fastavro's EOF messages name the stream object, which tells a reader nothing.
        why = "the data ends too early" if isinstance(exc, EOFError) else f"{type(exc).__name__}: {exc}"
        raise DecodeError(
            f"{entry.name} (id {entry.schema_id}) body breaks at byte {stream.tell()} of {len(data)}: {why}",
            "undecodable",
        ) from exc
    if (read := stream.tell()) != len(data):
        raise DecodeError(
            f"{entry.name} (id {entry.schema_id}) ends at byte {read} of {len(data)}: "
            "trailing bytes mean the writer used another schema",
            "undecodable",
        )
    return body


_new = object.__new__
_set = object.__setattr__


def _adopted(model: type[T], body: dict[str, Any]) -> T:
    """The record validation would build from ``body`` (every field present, all plain)."""
    record = _new(model)
    _set(record, "__dict__", body)
    _set(record, "__pydantic_fields_set__", set(body))
    _set(record, "__pydantic_extra__", None)
    _set(record, "__pydantic_private__", None)
    return record


def _validate(model: type[T], body: dict[str, Any], entry: _Entry) -> T:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e['input']!r:.80})" for e in exc.errors()
        )
        raise DecodeError(f"{entry.name} (id {entry.schema_id}) is invalid: {problems}", "invalid") from exc


# -- the schemas ------------------------------------------------------------------------


def schema_id(model: type[Record]) -> int:
    return _entry(model).schema_id


def parsed_schema(model: type[Record]) -> dict[str, Any]:
    """fastavro's parsed form; named types from other files resolve through it."""
    return _entry(model).parsed


@cache
def avro_schema_json(model: type[Record]) -> str:
    """The schema as one self-contained JSON document, for a Schema Registry.

    A registry knows nothing of our other files, so every named type this schema borrows
    (``io.forewarn.Severity``, a whole ``Incident``…) is written out at its first use and
    referred to by full name after that. Docs and defaults stay: a registry's compatibility
    checks depend on the defaults, which the Parsing Canonical Form would drop.
    """
    entry = _entry(model)
    definitions = _registry().definitions
    raw, namespace = definitions[entry.name]
    expanded = _expand(raw, namespace, "", definitions, set())
    return json.dumps(expanded, ensure_ascii=False, separators=(",", ":"))


def _fullname(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _collect_definitions(schema: Any, namespace: str, out: dict[str, tuple[dict[str, Any], str]]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _collect_definitions(branch, namespace, out)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in _NAMED:
            namespace = schema.get("namespace", namespace)
            full = _fullname(schema["name"], namespace)
            namespace = full.rpartition(".")[0]
            out[full] = (schema, namespace)
        for field in schema.get("fields", ()):
            _collect_definitions(field["type"], namespace, out)
        for key in ("items", "values"):
            if key in schema:
                _collect_definitions(schema[key], namespace, out)
        if not isinstance(kind, str):
            _collect_definitions(kind, namespace, out)


def _expand(
    schema: Any,
    namespace: str,
    enclosing: str,
    definitions: dict[str, tuple[dict[str, Any], str]],
    written: set[str],
) -> Any:
    """``schema`` (written in ``namespace``) rewritten to stand alone inside ``enclosing``."""
    if isinstance(schema, list):
        return [_expand(branch, namespace, enclosing, definitions, written) for branch in schema]
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return schema
        full = _fullname(schema, namespace)
        if full in written:
            return full
        raw, home = definitions[full]
        return _expand(raw, home, enclosing, definitions, written)
    out = dict(schema)
    kind = schema.get("type")
    if kind in _NAMED:
        namespace = _fullname(schema["name"], schema.get("namespace", namespace)).rpartition(".")[0]
        written.add(_fullname(schema["name"], namespace))
        if namespace != enclosing:
            out["namespace"] = namespace
        enclosing = namespace
    if "fields" in schema:
        out["fields"] = [
            {**f, "type": _expand(f["type"], namespace, enclosing, definitions, written)} for f in schema["fields"]
        ]
    for key in ("items", "values"):
        if key in schema:
            out[key] = _expand(schema[key], namespace, enclosing, definitions, written)
    if not isinstance(kind, str):
        out["type"] = _expand(kind, namespace, enclosing, definitions, written)
    return out
